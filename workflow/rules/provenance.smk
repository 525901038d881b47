# What produced each sample's result: config, input and weight hashes, versions, commit.


rule provenance:
    input:
        inpainted=f"{RESULTS}/{{sample}}/inpainted",
    output:
        f"{RESULTS}/{{sample}}/provenance.json",
    log:
        stage_log("provenance"),
    conda:
        "../../envs/core.yaml"
    params:
        inputs=lambda wc: {k: sample_row(wc)[k] for k in ("video", "masks", "ground_truth")},
        weights=used_weights,
        config=lambda wc: result_config(),
        repo=workflow.basedir,
    script:
        "../../scripts/provenance.py"
