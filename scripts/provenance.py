"""Snakemake adapter of the `provenance` stage."""

from vanish.runner import run_stage
from vanish.stages.provenance import write_provenance

run_stage(
    snakemake,
    write_provenance,
    sample=snakemake.wildcards.sample,
    inputs=dict(snakemake.params.inputs),
    weights=dict(snakemake.params.weights),
    config=snakemake.params.config,
    output=snakemake.output[0],
    repo=snakemake.params.repo,
    threads=snakemake.threads,
)
