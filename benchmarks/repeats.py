"""Repeated frames: what reusing them saves, and what a tolerance γ > 0 costs in quality.

Usage: python benchmarks/repeats.py [--frames 20] [--propainter-frames 8] [--repeat 2]

1. Speed: the stages of one sample (frames → encode, in one process as a `granularity: video` job
   runs them) on N distinct frames of a real clip (Big Buck Bunny, 432x240, a moving mask), on the
   same N frames each shown twice (2N frames, half of them repeats) and on 2N distinct frames
   (what the doubled clip would cost without reuse). Target: doubled ≤ 1.3 × N distinct. Both
   backends; ProPainter with its rule weights (random, the real architecture) on the CPU at
   `max_side: 240`.
2. γ > 0: one real frame held static for 30 frames with Gaussian sensor noise (σ = 1.5) and a
   static mask, classical backend: frames computed and reused, and the hole-PSNR against the
   noisy frames, for γ = 0 (exact, nothing reused), 0.5, 1, 2, 4.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import build_clip, demo_clips, machine, today

from vanish import io, plan
from vanish.config import default_config
from vanish.media import decode_frames, probe_video
from vanish.pipeline import run_video
from vanish.stages.metrics import compute_metrics
from vanish.table import BY_NAME, stage_options


def write_inputs(folder: Path, frames: np.ndarray, masks: np.ndarray) -> dict[str, Path]:
    """Frames and masks as PNG folders (lossless, so repeats stay exact)."""
    io.write_frame_folder(folder / "video", frames)
    io.write_mask_folder(folder / "masks", masks)
    return {"video": folder / "video", "masks": folder / "masks"}


def run_sample(root: Path, inputs: dict[str, Path], settings: dict[str, Any]) -> float:
    """Wall seconds of every timed stage of one sample, in this process."""
    config = {**default_config(), **settings, "results": str(root / "results")}
    row = {"sample": "s", "video": str(inputs["video"]), "masks": str(inputs["masks"])}
    row.update(prompt="", ground_truth="")
    sample = plan.Sample("s", row, config["results"], config["backend"])
    calls = [call for call in plan.video_calls(config, sample) if call["timed"]]
    start = time.perf_counter()
    run_video(calls, root / "benchmarks", threads=1, seed=0)
    return time.perf_counter() - start


def clip_arrays(tmp: Path) -> tuple[np.ndarray, np.ndarray]:
    """The bbb demo clip's frames and masks."""
    clip = build_clip("bbb", demo_clips()["bbb"], tmp / "clips")
    video = clip / "video.mp4"
    frames = np.stack(list(decode_frames(video, probe_video(video))))
    return frames, io.read_masks(clip / "masks")


def propainter_settings(tmp: Path) -> dict[str, Any]:
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    files = write_rule_checkpoints(tmp / "weights", seed=0)
    return {
        "backend": "propainter",
        "max_side": 240,
        "weights": {name: {"path": str(p), "sha256": sha} for name, (p, sha) in files.items()},
        "propainter": {**default_config()["propainter"], "device": "cpu"},
    }


def speed(tmp: Path, backend: str, count: int, repeat: int) -> None:
    frames, masks = clip_arrays(tmp)
    settings = {"backend": "classical"} if backend == "classical" else propainter_settings(tmp)
    cases = {
        f"{count} distinct": (frames[:count], masks[:count]),
        f"{count} doubled ({2 * count} frames)": (
            np.repeat(frames[:count], 2, axis=0),
            np.repeat(masks[:count], 2, axis=0),
        ),
        f"{2 * count} distinct": (frames[: 2 * count], masks[: 2 * count]),
    }
    warm = tmp / f"{backend}-warm-up"  # imports and first-call costs out of the first case
    run_sample(warm, write_inputs(warm / "in", frames[:2], masks[:2]), settings)
    best: dict[str, tuple[int, int, float]] = {}  # name -> frames, computed, best wall s
    for attempt in range(repeat):
        for index, (name, (clip, holes)) in enumerate(cases.items()):
            root = tmp / f"{backend}-{attempt}-{index}"
            took = run_sample(root, write_inputs(root / "in", clip, holes), settings)
            computed = len(io.computed_indices(root / "results" / "s" / "masks"))
            print(f"  {backend} {name}: {took:.1f} s, {computed} computed  (load {load()})")
            previous = best.get(name, (0, 0, took))[2]
            best[name] = (len(clip), computed, min(previous, took))
    base = best[f"{count} distinct"][2]
    print(f"\n### {backend} (best of {repeat})\n")
    print("| clip | frames | computed | wall s | × distinct alone |\n|---|---|---|---|---|")
    for name, (total, computed, took) in best.items():
        print(f"| {name} | {total} | {computed} | {took:.1f} | {took / base:.2f} |")


def gamma(tmp: Path, count: int = 30, sigma: float = 1.5) -> None:
    frames, masks = clip_arrays(tmp)
    rng = np.random.default_rng(0)
    still = frames[0].astype(np.float32)
    noisy = [np.clip(still + rng.normal(0, sigma, still.shape), 0, 255) for _ in range(count)]
    clip = np.stack(noisy).round().astype(np.uint8)
    holes = np.repeat(masks[count // 2][None], count, axis=0)
    inputs = write_inputs(tmp / "static", clip, holes)
    print(f"\n### γ on a static shot ({count} frames, σ = {sigma}, static mask)\n")
    print("| γ | computed | reused | hole-PSNR (dB) | change (dB) | wall s |")
    print("|---|---|---|---|---|---|")
    reference = None
    for tolerance in (0.0, 0.5, 1.0, 2.0, 4.0):
        root = tmp / f"gamma-{tolerance}"
        took = run_sample(root, inputs, {"repeats": {"reuse": True, "tolerance": tolerance}})
        results = root / "results" / "s"
        compute_metrics(
            "s",
            results / "inpainted",
            results / "frames",
            results / "masks",
            root / "metrics.json",
            str(inputs["video"]),
            benchmark_files=[],
            selection="",
            **stage_options(BY_NAME["metrics"], default_config()),
        )
        m = io.read_json(root / "metrics.json")
        reference = m["hole_psnr"] if reference is None else reference
        print(
            f"| {tolerance:g} | {m['frames_computed']} | {m['frames_reused']} | "
            f"{m['hole_psnr']:.3f} | {m['hole_psnr'] - reference:+.3f} | {took:.1f} |"
        )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20, help="distinct frames, classical")
    parser.add_argument("--propainter-frames", type=int, default=8, help="distinct, propainter")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each case (best kept)")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["classical", "propainter", "gamma"]
    )
    args = parser.parse_args()
    print(f"# repeated frames — {machine()}, {today()}, load at start {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        if "classical" not in args.skip:
            speed(Path(tmp) / "c", "classical", args.frames, args.repeat)
        if "propainter" not in args.skip:
            speed(Path(tmp) / "p", "propainter", args.propainter_frames, 1)
        if "gamma" not in args.skip:
            gamma(Path(tmp) / "g")
    print(f"\nload at end {load()}")


if __name__ == "__main__":
    main()
