# The inpainted frames as H.264 at the input's fps, audio copied.


rule encode:
    input:
        inpainted=f"{RESULTS}/{{sample}}/inpainted",
        frames=f"{RESULTS}/{{sample}}/frames",
    output:
        f"{RESULTS}/{{sample}}/removed.mp4",
    log:
        stage_log("encode"),
    benchmark:
        stage_benchmark("encode")
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["encode"],
    script:
        "../../scripts/encode.py"
