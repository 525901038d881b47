"""Shared by the benchmarks: demo clips and the classical stage chain, timed stage by stage."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import torch
import yaml

from vanish import io
from vanish.config import default_config
from vanish.demo import build_demo_clip
from vanish.table import BY_NAME, stage_options

REPO = Path(__file__).resolve().parents[1]


def options(rule: str, backend: str | None = None, **changes: Any) -> dict[str, Any]:
    """The keyword options the workflow passes the stage `rule` under the default config (every
    setting at its schema default; `backend`: the rule's own, else the schema's), with `changes`
    replacing some."""
    stage = BY_NAME[rule]
    config = default_config()
    config["backend"] = backend or stage.backend or config["backend"]
    return {**stage_options(stage, config), **changes}


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


def run_classical(
    name: str,
    clip_dir: Path,
    work: Path,
    metrics: bool = True,
    align: dict[str, Any] | None = None,
    fill: dict[str, Any] | None = None,
    propagate_changes: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The classical stage chain on one clip, at the default config; returns seconds per stage.

    `align`, `fill`, `propagate_changes`: option changes of those stages (e.g.
    `{"references": 0}` skips alignment).
    """
    from vanish.stages.align import classical_align
    from vanish.stages.complete import classical_complete
    from vanish.stages.fill import classical_fill
    from vanish.stages.flows import classical_flows
    from vanish.stages.frames import extract_frames
    from vanish.stages.masks import masks_from_files
    from vanish.stages.metrics import compute_metrics
    from vanish.stages.propagate import propagate

    times: dict[str, float] = {}
    frames, masks = work / "frames", work / "masks"
    flows, completed, prop, aligned, out = (
        work / "flows",
        work / "completed",
        work / "propagated",
        work / "aligned",
        work / "inpainted",
    )
    video, mask_input = clip_dir / "video.mp4", clip_dir / "masks"
    if not video.exists():  # a clip given as a frame folder
        video = clip_dir / "video"
    timed(times, "frames", lambda: extract_frames(name, video, frames, **options("frames")))
    timed(
        times,
        "masks",
        lambda: masks_from_files(name, mask_input, frames, masks, **options("masks_from_files")),
    )
    timed(
        times, "flows", lambda: classical_flows(frames, masks, flows, **options("flows_classical"))
    )
    timed(times, "complete", lambda: classical_complete(flows, masks, completed))
    timed(
        times,
        "propagate",
        lambda: propagate(
            frames,
            masks,
            completed,
            prop,
            keyframes="",
            sample=name,
            **options("propagate", **(propagate_changes or {})),
        ),
    )
    timed(
        times,
        "align",
        lambda: classical_align(
            frames, masks, completed, prop, aligned, **options("align_classical", **(align or {}))
        ),
    )
    timed(
        times,
        "fill",
        lambda: classical_fill(
            frames,
            masks,
            completed,
            aligned,
            out,
            keyframes="",
            **options("fill_classical", **(fill or {})),
        ),
    )
    if metrics:
        timed(
            times,
            "metrics",
            lambda: compute_metrics(
                name,
                out,
                frames,
                masks,
                work / "metrics.json",
                str(video),
                benchmark_files=[],
                selection="",
                threads=1,
                **options("metrics"),
            ),
        )
    return times


STAGE_LOG = re.compile(r"stage (\w+) done in ([\d.]+) s")  # a video job's log line per stage


def one_sample_sheet(work: Path, sample: str, clip: Path) -> Path:
    """A one-row sample sheet for `clip` (video.mp4 + masks/), the clip its own ground truth."""
    sheet = work / "samples.tsv"
    video, masks = clip / "video.mp4", clip / "masks"
    sheet.write_text(
        f"sample\tvideo\tmasks\tprompt\tground_truth\n{sample}\t{video}\t{masks}\t\t{video}\n"
    )
    return sheet


def propainter_config(work: Path, settings: dict[str, Any]) -> Path:
    """A config file (written once in `work`) pointing the propainter backend at rule checkpoints
    (`vanish.testing.rule_checkpoints`: the published layouts and compute, deterministic values),
    with the `propainter` `settings`."""
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    path = work / "propainter.yaml"
    if not path.is_file():
        files = write_rule_checkpoints(work / "weights", seed=0)
        weights = {name: {"path": str(file), "sha256": sha} for name, (file, sha) in files.items()}
        path.write_text(yaml.safe_dump({"weights": weights, "propainter": settings}))
    return path


def run_workflow(
    work: Path, cores: int, config: list[str], repo: Path = REPO, configfiles: tuple = ()
) -> float:
    """Wall seconds of `snakemake` of checkout `repo` in `work` on a fresh results folder, as a
    user runs it (`--cores`, the default config file, then `configfiles`, then `config`)."""
    shutil.rmtree(work / "results", ignore_errors=True)
    shutil.rmtree(work / ".snakemake", ignore_errors=True)
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
        "--directory", str(work), "--configfile", str(repo / "config" / "config.yaml"),
        *map(str, configfiles), "--cores", str(cores), "--config", *config,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-4000:])
    return seconds


def stage_seconds(results: Path, sample: str) -> dict[str, float]:
    """Seconds of every stage of `sample`: its timing files, and a video job's log for the
    bookkeeping stages that have none."""
    found = io.runtime_from_benchmarks(sorted((results / "benchmarks" / sample).glob("*.tsv")))
    log = results / "logs" / sample / "video.log"
    if log.is_file():
        for step, seconds in STAGE_LOG.findall(log.read_text()):
            found.setdefault(step, float(seconds))
    return found
