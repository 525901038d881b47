# Granularity `video`: one job per video runs every stage of the stage table in one process
# (vanish/pipeline.py run_video), with the arguments of the per-stage rules, writing the same
# files (declared here, so Snakemake tracks and reports them). For datasets of thousands of
# clips: 1 job a video instead of 8-10 plans in seconds and starts Python and torch once per
# video. A failed video restarts at its first stage. One rule serves every sample: a prompt
# sample's job also writes its detections and selection, undeclared, because a rule's outputs
# cannot depend on the sample, and telling the two kinds apart by a wildcard constraint listing
# every sample makes Snakemake's planning quadratic in the number of samples.


def video_inputs(wildcards):
    """The sample's own files and the checkpoints its stages load."""
    sample = bound_sample(wildcards.sample)
    files = {key: sample.row[key] for key in plan.INPUT_COLUMNS if sample.row[key]}
    return {**files, **plan.used_weights(config, sample)}


def video_calls(wildcards):
    """Every stage's function and arguments for this video, in table order."""
    return plan.video_calls(config, bound_sample(wildcards.sample))


def video_stages(wildcards):
    """The stages this video runs."""
    return table.stages_for(BACKEND, bound_sample(wildcards.sample).masks)


def video_gpu(wildcards):
    """1 where a stage of the video runs a model on a GPU (propainter backend, prompt path)."""
    return int(any(stage.gpu for stage in video_stages(wildcards)))


def video_mem_mb(wildcards, attempt):
    """The widest stage's memory, more on each retry."""
    return max(stage.mem_mb for stage in video_stages(wildcards)) * attempt


rule video:
    input:
        unpack(video_inputs),
    output:
        **{name: declared(output) for name, output in table.shared_outputs(BACKEND).items()},
    log:
        stage_log("video"),
    conda:
        "../../envs/video.yaml"
    threads: config["threads"]
    resources:
        gpu=video_gpu,
        mem_mb=video_mem_mb,
    params:
        calls=video_calls,
        benchmarks=f"{RESULTS}/benchmarks/{{sample}}",
    script:
        "../../scripts/video.py"
