# The report's figures and table of one sample: a before/mask/after GIF, a still strip and its
# metrics (the dataset-wide figures are in dataset.smk).


rule report_sample:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        inpainted=f"{RESULTS}/{{sample}}/inpainted",
        metrics=f"{RESULTS}/{{sample}}/metrics.json",
    output:
        **sample_report_outputs(),
    log:
        stage_log("report"),
    conda:
        "../../envs/core.yaml"
    params:
        **STAGE_PARAMS["report_sample"],
    script:
        "../../scripts/report_sample.py"
