"""Snakemake adapter: the report's dataset-wide figures and per-sample table."""

import sys

from vanish.report import dataset_report

# errors (tracebacks) go to the rule's log
sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115
dataset_report(
    metric_files=list(snakemake.input.metrics),
    quality_png=snakemake.output.quality,
    runtime_png=snakemake.output.runtime,
    samples_tsv=snakemake.output.samples,
)
