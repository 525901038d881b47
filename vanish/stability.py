"""Mask stability: how well each mask agrees with its predecessor carried along the motion.

A mask that follows its object scores 1.0; a mask that flickers (jumps, grows and shrinks, drops
out for a frame) scores less, so users can spot masks that will make the result flicker too.

For each pair of consecutive frames (t, t+1) where either mask is non-empty, the optical flow
from frame t+1 back to frame t (OpenCV DIS, weight-free, on the *input* frames where the object
is still visible, shrunk to at most `WORK_SIDE` px) pulls mask t onto frame t+1 (backward
warping, nearest neighbour), and the score is the IoU of that warped mask with mask t+1. Pairs
where both masks are empty have no score (nothing to flicker). The flow is computed here rather
than reused from the flows stage because those flows are of masked frames (the object is gone),
exist for one backend only and may be deleted by `keep` before the metrics stage runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

WORK_SIDE = 320  # long side of the flow (cost: docs/benchmarks.md, Mask stability)
MIN_SIDE = 32  # OpenCV's DIS crashes on smaller images (vanish.config.DIS_MIN_SIDE)
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
WORST_COUNT = 5  # frames listed in `mask_stability_worst`


def work_size(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """(width, height) with the long side at most `side` and the short side at least MIN_SIDE."""
    scale = min(1.0, side / max(width, height))
    scale = max(scale, MIN_SIDE / min(width, height))
    return max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))


def shrink(frame: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """The frame in grey at the work size (area averaging), where the flow is computed."""
    size = work_size(frame.shape[1], frame.shape[0], side)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    if (grey.shape[1], grey.shape[0]) != size:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey)


def region(mask_a: np.ndarray, mask_b: np.ndarray, reach: int) -> tuple[slice, slice]:
    """Rows and columns of the two masks' bounding box grown by `reach` px (the longest flow
    vector): outside it no pixel is in mask t+1 or can fetch a pixel of mask t, so the IoU over
    the box is the IoU over the frame, at a fraction of the cost for small objects."""
    both = mask_a | mask_b
    rows, cols = np.flatnonzero(both.any(axis=1)), np.flatnonzero(both.any(axis=0))
    top, bottom = max(0, rows[0] - reach), min(both.shape[0], rows[-1] + 1 + reach)
    left, right = max(0, cols[0] - reach), min(both.shape[1], cols[-1] + 1 + reach)
    return slice(top, bottom), slice(left, right)


def sampled_flow(flow: np.ndarray, box: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """A work-size flow (h, w, 2) resampled (bilinear, as `cv2.resize`) at the pixels of `box`
    of a (H, W) frame, its vectors scaled to that frame: masks are compared at their own
    resolution (shrinking them would blur their edges into the IoU)."""
    (height, width), (small_h, small_w) = shape, flow.shape[:2]
    xs = (np.arange(box[1].start, box[1].stop, dtype=np.float32) + 0.5) * (small_w / width) - 0.5
    ys = (np.arange(box[0].start, box[0].stop, dtype=np.float32) + 0.5) * (small_h / height) - 0.5
    map_x, map_y = np.meshgrid(xs, ys)
    out = cv2.remap(flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out[..., 0] *= width / small_w
    out[..., 1] *= height / small_h
    return out


def warp_mask(
    mask: np.ndarray, backward: np.ndarray, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Mask of frame t carried to frame t+1: `backward` (h, w, 2) is the flow from frame t+1 to
    frame t (x, y) over the box of frame t+1 whose top-left pixel is `origin` (row, column), so
    pixel p of the box takes mask t's value at p + backward[p] (nearest); pixels whose source
    falls outside the frame are not masked. Returns the box's (h, w) warped mask."""
    height, width = backward.shape[:2]
    xs, ys = np.meshgrid(
        np.arange(origin[1], origin[1] + width, dtype=np.float32),
        np.arange(origin[0], origin[0] + height, dtype=np.float32),
    )
    warped = cv2.remap(
        mask.astype(np.uint8),
        xs + backward[..., 0],
        ys + backward[..., 1],
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return warped.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    """Intersection over union of two boolean masks; None when both are empty."""
    union = np.count_nonzero(a | b)
    return None if union == 0 else float(np.count_nonzero(a & b) / union)


def pair_stability(
    previous: tuple[np.ndarray | None, np.ndarray], current: tuple[np.ndarray | None, np.ndarray]
) -> float | None:
    """IoU of mask t warped to t+1 with mask t+1, from (`shrink`'s grey frame, boolean mask) of
    both frames; None when both masks are empty (no flow is computed then)."""
    (grey_a, mask_a), (grey_b, mask_b) = previous, current
    if not mask_a.any() and not mask_b.any():
        return None
    if not mask_a.any() or not mask_b.any():
        return 0.0
    flow = cv2.DISOpticalFlow_create(DIS_PRESET).calc(grey_b, grey_a, None)
    scale = max(mask_a.shape[0] / flow.shape[0], mask_a.shape[1] / flow.shape[1])
    box = region(mask_a, mask_b, int(np.ceil(np.abs(flow).max() * scale)) + 1)
    backward = sampled_flow(flow, box, mask_a.shape)
    warped = warp_mask(mask_a, backward, (box[0].start, box[1].start))
    return iou(warped, mask_b[box])


def summarize(scores: Sequence[float | None], worst: int = WORST_COUNT) -> dict:
    """metrics.json's entries from the score of every pair (frame t+1 ← frame t, None = both
    empty): the mean and minimum over scored pairs, the `worst` lowest frames, and the list."""
    scored = [(index + 1, s) for index, s in enumerate(scores) if s is not None]
    values = [s for _, s in scored]
    lowest = sorted(scored, key=lambda item: (item[1], item[0]))[:worst]
    return {
        "mask_stability": float(np.mean(values)) if values else None,
        "mask_stability_min": float(min(values)) if values else None,
        "mask_stability_worst": [{"frame": f, "iou": round(s, 6)} for f, s in lowest],
        "mask_stability_per_frame": [None if s is None else round(s, 6) for s in scores],
    }


def stability_of_arrays(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> dict:
    """`summarize` of in-memory RGB frames and boolean masks (tests, small clips)."""
    small = [(shrink(f), m.astype(bool)) for f, m in zip(frames, masks, strict=True)]
    return summarize([pair_stability(a, b) for a, b in zip(small[:-1], small[1:], strict=False)])


def _bounded(pool: ThreadPoolExecutor, jobs: Iterator, depth: int) -> Iterator:
    """Results of `(function, *args)` jobs submitted to `pool` in order, at most `depth` ahead."""
    pending: deque[Future] = deque()
    for function, *args in jobs:
        pending.append(pool.submit(function, *args))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _load(frame_path: Path, mask_path: Path) -> tuple[np.ndarray | None, np.ndarray]:
    """One frame (grey, at the work size) and its mask (boolean, as stored), read with OpenCV.
    A frame with an empty mask is not read (None): no pair with it needs a flow, and decoding
    the frame is most of the cost (docs/benchmarks.md, Mask stability)."""
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"cannot read the mask {mask_path}")
    if not mask.any():
        return None, mask > 0
    grey = cv2.imread(str(frame_path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError(f"cannot read the frame {frame_path}")
    return shrink(grey), mask > 0


def stability_of_files(
    frame_paths: Sequence[Path], mask_paths: Sequence[Path], threads: int = 1
) -> dict:
    """`summarize` of a clip's frame and mask files, read and scored on `threads` threads
    (OpenCV releases the GIL) with a few frames per thread in memory."""
    if len(frame_paths) != len(mask_paths):
        raise ValueError(f"{len(frame_paths)} frames but {len(mask_paths)} masks")
    depth = 2 * max(1, threads)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        loaded = _bounded(
            pool, ((_load, f, m) for f, m in zip(frame_paths, mask_paths, strict=True)), depth
        )

        def pairs() -> Iterator:
            previous = None
            for current in loaded:
                if previous is not None:
                    yield pair_stability, previous, current
                previous = current

        scores = list(_bounded(pool, pairs(), depth))
    return summarize(scores)
