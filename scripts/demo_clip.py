"""Snakemake adapter: build one demo clip (video + synthetic masks)."""

from vanish.demo import build_demo_clip
from vanish.runner import run_stage

clip = snakemake.params.clip
run_stage(
    snakemake,
    build_demo_clip,
    source_name=clip["source"],
    out_dir=snakemake.output.video.rsplit("/", 1)[0],
    start=clip["start"],
    frames=clip["frames"],
    width=clip.get("width"),
    seed=clip["seed"],
)
