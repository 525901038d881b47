# The weight-free backend: DIS flow, harmonic flow completion, keyframe fill.


rule flows_classical:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
    output:
        directory(f"{RESULTS}/{{sample}}/flows"),
    log:
        stage_log("flows"),
    benchmark:
        stage_benchmark("flows")
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["flows_classical"],
    script:
        "../../scripts/flows_classical.py"


rule complete_classical:
    input:
        flows=f"{RESULTS}/{{sample}}/flows",
        masks=f"{RESULTS}/{{sample}}/masks",
    output:
        directory(f"{RESULTS}/{{sample}}/completed_flows"),
    log:
        stage_log("complete"),
    benchmark:
        stage_benchmark("complete")
    conda:
        "../../envs/core.yaml"
    threads: 1
    script:
        "../../scripts/complete_classical.py"


rule fill_classical:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        flows=f"{RESULTS}/{{sample}}/completed_flows",
        propagated=f"{RESULTS}/{{sample}}/propagated",
    output:
        directory(f"{RESULTS}/{{sample}}/inpainted"),
    log:
        stage_log("fill"),
    benchmark:
        stage_benchmark("fill")
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["fill_classical"],
    script:
        "../../scripts/fill_classical.py"
