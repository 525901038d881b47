"""Snakemake adapter of the classical `fill` stage."""

from vanish.runner import run_stage
from vanish.stages.fill import classical_fill

run_stage(
    snakemake,
    classical_fill,
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    flows_dir=snakemake.input.flows,
    propagated_dir=snakemake.input.propagated,
    out_dir=snakemake.output[0],
    **dict(snakemake.params.items()),
)
