# Granularity `video`: one job per video runs every stage of the stage table in one process
# (vanish/pipeline.py run_video), with the arguments of the per-stage rules, writing the same
# files (declared here, so Snakemake tracks and reports them). For datasets of thousands of
# clips: 1 job a video instead of 8-10 plans in seconds and starts Python and torch once per
# video. A failed video restarts at its first stage. One rule serves every sample: a prompt
# sample's job also writes its detections and selection, undeclared, because a rule's outputs
# cannot depend on the sample, and telling the two kinds apart by a wildcard constraint listing
# every sample makes Snakemake's planning quadratic in the number of samples.
# Its inputs, parameters and resources come from the helpers at the end of common.smk.


rule video:
    input:
        unpack(video_inputs),
    output:
        **{name: declared(name, output) for name, output in table.shared_outputs(BACKEND).items()},
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
