"""Snakemake adapter of the `detect` stage (prompt path)."""

from vanish.runner import run_stage
from vanish.stages.detect import detect_objects

run_stage(
    snakemake,
    detect_objects,
    sample=snakemake.wildcards.sample,
    frames_dir=snakemake.input.frames,
    out_path=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
