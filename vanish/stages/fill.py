"""Stage `fill` (classical backend): fill what propagation and alignment could not reach,
consistently in time.

As in Deep Flow-Guided Video Inpainting: inpaint one keyframe spatially (the frame with the most
hole left), propagate its fill through the completed flows to the neighbouring frames in both
directions until a step fills nothing, and repeat until no hole remains. The fill therefore moves
with the scene instead of flickering frame by frame. Works shot by shot; the result is
composited at the input's original resolution (only hole pixels change).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vanish import io
from vanish.atomic import atomic_dir
from vanish.composite import Compositor
from vanish.convert import (
    flows_to_tensor,
    frames_to_tensor,
    masks_to_tensor,
    tensor_to_frames,
    tensor_to_masks,
)
from vanish.masks import STEADY_OVERLAP, hole_overlap
from vanish.models.classical import shots, spatial_fill
from vanish.models.propagation import propagation_step


def _spread(
    frames: torch.Tensor,
    holes: torch.Tensor,
    forward: torch.Tensor,
    backward: torch.Tensor,
    key: int,
    interpolation: str,
) -> None:
    """Propagate frame `key` outwards in place (tensors (T, C, H, W)) until nothing is filled."""
    count = frames.shape[0]
    for step, neighbour, flow_p, flow_c in (
        (1, lambda j: j - 1, backward, forward),
        (-1, lambda j: j + 1, forward, backward),
    ):
        j = key + step
        while 0 <= j < count and holes[j].any():
            src = neighbour(j)
            flow_index = j - 1 if step == 1 else j
            before = holes[j].sum()
            frame, hole = propagation_step(
                frames[src : src + 1],
                holes[src : src + 1],
                frames[j : j + 1],
                holes[j : j + 1],
                flow_p[flow_index : flow_index + 1],
                flow_c[flow_index : flow_index + 1],
                interpolation,
            )
            frames[j], holes[j] = frame[0], hole[0]
            if hole.sum() == before:
                break
            j += step


FIXED_OVERLAP = 0.5


def fixed_holes(holes: np.ndarray) -> bool:
    """Whether a shot's holes stay put: `hole_overlap` above FIXED_OVERLAP."""
    return hole_overlap(holes) > FIXED_OVERLAP


def keyframe_fill(
    frames: np.ndarray,
    holes: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    interpolation: str,
    spatial: str = "mean",
    spread: str = "auto",
) -> np.ndarray:
    """Fill every hole of one shot: frames (T, H, W, 3) uint8, holes (T, H, W) bool; keyframes
    are filled with the `spatial` method (`vanish.models.classical.spatial_fill`).

    `spread` "never" (or "auto" on a shot whose holes stay put, `fixed_holes`): every frame's
    hole is filled spatially on its own instead. Under a fixed hole the completed flow inside it
    is only interpolated, so spreading a keyframe along it moves the fill wrongly (measured
    -2.5 dB against per-frame on a fixed logo over panning footage, docs/benchmarks.md); a smooth
    per-frame fill follows its border, which is as steady in time as the border is.

    `spatial` "auto" (FSR on small parts, `spatial_fill`) is "mean" unless the holes stay put
    more strictly (STEADY_OVERLAP): FSR's gains were measured under fixed masks; on what
    propagation leaves of moving holes it changed hole-PSNR by +0.03 to -0.05 dB, and the speed
    benchmark's fill stage took 6.3 s against 1.3-1.6 s with `mean` (docs/benchmarks.md).
    """
    overlap = hole_overlap(holes)
    if spatial == "auto" and overlap <= STEADY_OVERLAP:
        spatial = "mean"  # FSR on the leftovers of moving holes: no gain, much slower
    if spread == "never" or (spread == "auto" and overlap > FIXED_OVERLAP):
        return np.stack([spatial_fill(f, h, spatial) for f, h in zip(frames, holes, strict=True)])
    frames_t = frames_to_tensor(frames)[0]
    holes_t = masks_to_tensor(holes)[0]
    fwd, bwd = flows_to_tensor(forward)[0], flows_to_tensor(backward)[0]
    while holes_t.any():
        key = int(holes_t.flatten(1).sum(1).argmax())
        key_frame = tensor_to_frames(frames_t[key : key + 1][None])[0]
        key_hole = tensor_to_masks(holes_t[key : key + 1][None])[0]
        filled = spatial_fill(key_frame, key_hole, spatial)
        frames_t[key] = frames_to_tensor(filled[None])[0, 0]
        holes_t[key] = 0
        _spread(frames_t, holes_t, fwd, bwd, key, interpolation)
    return tensor_to_frames(frames_t[None])


def classical_fill(
    frames_dir: str | Path,
    masks_dir: str | Path,
    flows_dir: str | Path,
    propagated_dir: str | Path,
    out_dir: str | Path,
    interpolation: str,
    spatial: str,
    spread: str,
    keyframes: str | Path,
) -> Path:
    """Fill the remaining holes of `propagated_dir` (the align stage's output in the workflow:
    same format) and composite into `out_dir` (the user's `keyframes`, already propagated, give
    their own pixels at their frames)."""
    flows = io.FlowReader(flows_dir)
    count = io.count_images(io.propagated_frames_dir(propagated_dir))
    with atomic_dir(out_dir) as tmp, torch.inference_mode():
        compositor = Compositor(frames_dir, masks_dir, tmp, keyframes)
        for start, stop in shots(count, flows.cuts):
            frames, holes = io.read_propagated(propagated_dir, start, stop)
            forward, backward = flows.read(start, stop - 1)
            result = keyframe_fill(frames, holes, forward, backward, interpolation, spatial, spread)
            for offset, frame in enumerate(result):
                compositor.write(start + offset, frame)
    return Path(out_dir)
