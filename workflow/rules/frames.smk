# Decode each video (or frame folder) into lossless numbered PNGs.


rule frames:
    input:
        video=lambda wc: sample_row(wc)["video"],
    output:
        directory(f"{RESULTS}/{{sample}}/frames"),
    params:
        max_side=config.get("max_side"),
        folder_fps=config["frame_folder_fps"],
    threads: 1
    log:
        stage_log("frames"),
    benchmark:
        stage_benchmark("frames")
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/frames.py"
