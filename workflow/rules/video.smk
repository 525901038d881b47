# Granularity `video`: one job per video runs every stage in one process (vanish/pipeline.py),
# with the parameters of the per-stage rules, writing the same files (declared here, so Snakemake
# tracks and reports them). For datasets of thousands of clips: 1 job a video instead of 8-10
# plans in seconds and starts Python and torch once per video. A failed video restarts at its
# first stage. One rule serves every sample: a prompt sample's job also writes its
# detections.parquet and selection.json, undeclared, because a rule's outputs cannot depend on
# the sample, and telling the two kinds apart by a wildcard constraint listing every sample makes
# Snakemake's planning quadratic in the number of samples.

VIDEO_STAGE_OUTPUTS = {
    "frames": "frames",
    "masks": "masks",
    "flows": "flows",
    "completed_flows": "completed_flows",
    "propagated": "propagated",
    "inpainted": "inpainted",
}
VIDEO_FILE_OUTPUTS = {
    "video": "removed.mp4",
    "metrics": "metrics.json",
    "provenance": "provenance.json",
}
VIDEO_PROMPT_FILES = {"detections": "detections.parquet", "selection": "selection.json"}


def video_outputs():
    """Every file and folder one video's job declares, named as run_video expects them."""
    return {
        **{
            key: directory(f"{RESULTS}/{{sample}}/{name}")
            for key, name in VIDEO_STAGE_OUTPUTS.items()
        },
        **{key: f"{RESULTS}/{{sample}}/{name}" for key, name in VIDEO_FILE_OUTPUTS.items()},
        **sample_report_outputs(),
    }


def video_inputs(wildcards):
    """The sample's video, mask folder, ground truth and the weight files its stages load."""
    row = sample_row(wildcards)
    inputs = {"video": row["video"], **used_weights(wildcards)}
    if wildcards.sample not in PROMPT_SAMPLE_SET:
        inputs["masks"] = row["masks"]
    if row["ground_truth"]:
        inputs["ground_truth"] = row["ground_truth"]
    return inputs


def video_job_inputs(wildcards):
    """What run_video reads besides its outputs: paths, prompt, weights, provenance."""
    row = sample_row(wildcards)
    prompt_files = {
        key: f"{RESULTS}/{wildcards.sample}/{name}" for key, name in VIDEO_PROMPT_FILES.items()
    }
    return {
        "prompt_files": prompt_files if wildcards.sample in PROMPT_SAMPLE_SET else {},
        "video": row["video"],
        "masks": row["masks"],
        "prompt": row["prompt"],
        "ground_truth": row["ground_truth"],
        "weights": used_weights(wildcards),
        "provenance": {
            "inputs": {key: row[key] for key in ("video", "masks", "ground_truth")},
            "weights": used_weights(wildcards),
            "config": result_config(),
            "repo": workflow.basedir,
        },
    }


def needs_gpu(wildcards):
    """1 where a stage of the video runs a model (propainter backend, prompt path), else 0."""
    return int(BACKEND == "propainter" or wildcards.sample in PROMPT_SAMPLE_SET)


def video_mem_mb(wildcards, attempt):
    """The widest stage's memory (as the per-stage rules ask in profiles/default), more on retry:
    the transformer 24 GB, the prompt models 16 GB, the classical fill 8 GB."""
    if BACKEND == "propainter":
        return 24000 * attempt
    return (16000 if wildcards.sample in PROMPT_SAMPLE_SET else 8000) * attempt


rule video:
    input:
        unpack(video_inputs),
    output:
        **video_outputs(),
    log:
        stage_log("video"),
    conda:
        "../../envs/video.yaml"
    threads: config["threads"]
    resources:
        gpu=needs_gpu,
        mem_mb=video_mem_mb,
    params:
        backend=BACKEND,
        job=video_job_inputs,
        stages=STAGE_PARAMS,
        benchmarks=f"{RESULTS}/benchmarks/{{sample}}",
    script:
        "../../scripts/video.py"
