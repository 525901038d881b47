"""Snakemake adapter of granularity `video`: every stage of one video in one job."""

from vanish.pipeline import run_video
from vanish.runner import run_stage

run_stage(
    snakemake,
    run_video,
    calls=snakemake.params.calls,
    benchmark_dir=snakemake.params.benchmarks,
    threads=snakemake.threads,
    seed=snakemake.config["seed"],
)
