"""Stage `propagate`: ProPainter's training-free dual-domain image propagation (both backends).

Hole pixels take the flow-warped value of a neighbouring frame where the forward-backward check
passes and the source pixel is known; what stays unfilled is recorded in `masks/`. The clip is
processed in sub-videos of `chunk` frames with `pad` frames of context on each side, as the
reference does, and never across a shot cut, so memory is bounded by the chunk, not the clip.
Output (`vanish.io`: `write_propagated`, `read_propagated`): the frames (uint8; unfilled hole
pixels hold mid-grey), the holes left, and a summary of how much was filled; only the computed
frames (`io.ComputedFrames`), numbered in computed order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vanish import io
from vanish.atomic import atomic_dir
from vanish.convert import (
    flows_to_tensor,
    frames_to_tensor,
    masks_to_tensor,
    tensor_to_frames,
    tensor_to_masks,
)
from vanish.models.classical import shots
from vanish.models.propagation import image_propagation


def sub_videos(start: int, stop: int, chunk: int, pad: int) -> list[tuple[int, int, int, int]]:
    """(read_start, read_stop, keep_start, keep_stop) windows covering frames start…stop-1.

    Each window keeps `chunk` frames and reads up to `pad` extra frames on both sides (clipped
    to the range), as the reference inference does for image propagation.
    """
    if stop - start <= chunk:
        return [(start, stop, start, stop)]
    return [
        (max(start, keep - pad), min(stop, keep + chunk + pad), keep, min(stop, keep + chunk))
        for keep in range(start, stop, chunk)
    ]


def propagate_window(
    frames: np.ndarray,
    holes: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    interpolation: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Image propagation on one window: returns updated uint8 frames and the holes left."""
    frames_t, masks_t = frames_to_tensor(frames), masks_to_tensor(holes)
    with torch.inference_mode():
        prop, left = image_propagation(
            frames_t * (1 - masks_t),
            flows_to_tensor(forward),
            flows_to_tensor(backward),
            masks_t,
            interpolation,
        )
        updated = frames_t * (1 - masks_t) + prop * masks_t
    return tensor_to_frames(updated), tensor_to_masks(left)


def propagate(
    frames_dir: str | Path,
    masks_dir: str | Path,
    flows_dir: str | Path,
    out_dir: str | Path,
    interpolation: str,
    chunk: int,
    pad: int,
) -> Path:
    """Propagate known pixels into the holes of every frame; writes the stage folder."""
    source = io.ComputedFrames(frames_dir, masks_dir)
    hole_paths = io.computed_hole_paths(masks_dir)
    flows = io.FlowReader(flows_dir)
    count = len(source)
    filled = total = 0
    with atomic_dir(out_dir) as tmp:
        for shot_start, shot_stop in shots(count, flows.cuts):
            for lo, hi, keep_lo, keep_hi in sub_videos(shot_start, shot_stop, chunk, pad):
                holes = io.read_mask_paths(hole_paths[lo:hi])
                frames = source.read_range(lo, hi)
                forward, backward = flows.read(lo, hi - 1)
                updated, left = propagate_window(frames, holes, forward, backward, interpolation)
                keep = slice(keep_lo - lo, keep_hi - lo)
                io.write_propagated(tmp, updated[keep], left[keep], keep_lo)
                total += int(holes[keep].sum())
                filled += int(holes[keep].sum() - left[keep].sum())
        io.write_propagation_summary(
            tmp,
            {
                "hole_pixels": total,
                "filled_pixels": filled,
                "filled_fraction": filled / total if total else 1.0,
                "interpolation": interpolation,
            },
        )
    return Path(out_dir)
