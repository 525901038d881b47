"""Snakemake adapter: aggregate per-sample metrics into one CSV."""

from vanish.runner import run_stage
from vanish.stages.metrics import aggregate_metrics

run_stage(
    snakemake, aggregate_metrics, metric_files=list(snakemake.input), output=snakemake.output[0]
)
