"""Snakemake adapter of the `select` stage (prompt path)."""

from vanish.runner import run_stage
from vanish.stages.select import select_objects

run_stage(
    snakemake,
    select_objects,
    sample=snakemake.wildcards.sample,
    frames_dir=snakemake.input.frames,
    detections=snakemake.input.detections,
    out_path=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
