"""Snakemake adapter of the ProPainter backend's `flows` stage (RAFT)."""

from vanish.runner import run_stage
from vanish.stages.flows import raft_flows

run_stage(
    snakemake,
    raft_flows,
    frames_dir=snakemake.input.frames,
    out_dir=snakemake.output[0],
    weights_path=snakemake.input.weights,
    **dict(snakemake.params.items()),
)
