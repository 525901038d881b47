"""Snakemake adapter of the `propagate` stage."""

from vanish.runner import run_stage
from vanish.stages.propagate import propagate

run_stage(
    snakemake,
    propagate,
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    flows_dir=snakemake.input.flows,
    out_dir=snakemake.output[0],
    **dict(snakemake.params.items()),
)
