"""Snakemake adapter of granularity `video`: every stage of one video in one job."""

from vanish.pipeline import run_video, undeclared_discards
from vanish.runner import run_stage

config = snakemake.config
run_stage(
    snakemake,
    run_video,
    calls=snakemake.params.calls,
    benchmark_dir=snakemake.params.benchmarks,
    threads=snakemake.threads,
    seed=config["seed"],
    # from the config, not a param: changing `keep` must not rerun finished videos
    discard=undeclared_discards(snakemake.params.calls, config["backend"], config["keep"]),
)
