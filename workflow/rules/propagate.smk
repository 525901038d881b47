# Training-free image propagation, shared by both backends.


rule propagate:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        flows=f"{RESULTS}/{{sample}}/completed_flows",
    output:
        directory(f"{RESULTS}/{{sample}}/propagated"),
    log:
        stage_log("propagate"),
    benchmark:
        stage_benchmark("propagate")
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["propagate"],
    script:
        "../../scripts/propagate.py"
