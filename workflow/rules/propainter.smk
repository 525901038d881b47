# The learned backend (ProPainter): RAFT flows, recurrent flow completion, transformer fill.
# Same outputs as the classical rules; needs weights.smk (checkpoints) included before it.


rule flows_raft:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        weights=weight_file("raft"),
    output:
        directory(f"{RESULTS}/{{sample}}/flows"),
    log:
        stage_log("flows"),
    benchmark:
        stage_benchmark("flows")
    conda:
        "../../envs/propainter.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["flows_raft"],
    script:
        "../../scripts/flows_raft.py"


rule complete_rfc:
    input:
        flows=f"{RESULTS}/{{sample}}/flows",
        masks=f"{RESULTS}/{{sample}}/masks",
        weights=weight_file("flow_completion"),
    output:
        directory(f"{RESULTS}/{{sample}}/completed_flows"),
    log:
        stage_log("complete"),
    benchmark:
        stage_benchmark("complete")
    conda:
        "../../envs/propainter.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["complete_rfc"],
    script:
        "../../scripts/complete_rfc.py"


rule transformer:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        flows=f"{RESULTS}/{{sample}}/completed_flows",
        propagated=f"{RESULTS}/{{sample}}/propagated",
        weights=weight_file("propainter"),
    output:
        directory(f"{RESULTS}/{{sample}}/inpainted"),
    log:
        stage_log("fill"),
    benchmark:
        stage_benchmark("fill")
    conda:
        "../../envs/propainter.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["transformer"],
    script:
        "../../scripts/transformer.py"
