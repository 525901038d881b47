"""Snakemake adapter of the `select` stage (prompt path)."""

from vanish.runner import run_stage
from vanish.stages.select import select_objects

params = snakemake.params
run_stage(
    snakemake,
    select_objects,
    sample=snakemake.wildcards.sample,
    frames_dir=snakemake.input.frames,
    detections=snakemake.input.detections,
    out_path=snakemake.output[0],
    prompt=params.prompt,
    weights=params.weights,
    device=params.device,
    clip=params.clip,
    select_options=params.select,
)
