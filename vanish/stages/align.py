"""Stage `align` (classical backend): fill, from aligned far frames, what propagation left.

Between `propagate` and `fill`. Each frame with hole pixels left borrows them from reference
frames of the same shot (never across a cut) where that area is visible, aligned by a homography
(`vanish.models.alignment`); where the camera holds still over the window (`align_scope: auto`)
every hole pixel is taken from up to `still_references` frames copied as they are, a clean
background plate instead of what the chain of flows carried. Targets are processed in windows
(`chunk_length`) with references up to `span` frames away, so memory is bounded by the window,
not the shot. Output has the propagated folder's format (`io.write_propagated`): frames, the
holes still left, and a summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.models.alignment import AlignSettings, align_window
from vanish.models.classical import shots

MIN_CHUNK = 40  # targets per window at least (memory details, not result settings)
POOL_BYTES = 512 * 2**20  # frames a window may hold in memory


def chunk_length(frame_shape: tuple[int, ...], span: int) -> int:
    """Targets per window: as many as keep the window's frames (targets and `span` on each
    side) under POOL_BYTES, at least MIN_CHUNK. Each window reads its pool and finds its
    features once, so small frames go in few windows."""
    frame_bytes = max(int(np.prod(frame_shape)), 1)
    return max(MIN_CHUNK, POOL_BYTES // frame_bytes - 2 * span)


def windows(start: int, stop: int, span: int, chunk: int) -> list[tuple[int, int, int, int]]:
    """(pool_start, pool_stop, target_start, target_stop) covering frames start…stop-1."""
    return [
        (max(start, lo - span), min(stop, lo + chunk + span), lo, min(stop, lo + chunk))
        for lo in range(start, stop, chunk)
    ]


def classical_align(
    frames_dir: str | Path,
    masks_dir: str | Path,
    flows_dir: str | Path,
    propagated_dir: str | Path,
    out_dir: str | Path,
    references: int,
    span: int,
    min_inliers: int,
    max_error: float,
    scope: str,
    still_references: int,
) -> Path:
    """Align-fill the holes left in `propagated_dir`; writes the same format into `out_dir`."""
    if scope == "auto" and io.read_propagation_summary(propagated_dir).get("keyframes"):
        scope = "left"  # the user's keyframes were carried first: nothing may replace them
    settings = AlignSettings(references, span, min_inliers, max_error, scope, still_references)
    source = io.ComputedFrames(frames_dir, masks_dir)  # regions of interest cut on reading
    hole_paths = io.computed_hole_paths(masks_dir)
    cuts = io.FlowReader(flows_dir).cuts
    width, height = io.processing_size(frames_dir, masks_dir)
    chunk = chunk_length((height, width, 3), span)
    before = after = still_windows = 0
    began = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        for shot_start, shot_stop in shots(len(source), cuts):
            for lo, hi, first, last in windows(shot_start, shot_stop, span, chunk):
                current, left = io.read_propagated(propagated_dir, first, last)
                pool_frames = source.read_range(lo, hi)
                pool_holes = io.read_mask_paths(hole_paths[lo:hi])
                done, still, static = align_window(
                    pool_frames, pool_holes, current, left, first - lo, settings
                )
                io.write_propagated(tmp, done, still, first)
                before, after = before + int(left.sum()), after + int(still.sum())
                still_windows += static
        io.write_propagation_summary(
            tmp,
            {
                "hole_pixels_in": before,
                "filled_pixels": before - after,
                "filled_fraction": (before - after) / before if before else 1.0,
                "seconds": round(time.perf_counter() - began, 3),
                "references": references,
                "span": span,
                "scope": scope,
                "still_references": still_references,
                "still_camera_windows": still_windows,
            },
        )
    return Path(out_dir)
