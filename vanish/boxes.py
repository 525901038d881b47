"""Boxes of tracked objects: per-frame lookup, interpolation over lost frames, crops.

Boxes are `(x1, y1, x2, y2)` float pixels of the input frame (x right, y down), as in
`detections.parquet`. A track's boxes over a clip are a `(T, 4)` array with NaN rows for frames
where the object has no box.
"""

from __future__ import annotations

import numpy as np


def track_series(frames: np.ndarray, boxes: np.ndarray, frame_count: int) -> np.ndarray:
    """`(frame_count, 4)` array of one track's boxes, NaN where the tracker gave none.

    Duplicate frames (should not happen with a tracker) keep the last box.
    """
    series = np.full((frame_count, 4), np.nan, np.float64)
    frames = np.asarray(frames, np.int64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    inside = (frames >= 0) & (frames < frame_count)
    series[frames[inside]] = boxes[inside]
    return series


def interpolate_series(
    series: np.ndarray, max_gap: int | None = None, extend: int = 0
) -> np.ndarray:
    """Fill the frames where a track was lost by linear interpolation of its box corners.

    A gap between two known frames is filled when it has at most `max_gap` missing frames
    (None: any length). Before the first and after the last known frame the nearest box is held
    for `extend` frames (the tracker often confirms an object a few frames late). Frames outside
    stay NaN. The input is not modified.
    """
    series = np.array(series, np.float64, copy=True)
    known = np.flatnonzero(~np.isnan(series).any(axis=1))
    if known.size == 0:
        return series
    for left, right in zip(known[:-1], known[1:], strict=True):
        missing = right - left - 1
        if missing == 0 or (max_gap is not None and missing > max_gap):
            continue
        weights = (np.arange(left + 1, right) - left) / (right - left)
        series[left + 1 : right] = (1 - weights)[:, None] * series[left] + weights[
            :, None
        ] * series[right]
    if extend > 0:
        first, last = known[0], known[-1]
        series[max(0, first - extend) : first] = series[first]
        series[last + 1 : last + 1 + extend] = series[last]
    return series


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Box clamped to the image; may become empty (x2 <= x1) if it lies outside."""
    box = np.asarray(box, np.float64).copy()
    box[[0, 2]] = np.clip(box[[0, 2]], 0, width)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, height)
    return box


def box_area(box: np.ndarray) -> float:
    """Area of one box (0 for an empty or inverted box)."""
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def context_box(box: np.ndarray, margin: float, square: bool = True) -> np.ndarray:
    """The box grown by `margin` × its size on every side, then (optionally) made square.

    The result may extend beyond the image: crops pad outside pixels so the object keeps its
    aspect ratio and position in the crop.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    x1, x2 = x1 - margin * w, x2 + margin * w
    y1, y2 = y1 - margin * h, y2 + margin * h
    if square:
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        x1, x2, y1, y2 = cx - side / 2, cx + side / 2, cy - side / 2, cy + side / 2
    return np.array([x1, y1, x2, y2], np.float64)


def crop(image: np.ndarray, box: np.ndarray, fill: int = 0) -> np.ndarray:
    """Pixels of `box` (rounded outwards), padding the part outside the image with `fill`."""
    height, width = image.shape[:2]
    x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
    x2, y2 = max(int(np.ceil(box[2])), x1 + 1), max(int(np.ceil(box[3])), y1 + 1)
    out = np.full((y2 - y1, x2 - x1, *image.shape[2:]), fill, image.dtype)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


def box_of_mask(mask: np.ndarray) -> np.ndarray | None:
    """Tight `(x1, y1, x2, y2)` box of a bool mask (exclusive max), None if empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes."""
    inter = box_area(np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]))
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0
