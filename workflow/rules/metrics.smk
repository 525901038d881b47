# Quality against ground truth, coverage and runtime per sample; one CSV for the dataset.

METRIC_STAGES = ["frames", "masks", "flows", "complete", "propagate", "fill", "encode"]


rule metrics:
    input:
        inpainted=f"{RESULTS}/{{sample}}/inpainted",
        frames=f"{RESULTS}/{{sample}}/frames",
        masks=f"{RESULTS}/{{sample}}/masks",
        video=f"{RESULTS}/{{sample}}/removed.mp4",
        ground_truth=ground_truth,
        selection=prompt_selection,
        benchmarks=[stage_benchmark(stage) for stage in METRIC_STAGES],
    output:
        f"{RESULTS}/{{sample}}/metrics.json",
    log:
        stage_log("metrics"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        ssim_window=config["metrics"]["ssim_window"],
        baseline=config["metrics"]["telea_baseline"],
    script:
        "../../scripts/metrics.py"


rule metrics_table:
    input:
        expand(f"{RESULTS}/{{sample}}/metrics.json", sample=SAMPLES.index),
    output:
        f"{RESULTS}/metrics.csv",
    log:
        f"{RESULTS}/logs/metrics_table.log",
    localrule: True
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/metrics_table.py"
