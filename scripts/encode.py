"""Snakemake adapter of the `encode` stage."""

from vanish.runner import run_stage
from vanish.stages.encode import encode

run_stage(
    snakemake,
    encode,
    inpainted_dir=snakemake.input.inpainted,
    frames_dir=snakemake.input.frames,
    output=snakemake.output[0],
    **dict(snakemake.params.items()),
)
