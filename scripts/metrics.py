"""Snakemake adapter of the `metrics` stage."""

from vanish.runner import run_stage
from vanish.stages.metrics import compute_metrics

run_stage(
    snakemake,
    compute_metrics,
    sample=snakemake.wildcards.sample,
    inpainted_dir=snakemake.input.inpainted,
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    output=snakemake.output[0],
    ground_truth=snakemake.input.ground_truth[0] if snakemake.input.ground_truth else "",
    benchmark_files=list(snakemake.input.benchmarks),
    **dict(snakemake.params.items()),
    selection=snakemake.input.selection[0] if snakemake.input.selection else "",
)
