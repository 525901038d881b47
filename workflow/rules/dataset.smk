# What the whole dataset shares: the metrics table and the report's dataset-wide figures, for
# both granularities. `snakemake --report report.html` collects every file marked report().

METRICS_FILES = expand(sample_file(table.sample_output("metrics")), sample=SAMPLES.index)


report: "../report/workflow.rst"


rule metrics_table:
    input:
        METRICS_FILES,
    output:
        f"{RESULTS}/metrics.csv",
    log:
        f"{RESULTS}/logs/metrics_table.log",
    localrule: True
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/metrics_table.py"


rule report_dataset:
    input:
        metrics=METRICS_FILES,
    output:
        quality=report(
            f"{RESULTS}/report/quality.png",
            caption="../report/quality.rst",
            category="Dataset",
            labels={"figure": "quality"},
        ),
        runtime=report(
            f"{RESULTS}/report/runtime.png",
            caption="../report/runtime.rst",
            category="Dataset",
            labels={"figure": "seconds per frame per stage"},
        ),
        samples=report(
            f"{RESULTS}/report/samples.tsv",
            caption="../report/samples.rst",
            category="Dataset",
            labels={"figure": "metrics of every sample"},
        ),
    log:
        f"{RESULTS}/logs/report_dataset.log",
    localrule: True
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/report_dataset.py"
