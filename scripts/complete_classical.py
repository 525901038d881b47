"""Snakemake adapter of the classical `complete` stage."""

from vanish.runner import run_stage
from vanish.stages.complete import classical_complete

run_stage(
    snakemake,
    classical_complete,
    flows_dir=snakemake.input.flows,
    masks_dir=snakemake.input.masks,
    out_dir=snakemake.output[0],
)
