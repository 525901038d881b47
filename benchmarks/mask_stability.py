"""Mask stability's cost in the metrics stage: 30 frames of a real clip at 432x240 and 1280x720.

Usage: python benchmarks/mask_stability.py [--frames 30] [--repeat 3] [--threads 2]

Builds Big Buck Bunny (frames 60-89, the demo's synthetic moving ellipse mask) at both sizes,
runs the frames and masks stages, then times `vanish.stability.stability_of_files` on the
stages' `proc/` frames and masks — exactly what `compute_metrics` adds — with the metrics job's
threads, and for scale the whole metrics stage with the clip as its own ground truth (the input
frames standing in for the result; SSIM, Telea baseline and stability). Prints each run, the
median and the load average (docs/benchmarks.md, Mask stability).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import build_clip, machine, options, today

from vanish import io
from vanish.stability import stability_of_files
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import compute_metrics


def prepared(work: Path, width: int | None, frames: int) -> tuple[Path, Path, Path]:
    """The clip at `width` (None: native 1280x720) and its frames and masks stage folders."""
    spec = {"source": "bigbuckbunny.mp4", "start": 60, "frames": frames, "width": width, "seed": 0}
    clip = build_clip(f"bbb{width or 1280}", spec, work)
    frames_dir = extract_frames("b", clip / "video.mp4", work / f"f{width}", **options("frames"))
    masks_dir = masks_from_files(
        "b", clip / "masks", frames_dir, work / f"m{width}", **options("masks_from_files")
    )
    return clip, frames_dir, masks_dir


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of `call` over `repeat` runs, each printed with the load average."""
    seconds = []
    for _ in range(repeat):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
        print(f"  {seconds[-1]:.3f} s (load {load:.2f})")
    return statistics.median(seconds)


def measure(work: Path, width: int | None, frames: int, threads: int, repeat: int) -> None:
    """Print the stability's and the whole metrics stage's median seconds for one clip size."""
    clip, frames_dir, masks_dir = prepared(work, width, frames)
    frame_paths = io.list_images(io.processing_frames_dir(frames_dir))
    mask_paths = io.list_images(io.processing_masks_dir(masks_dir))
    result = stability_of_files(frame_paths, mask_paths, threads)
    size = io.read_rgb(frame_paths[0]).shape
    label = f"{size[1]}x{size[0]}, {len(frame_paths)} frames, {threads} threads"
    added = median_seconds(lambda: stability_of_files(frame_paths, mask_paths, threads), repeat)
    print(f"{label}: stability median {added:.3f} s ({result['mask_stability']:.4f})")
    stage = median_seconds(
        lambda: compute_metrics(
            "b",
            io.original_frames_dir(frames_dir),
            frames_dir,
            masks_dir,
            work / "m.json",
            str(clip / "video.mp4"),
            [],
            selection="",
            threads=threads,
            **options("metrics"),
        ),
        repeat,
    )
    print(f"{label}: whole metrics stage with ground truth, median {stage:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"{today()}, {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for width in (432, None):
            measure(Path(tmp), width, args.frames, args.threads, args.repeat)


if __name__ == "__main__":
    main()
