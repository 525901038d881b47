"""Stage `align` (classical backend): fill, from aligned far frames, what propagation left.

Between `propagate` and `fill`. Each frame with hole pixels left borrows them from reference
frames of the same shot (never across a cut) where that area is visible, aligned by a homography
(`vanish.models.alignment`). Targets are processed `CHUNK` at a time with references up to `span`
frames away, so memory is bounded by the window, not the shot. Output has the propagated folder's
format (`io.write_propagated`): frames, the holes still left, and a summary.
"""

from __future__ import annotations

import time
from pathlib import Path

from vanish import io
from vanish.atomic import atomic_dir
from vanish.models.alignment import AlignSettings, align_window
from vanish.models.classical import shots

CHUNK = 40  # targets per window (a memory detail, not a result setting)


def windows(start: int, stop: int, span: int) -> list[tuple[int, int, int, int]]:
    """(pool_start, pool_stop, target_start, target_stop) covering frames start…stop-1."""
    return [
        (max(start, lo - span), min(stop, lo + CHUNK + span), lo, min(stop, lo + CHUNK))
        for lo in range(start, stop, CHUNK)
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
) -> Path:
    """Align-fill the holes left in `propagated_dir`; writes the same format into `out_dir`."""
    settings = AlignSettings(references, span, min_inliers, max_error, scope)
    source = io.ComputedFrames(frames_dir, masks_dir)  # regions of interest cut on reading
    hole_paths = io.computed_hole_paths(masks_dir)
    cuts = io.FlowReader(flows_dir).cuts
    before = after = 0
    began = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        for shot_start, shot_stop in shots(len(source), cuts):
            for lo, hi, first, last in windows(shot_start, shot_stop, span):
                current, left = io.read_propagated(propagated_dir, first, last)
                pool_frames = source.read_range(lo, hi)
                pool_holes = io.read_mask_paths(hole_paths[lo:hi])
                done, still = align_window(
                    pool_frames, pool_holes, current, left, first - lo, settings
                )
                io.write_propagated(tmp, done, still, first)
                before, after = before + int(left.sum()), after + int(still.sum())
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
            },
        )
    return Path(out_dir)
