# Decode each video (or frame folder) into lossless numbered PNGs.


rule frames:
    input:
        video=lambda wc: sample_row(wc)["video"],
    output:
        directory(f"{RESULTS}/{{sample}}/frames"),
    log:
        stage_log("frames"),
    benchmark:
        stage_benchmark("frames")
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["frames"],
    script:
        "../../scripts/frames.py"
