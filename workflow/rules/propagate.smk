# Training-free image propagation, shared by both backends.


rule propagate:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        flows=f"{RESULTS}/{{sample}}/completed_flows",
    output:
        directory(f"{RESULTS}/{{sample}}/propagated"),
    params:
        interpolation=interpolation(),
        chunk=min(100, config["propagate"]["subvideo_length"]),
        pad=config["propagate"]["pad"],
    threads: config["threads"]
    log:
        stage_log("propagate"),
    benchmark:
        stage_benchmark("propagate")
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/propagate.py"
