"""Snakemake adapter: fetch one checkpoint from its URL, verified against the pinned sha256."""

from vanish.download import download_weights
from vanish.runner import run_stage

run_stage(
    snakemake,
    download_weights,
    name=snakemake.params.name,
    url=snakemake.params.url,
    path=snakemake.output[0],
    sha256=snakemake.params.sha256,
)
