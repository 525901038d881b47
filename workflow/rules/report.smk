# Figures and tables for `snakemake --report report.html`: per sample a before/mask/after GIF,
# a still strip and its metrics; for the dataset, quality and runtime plots and a sample table.


report: "../report/workflow.rst"


rule report_sample:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        inpainted=f"{RESULTS}/{{sample}}/inpainted",
        metrics=f"{RESULTS}/{{sample}}/metrics.json",
    output:
        preview=report(
            f"{RESULTS}/{{sample}}/report/preview.gif",
            caption="../report/preview.rst",
            category="Samples",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "before / mask / after (animated)"},
        ),
        strip=report(
            f"{RESULTS}/{{sample}}/report/frames.png",
            caption="../report/strip.rst",
            category="Samples",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "before / mask / after (stills)"},
        ),
        metrics=report(
            f"{RESULTS}/{{sample}}/report/metrics.tsv",
            caption="../report/sample_metrics.rst",
            category="Samples",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": "metrics"},
        ),
    log:
        stage_log("report"),
    conda:
        "../../envs/core.yaml"
    params:
        width=200,  # pixels per panel
        gif_frames=32,  # frames of the loop, spread over the clip
    script:
        "../../scripts/report_sample.py"


rule report_dataset:
    input:
        metrics=expand(f"{RESULTS}/{{sample}}/metrics.json", sample=SAMPLES.index),
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
    params:
        benchmarks=f"{RESULTS}/benchmarks",
    script:
        "../../scripts/report_dataset.py"


# one file per job is enough to request it: rule all asks for these
REPORT_FILES = [
    *expand(f"{RESULTS}/{{sample}}/report/preview.gif", sample=SAMPLES.index),
    f"{RESULTS}/report/quality.png",
]
