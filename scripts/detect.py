"""Snakemake adapter of the `detect` stage (prompt path)."""

from vanish.runner import run_stage
from vanish.stages.detect import detect_objects

params = snakemake.params
run_stage(
    snakemake,
    detect_objects,
    sample=snakemake.wildcards.sample,
    frames_dir=snakemake.input.frames,
    out_path=snakemake.output[0],
    prompt=params.prompt,
    detector=params.detector,
    weights=params.weights,
    device=params.device,
    batch=params.batch,
    tracker=params.tracker,
    yolo=params.yolo,
    grounding_dino=params.grounding_dino,
    ultralytics_dir=params.ultralytics_dir,
)
