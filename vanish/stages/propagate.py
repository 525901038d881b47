"""Stage `propagate`: ProPainter's training-free dual-domain image propagation (both backends).

Hole pixels take the flow-warped value of a neighbouring frame where the forward-backward check
passes and the source pixel is known; what stays unfilled is recorded in `masks/`. The clip is
processed in sub-videos of `chunk` frames with `pad` frames of context on each side, as the
reference does, and never across a shot cut, so memory is bounded by the chunk, not the clip.
The propainter backend runs the reference's sweeps; the classical backend blends both sweeps'
candidates by distance (`sweeps`, `vanish.models.propagation.blended_propagation`).
Output (`vanish.io`: `write_propagated`, `read_propagated`): the frames (uint8; unfilled hole
pixels hold mid-grey), the holes left, and a summary of how much was filled; only the computed
frames (`io.ComputedFrames`), numbered in computed order.

User keyframes (`vanish.keyframes`) come first: on a keyframe the hole is cleared and filled with
the keyframe's pixels, which one backward and one forward sweep carry through the completed flows
to every frame of the shot (streamed frame by frame, not limited to a sub-video); image
propagation then runs on the result, so every later stage sees them as known pixels.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
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
from vanish.keyframes import check_keyframes, keyframe_positions, read_keyframe
from vanish.masks import holes_stay_put
from vanish.models.classical import shots
from vanish.models.propagation import blended_propagation, image_propagation, propagation_step

SCRATCH = ".keyframes"  # keyframe sweeps' frames, inside the stage's temporary folder


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


SWEEPS = {"sequential": image_propagation, "blend": blended_propagation}


def propagate_window(
    frames: np.ndarray,
    holes: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    interpolation: str,
    sweeps: str = "sequential",
    tolerance: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Image propagation on one window: returns updated uint8 frames and the holes left.

    `sweeps`: `sequential` is ProPainter's (the forward sweep fills what the backward one
    left), `blend` the classical backend's (both sweeps' candidates weighted by distance);
    `tolerance` loosens the forward-backward check (1: the reference's)."""
    frames_t, masks_t = frames_to_tensor(frames), masks_to_tensor(holes)
    with torch.inference_mode():
        prop, left = SWEEPS[sweeps](
            frames_t * (1 - masks_t),
            flows_to_tensor(forward),
            flows_to_tensor(backward),
            masks_t,
            interpolation,
            tolerance,
        )
        updated = frames_t * (1 - masks_t) + prop * masks_t
    return tensor_to_frames(updated), tensor_to_masks(left)


class _FlowPairs:
    """Flow k of both directions as (1, 2, H, W) tensors, read a block of flows at a time."""

    def __init__(self, flows: io.FlowReader, block: int) -> None:
        self.flows, self.block = flows, max(block, 1)
        self.start, self.forward, self.backward = -1, np.empty(0), np.empty(0)

    def pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = index - index % self.block
        if start != self.start:
            stop = min(self.flows.count, start + self.block)
            self.start, (self.forward, self.backward) = start, self.flows.read(start, stop)
        k = index - start
        return flows_to_tensor(self.forward[k : k + 1])[0], flows_to_tensor(
            self.backward[k : k + 1]
        )[0]


class _KeyedShot:
    """One shot's frames and holes with its keyframes' pixels carried to every frame."""

    def __init__(self, frame_paths: list[Path], hole_paths: list[Path], scratch: Path) -> None:
        self.frame_paths, self.hole_paths = frame_paths, hole_paths
        self.scratch = scratch

    def read(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame (1, 3, H, W) in [-1, 1], hole pixels 0, and its hole (1, 1, H, W)."""
        frame = frames_to_tensor(io.read_rgb(self.frame_paths[position])[None])[0]
        hole = masks_to_tensor(io.read_mask(self.hole_paths[position])[None])[0]
        return frame * (1 - hole), hole

    def write(self, position: int, frame: torch.Tensor, hole: torch.Tensor, sweep: str) -> None:
        """Store a swept frame (laid out as a propagated folder per sweep) and read it from
        there on."""
        folder = self.scratch / sweep
        io.write_propagated(
            folder, tensor_to_frames(frame[None]), tensor_to_masks(hole[None]), position
        )
        name = io.frame_name(position)
        self.frame_paths[position] = io.propagated_frames_dir(folder) / name
        self.hole_paths[position] = io.propagated_holes_dir(folder) / name


def _seed(
    frame: torch.Tensor, hole: torch.Tensor, keyframe: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """The frame with the keyframe's pixels inside its hole, and no hole left."""
    keyed = frames_to_tensor(keyframe[None])[0]
    return frame * (1 - hole) + keyed * hole, torch.zeros_like(hole)


def _key_sweep(
    shot: _KeyedShot,
    order: range,
    seeds: dict[int, Path],
    size: tuple[int, int],
    flows: _FlowPairs,
    interpolation: str,
    sweep: str,
) -> None:
    """Carry known pixels frame by frame along `order` from its first frame (a keyframe):
    backward (descending) pulls frame k from k+1 with forward[k], forward from k-1 with
    backward[k-1], as image propagation's sweeps do."""
    carry = None
    backward = order.step < 0
    for position in order:
        frame, hole = shot.read(position)
        if position in seeds:
            frame, hole = _seed(frame, hole, read_keyframe(seeds[position], size))
        elif carry is not None:
            forward_flow, backward_flow = flows.pair(position if backward else position - 1)
            prop, check = (
                (forward_flow, backward_flow) if backward else (backward_flow, forward_flow)
            )
            frame, hole = propagation_step(*carry, frame, hole, prop, check, interpolation)
        carry = frame, hole
        shot.write(position, frame, hole, sweep)


def apply_keyframes(
    frame_paths: list[Path],
    hole_paths: list[Path],
    seeds: dict[int, Path],
    flows: io.FlowReader,
    size: tuple[int, int],
    scratch: Path,
    interpolation: str,
    block: int,
) -> tuple[list[Path], list[Path]]:
    """Frame and hole paths of the computed frames after the keyframes' pixels (`seeds`:
    computed position -> keyframe file) were carried through every frame of their shots;
    rewritten frames lie under `scratch`. The hook of user keyframes: everything after
    (image propagation, alignment, fill, transformer) sees their pixels as known."""
    frames, holes = list(frame_paths), list(hole_paths)
    pairs = _FlowPairs(flows, block)
    shot_keys = _KeyedShot(frames, holes, scratch)
    with torch.inference_mode():
        for start, stop in shots(len(frames), flows.cuts):
            keys = {p: path for p, path in seeds.items() if start <= p < stop}
            if not keys:
                continue
            backward, forward = range(max(keys), start - 1, -1), range(min(keys), stop)
            _key_sweep(shot_keys, backward, keys, size, pairs, interpolation, "backward")
            _key_sweep(shot_keys, forward, keys, size, pairs, interpolation, "forward")
    return frames, holes


def _keyed_source(
    sample: str,
    frames_dir: str | Path,
    masks_dir: str | Path,
    keyframes: str | Path,
    flows: io.FlowReader,
    scratch: Path,
    interpolation: str,
    block: int,
) -> tuple[Callable[[int, int], np.ndarray], list[Path], list[int]]:
    """A reader of the computed frames to propagate from and their holes' paths (with the
    sample's keyframes applied, when it has any), and the frame indices of the keyframes
    applied. With regions of interest the regions are cut once into `scratch` first, and each
    keyframe is cut to its frame's region, so the sweeps work at the regions' size."""
    source = io.ComputedFrames(frames_dir, masks_dir)
    hole_paths = io.computed_hole_paths(masks_dir)
    if not keyframes:
        return source.read_range, hole_paths, []
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    found = check_keyframes(sample, keyframes, meta.frame_count, (meta.width, meta.height))
    applied = keyframe_positions(found, io.mask_repeats(masks_dir))
    seeds = {position: path for position, (_, path) in applied.items()}
    frame_paths = io.computed_frame_paths(frames_dir, masks_dir)
    if source.roi is not None:
        frame_paths = _cut_regions(source, scratch / "regions")
        seeds = _cut_keyframes(seeds, source, scratch / "keyframe_regions")
    size = io.processing_size(frames_dir, masks_dir)
    frames, holes = apply_keyframes(
        frame_paths, hole_paths, seeds, flows, size, scratch, interpolation, block
    )
    return _path_reader(frames), holes, sorted(index for index, _ in applied.values())


def _cut_regions(source: io.ComputedFrames, folder: Path) -> list[Path]:
    """Each computed frame's region of interest as a file (what the keyframe sweeps read)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / io.frame_name(position) for position in range(len(source))]
    for position, path in enumerate(paths):
        io.write_rgb(path, source.read(position))
    return paths


def _cut_keyframes(
    seeds: dict[int, Path], source: io.ComputedFrames, folder: Path
) -> dict[int, Path]:
    """Each keyframe (input size) cut to the region of the frame it keys; scaled later."""
    folder.mkdir(parents=True, exist_ok=True)
    cut = {}
    for position, path in seeds.items():
        box = source.roi.box(source.indices[position])
        cut[position] = folder / io.frame_name(position)
        io.write_rgb(cut[position], np.ascontiguousarray(io.read_rgb(path)[box]))
    return cut


def _path_reader(paths: list[Path]) -> Callable[[int, int], np.ndarray]:
    """read(lo, hi) over a list of frame files."""
    return lambda lo, hi: io.read_frame_paths(paths[lo:hi])


def propagate(
    frames_dir: str | Path,
    masks_dir: str | Path,
    flows_dir: str | Path,
    out_dir: str | Path,
    interpolation: str,
    chunk: int,
    pad: int,
    keyframes: str | Path,
    sample: str,
    sweeps: str,
    fb_tolerance: float,
) -> Path:
    """Propagate known pixels (and the sample's `keyframes` folder's, when given) into the holes
    of every frame; writes the stage folder."""
    hole_paths = io.computed_hole_paths(masks_dir)
    flows = io.FlowReader(flows_dir)
    count = len(hole_paths)
    filled = total = keyed = steady = 0
    with atomic_dir(out_dir) as tmp:
        scratch = tmp / SCRATCH  # removed below; a killed job's goes with its temporary folder
        read_frames, keyed_holes, applied = _keyed_source(
            sample, frames_dir, masks_dir, keyframes, flows, scratch, interpolation, chunk
        )
        for shot_start, shot_stop in shots(count, flows.cuts):
            for lo, hi, keep_lo, keep_hi in sub_videos(shot_start, shot_stop, chunk, pad):
                holes = io.read_mask_paths(keyed_holes[lo:hi])
                frames = read_frames(lo, hi)
                forward, backward = flows.read(lo, hi - 1)
                given = io.read_mask_paths(hole_paths[lo:hi])
                # Under holes that stay put the flow inside is interpolated all along, and a
                # looser check lets its errors in (-0.13 to -0.50 dB on three fixed holes,
                # docs/benchmarks.md): those windows keep the reference check.
                still = holes_stay_put(given)
                steady += still
                tolerance = 1.0 if still else fb_tolerance
                updated, left = propagate_window(
                    frames, holes, forward, backward, interpolation, sweeps, tolerance
                )
                keep = slice(keep_lo - lo, keep_hi - lo)
                io.write_propagated(tmp, updated[keep], left[keep], keep_lo)
                hole = int(given[keep].sum())
                total += hole
                filled += hole - int(left[keep].sum())
                keyed += hole - int(holes[keep].sum())
        io.write_propagation_summary(
            tmp,
            {
                "hole_pixels": total,
                "filled_pixels": filled,
                "filled_fraction": filled / total if total else 1.0,
                "interpolation": interpolation,
                "sweeps": sweeps,
                "fb_tolerance": fb_tolerance,
                "steady_windows": steady,
                "keyframes": applied,
                "keyframe_filled_pixels": keyed,
            },
        )
        shutil.rmtree(scratch, ignore_errors=True)
    return Path(out_dir)
