"""Snakemake adapter of the ProPainter backend's `complete` stage (flow completion network)."""

from vanish.runner import run_stage
from vanish.stages.complete import rfc_complete

run_stage(
    snakemake,
    rfc_complete,
    flows_dir=snakemake.input.flows,
    masks_dir=snakemake.input.masks,
    out_dir=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
