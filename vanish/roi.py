"""Region of interest: the part of each shot that the fill stages process (config `roi`).

Objects to remove usually cover a small part of a 720p-4K frame, yet flow, propagation and the
fill cost grows with the frame's area, and a whole frame capped by `max_side` is filled coarsely
and upscaled. With `roi`, each shot is processed inside one box: the union of its holes' bounding
boxes, grown by a context margin (flow and the transformer's reference frames need known pixels
around the hole), rounded up to multiples of 8 (the models' strides) and to at least 128 px a
side (RAFT's smallest input), clamped to the frame. Every shot's box has the same size (the
largest any shot needs, placed around that shot's own holes), so the later stages see frames of
one size, as without `roi`. When the box covers more than `max_fraction` of the frame, the clip is
processed whole (cropping would save little and loses context). docs/benchmarks.md (Region of
interest) measures the trade-off.

Pure logic: boxes are (x0, y0, x1, y1) in input pixels, end exclusive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

Box = tuple[int, int, int, int]
MULTIPLE = 8  # every processing side is a multiple of 8 (the frames stage's rule)
MIN_SIDE = 128  # RAFT's smallest side (vanish.models.raft.MIN_SIZE); DIS needs only 32


def mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box of a bool mask's pixels (None when the mask is empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def union(boxes: Iterable[Box | None]) -> Box | None:
    """The smallest box holding every given box (None entries, empty masks, are skipped)."""
    present = [box for box in boxes if box is not None]
    if not present:
        return None
    return (
        min(b[0] for b in present),
        min(b[1] for b in present),
        max(b[2] for b in present),
        max(b[3] for b in present),
    )


def rounded_side(length: int, limit: int, min_side: int = MIN_SIDE) -> int:
    """A region side holding `length` pixels: at least `min_side`, a multiple of `MULTIPLE`, and
    at most the frame's side `limit` (the whole side, whatever it is, when it does not fit)."""
    side = math.ceil(max(length, min_side) / MULTIPLE) * MULTIPLE
    return min(side, limit)


def place(low: int, high: int, side: int, limit: int) -> tuple[int, int]:
    """An interval of `side` pixels centred on [low, high), shifted to lie inside [0, limit)."""
    start = (low + high - side) // 2
    start = max(0, min(start, limit - side))
    return start, start + side


def shot_size(box: Box, frame: tuple[int, int], margin: int, min_side: int = MIN_SIDE) -> tuple:
    """(width, height) of the region a shot with holes in `box` needs in a frame (width,
    height): the box grown by `margin` on every side, then rounded (`rounded_side`)."""
    width, height = frame
    return (
        rounded_side(box[2] - box[0] + 2 * margin, width, min_side),
        rounded_side(box[3] - box[1] + 2 * margin, height, min_side),
    )


def choose_regions(
    shot_boxes: Sequence[Box | None],
    frame: tuple[int, int],
    margin: int,
    max_fraction: float,
    min_side: int = MIN_SIDE,
) -> list[Box] | None:
    """One region per shot, all of one size, or None: process whole frames.

    `shot_boxes`: the union of each shot's hole boxes (None for a shot without holes);
    `frame`: (width, height) in input pixels. None when no shot has a hole or when the region
    would cover more than `max_fraction` of the frame. A shot without holes gets the region at
    the frame's top-left corner (nothing of it is changed).
    """
    sizes = [shot_size(box, frame, margin, min_side) for box in shot_boxes if box is not None]
    if not sizes:
        return None
    side_x, side_y = max(s[0] for s in sizes), max(s[1] for s in sizes)
    if side_x * side_y > max_fraction * frame[0] * frame[1]:
        return None
    regions = []
    for box in shot_boxes:
        box = box if box is not None else (0, 0, 0, 0)
        x0, x1 = place(box[0], box[2], side_x, frame[0])
        y0, y1 = place(box[1], box[3], side_y, frame[1])
        regions.append((x0, y0, x1, y1))
    return regions


def capped_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) a region is processed at: scaled so its longer side is at most
    `max_side` (config `max_side` applies to the region, not the frame), floored to ×8."""
    scale = 1.0
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
    return int(width * scale) // MULTIPLE * MULTIPLE, int(height * scale) // MULTIPLE * MULTIPLE


def shot_of(frame: int, starts: Sequence[int]) -> int:
    """Index of the shot holding `frame`, given every shot's first frame in order."""
    return int(np.searchsorted(np.asarray(starts), frame, side="right")) - 1
