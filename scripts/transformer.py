"""Snakemake adapter of the ProPainter backend's `fill` stage (sliding-window generator)."""

from vanish.runner import run_stage
from vanish.stages.transformer import propainter_transformer

run_stage(
    snakemake,
    propainter_transformer,
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    flows_dir=snakemake.input.flows,
    propagated_dir=snakemake.input.propagated,
    out_dir=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
