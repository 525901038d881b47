"""Snakemake adapter of the `masks_from_prompt` stage."""

from vanish.runner import run_stage
from vanish.stages.prompt_masks import masks_from_prompt

run_stage(
    snakemake,
    masks_from_prompt,
    sample=snakemake.wildcards.sample,
    frames_dir=snakemake.input.frames,
    detections=snakemake.input.detections,
    selection=snakemake.input.selection,
    out_dir=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
