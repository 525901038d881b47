"""Snakemake adapter of the classical `flows` stage."""

from vanish.runner import run_stage
from vanish.stages.flows import classical_flows

run_stage(
    snakemake,
    classical_flows,
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    out_dir=snakemake.output[0],
    **dict(snakemake.params.items()),
)
