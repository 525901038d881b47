"""Shared by the benchmarks: demo clips and the classical stage chain, timed stage by stage."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import torch
import yaml

from vanish.demo import build_demo_clip
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import compute_metrics
from vanish.stages.propagate import propagate

REPO = Path(__file__).resolve().parents[1]


def demo_clips() -> dict[str, dict]:
    """The demo clip specs of the default config."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return config["demo"]["clips"]


def machine() -> str:
    """One line naming the machine a figure was measured on."""
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def today() -> str:
    """The measurement date."""
    return date.today().isoformat()


def timed(times: dict[str, float], name: str, call: Callable[[], object]) -> None:
    """Run `call`, adding its wall time to `times[name]`."""
    start = time.perf_counter()
    call()
    times[name] = times.get(name, 0.0) + time.perf_counter() - start


def build_clip(name: str, spec: dict, folder: Path) -> Path:
    """Build one demo clip (video.mp4 + masks/) into folder/name."""
    return build_demo_clip(
        spec["source"],
        folder / name,
        spec["start"],
        spec["frames"],
        spec.get("width"),
        spec["seed"],
    )


def run_classical(name: str, clip_dir: Path, work: Path, metrics: bool = True) -> dict[str, float]:
    """The classical stage chain on one clip; returns seconds per stage."""
    times: dict[str, float] = {}
    frames, masks = work / "frames", work / "masks"
    flows, completed, prop, out = (
        work / "flows",
        work / "completed",
        work / "propagated",
        work / "inpainted",
    )
    timed(times, "frames", lambda: extract_frames(name, clip_dir / "video.mp4", frames))
    timed(times, "masks", lambda: masks_from_files(name, clip_dir / "masks", frames, masks))
    timed(times, "flows", lambda: classical_flows(frames, masks, flows))
    timed(times, "complete", lambda: classical_complete(flows, masks, completed))
    timed(times, "propagate", lambda: propagate(frames, masks, completed, prop, "bilinear"))
    timed(times, "fill", lambda: classical_fill(frames, masks, completed, prop, out))
    if metrics:
        timed(
            times,
            "metrics",
            lambda: compute_metrics(
                name, out, frames, masks, work / "metrics.json", str(clip_dir / "video.mp4")
            ),
        )
    return times
