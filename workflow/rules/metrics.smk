# Quality against ground truth, coverage and runtime per sample; one CSV for the dataset.


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
        **STAGE_PARAMS["metrics"],
    script:
        "../../scripts/metrics.py"
