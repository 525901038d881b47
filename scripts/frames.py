"""Snakemake adapter of the `frames` stage."""

from vanish.runner import run_stage
from vanish.stages.frames import extract_frames

run_stage(
    snakemake,
    extract_frames,
    sample=snakemake.wildcards.sample,
    video=snakemake.input.video,
    out_dir=snakemake.output[0],
    **dict(snakemake.params.items()),
)
