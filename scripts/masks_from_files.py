"""Snakemake adapter of the `masks_from_files` stage."""

from vanish.runner import run_stage
from vanish.stages.masks import masks_from_files

run_stage(
    snakemake,
    masks_from_files,
    sample=snakemake.wildcards.sample,
    mask_dir=snakemake.input.masks,
    frames_dir=snakemake.input.frames,
    out_dir=snakemake.output[0],
    **dict(snakemake.params.items()),
)
