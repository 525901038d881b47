"""Mask operations shared by the file-mask and prompt paths: dilation, resizing, and writing the
mask stage folder from full-size masks; and whether a shot's holes stay put (which the
propagate and fill stages ask)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from vanish import io
from vanish.repeats import MaskRuns
from vanish.roi import Box, capped_size, choose_regions, mask_box, union

CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary dilation by the 3×3 cross, `iterations` times, outside the image = background.

    Equivalent to ProPainter's mask preparation: a pixel becomes a hole iff its L1 distance to a
    non-zero pixel is ≤ iterations.
    """
    if iterations <= 0:
        return mask.astype(bool)
    return cv2.dilate(mask.astype(np.uint8), CROSS, iterations=iterations).astype(bool)


# Consecutive holes overlapping by more than this stay put: fixed masks measured 0.95-1.0 (as
# given and after propagation), moving objects 0.78-0.92 as given and 0.54-0.79 after propagation.
STEADY_OVERLAP = 0.9


def hole_overlap(holes: np.ndarray) -> float:
    """How much a shot's holes (T, H, W) stay where they are: the intersection over union of
    consecutive holes, averaged over the shot (1 for a single frame, 0 for no hole at all)."""
    if len(holes) < 2:
        return 1.0
    inter = (holes[1:] & holes[:-1]).sum(axis=(1, 2))
    union = (holes[1:] | holes[:-1]).sum(axis=(1, 2))
    used = union > 0
    return float((inter[used] / union[used]).mean()) if used.any() else 0.0


def holes_stay_put(holes: np.ndarray) -> bool:
    """Whether a shot's holes (T, H, W) are fixed: `hole_overlap` above STEADY_OVERLAP."""
    return hole_overlap(holes) > STEADY_OVERLAP


def resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize to (width, height) with Pillow, as the reference pipeline does."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask.astype(bool)
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(image.resize(size, Image.NEAREST)) > 0


def write_masks(
    masks: Iterable[np.ndarray],
    meta: io.ClipMeta,
    out: Path,
    dilation: int,
    warnings: Iterable[str] = (),
    frame_sources: Sequence[int] | None = None,
    roi: Mapping[str, Any] | None = None,
    frames_dir: str | Path | None = None,
) -> dict:
    """Dilate full-size bool masks, write the mask stage folder and return its summary.

    The processing-size hole is the dilated resized mask; the input-size one (written when the
    clip is resized) is the dilated mask united with the processing-size hole scaled back up.
    `warnings` (read once the masks are consumed) enter the summary only when there are any, so
    the summary of a clean input keeps its bytes. `frame_sources`: the frames stage's pixel
    repeats (`io.frame_repeats`; None: no frame repeats another); a frame stays a repeat only if
    its mask equals its source's too (`repeats.json`). `roi`: config `roi` as the mask stages
    take it (`vanish.table.roi_settings`; None: off; `apply_roi`), which needs the frames
    stage's `frames_dir`; the input-size holes are then always written.
    """
    proc_size = (meta.proc_width, meta.proc_height)
    writer = io.MaskFolderWriter(out, meta.resized or roi is not None)
    coverage, boxes = [], []
    runs = MaskRuns(frame_sources)
    for index, mask in enumerate(masks):
        runs.add(mask)
        proc = dilate(resize_nearest(mask, proc_size), dilation)
        writer.write_processing(index, proc)
        full = proc
        if meta.resized:
            full = dilate(mask, dilation) | resize_nearest(proc, (meta.width, meta.height))
        if writer.full is not None:
            writer.write_full(index, full)
            boxes.append(mask_box(full))
        coverage.append(float(proc.mean()))
    if roi is not None:
        apply_roi(writer, meta, out, roi, Path(frames_dir), boxes)
    summary = {
        "sample": meta.sample,
        "dilation": dilation,
        "coverage_per_frame": coverage,
        "coverage": float(np.mean(coverage)) if coverage else 0.0,
        "empty": not any(coverage),
    }
    if list(warnings):
        summary["warnings"] = list(warnings)
    writer.close(summary)
    io.write_repeats(out, runs.sources)
    return summary


def clip_cuts(frames_dir: Path, threshold: float | None) -> list[int]:
    """The frames that start a new shot (the classical backend's rule), from the
    processing-size frames two at a time; [] when `threshold` is None (one shot)."""
    if threshold is None:
        return []
    from vanish.models.classical import shot_cuts

    paths = io.list_images(io.processing_frames_dir(frames_dir))
    cuts, previous = [], None
    for index, path in enumerate(paths):
        frame = io.read_rgb(path)
        if previous is not None and shot_cuts(np.stack([previous, frame]), threshold):
            cuts.append(index)
        previous = frame
    return cuts


def apply_roi(
    writer: io.MaskFolderWriter,
    meta: io.ClipMeta,
    out: Path,
    roi: Mapping[str, Any],
    frames_dir: Path,
    boxes: Sequence[Box | None],
) -> None:
    """Choose each shot's region of interest (`vanish.roi`) from the holes' boxes at the input's
    size and record it (`roi.json`); when one is chosen, rewrite the processing-size holes as the
    regions' holes (later stages cut the frames, `io.ComputedFrames`). Otherwise (the region
    would cover more than `max_fraction` of the frame, or there is no hole) the folder stays as
    without `roi`."""
    cuts = clip_cuts(frames_dir, roi["cut_threshold"])
    starts = [0, *cuts]
    bounds = [*starts, len(boxes)]
    shot_boxes = [union(boxes[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    frame = (meta.width, meta.height)
    regions = choose_regions(shot_boxes, frame, roi["margin"], roi["max_fraction"])
    if regions is None:  # whole frames: the folder as without roi
        if not meta.resized:
            shutil.rmtree(writer.full)
        return
    record = {"frame": list(frame), "shot_holes": [list(b) if b else None for b in shot_boxes]}
    width, height = regions[0][2] - regions[0][0], regions[0][3] - regions[0][1]
    size = capped_size(width, height, roi["max_side"])
    chosen = io.Roi(list(size), starts, [list(r) for r in regions], cuts, roi["margin"],
                    roi["max_fraction"])  # fmt: skip
    _write_holes(writer, len(boxes), size, chosen.box)
    io.write_roi(out, chosen, record)


def _write_holes(writer: io.MaskFolderWriter, count: int, size: tuple[int, int], box) -> None:
    """The processing-size holes: each frame's region (`box(index)`: rows and columns) of its
    input-size hole (`full/`); `full/` is widened by the processing hole scaled back, so
    compositing covers every pixel the fill changed."""
    for index in range(count):
        path = writer.full / io.frame_name(index)
        full = io.read_mask(path)
        region = box(index)
        crop = full[region]
        proc = resize_nearest(crop, size)
        writer.write_processing(index, proc)
        if (crop.shape[1], crop.shape[0]) != size:
            full[region] |= resize_nearest(proc, (crop.shape[1], crop.shape[0]))
            writer.write_full(index, full)
