"""Stage `flows`: bidirectional dense optical flow between consecutive processing-size frames.

Classical backend: OpenCV DIS on temporally pre-filled frames, shot by shot (no flow across a
cut; the cuts are recorded so later stages never propagate across them). The ProPainter backend's
RAFT flows are written in the same format (`vanish.io.FlowWriter`). Both see only the computed
frames (`io.ComputedFrames`: repeats are skipped; regions of interest when chosen), so flow k
links computed frames k, k+1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vanish import io
from vanish.atomic import atomic_dir
from vanish.config import DIS_MIN_SIDE
from vanish.convert import frames_to_tensor
from vanish.device import select_device
from vanish.errors import InputError
from vanish.models.classical import dis_flow, shot_cuts, shots, temporal_prefill
from vanish.models.raft import (
    MIN_SIZE,
    FinalFlowRAFT,
    chunk_bounds,
    chunk_length_for_width,
    compute_bidirectional_flows,
    load_raft,
)


def classical_flows(
    frames_dir: str | Path,
    masks_dir: str | Path,
    out_dir: str | Path,
    preset: str,
    cut_threshold: float,
    dtype: str,
    chunk: int = 16,
) -> Path:
    """DIS flows of the whole clip in `frames_dir` (holes from `masks_dir`) into `out_dir`.

    `chunk`: flows per output file (no config key: a storage detail, not a result setting).
    """
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    check_dis_clip(meta, Path(frames_dir), io.processing_size(frames_dir, masks_dir))
    frames = io.ComputedFrames(frames_dir, masks_dir).read_range()
    holes = io.read_mask_paths(io.computed_hole_paths(masks_dir))
    # a region of interest moves at its shot cuts: no flow links frames across them
    cuts = sorted(set(shot_cuts(frames, cut_threshold)) | set(io.roi_cuts(masks_dir)))
    prefilled = np.empty_like(frames)
    for start, stop in shots(len(frames), cuts):
        prefilled[start:stop] = temporal_prefill(frames[start:stop], holes[start:stop])
    with atomic_dir(out_dir) as tmp:
        writer = FlowChunks(io.FlowWriter(tmp, dtype), chunk)
        for k in range(len(frames) - 1):
            if k + 1 in cuts:
                zero = np.zeros((2, *frames.shape[1:3]), np.float32)
                writer.add(zero, zero)
            else:
                writer.add(
                    dis_flow(prefilled[k], prefilled[k + 1], preset),
                    dis_flow(prefilled[k + 1], prefilled[k], preset),
                )
        writer.close(cuts=cuts, method=f"dis-{preset}")
    return Path(out_dir)


def check_dis_clip(
    meta: io.ClipMeta, frames_dir: Path, size: tuple[int, int] | None = None
) -> None:
    """Refuse a processing size DIS cannot handle: OpenCV raises or kills the whole process
    (SIGSEGV, no message) on frames under DIS_MIN_SIDE px high. `size`: (width, height) of the
    frames processed (a region of interest's), default the clip's processing size."""
    width, height = size or (meta.proc_width, meta.proc_height)
    if min(width, height) < DIS_MIN_SIDE:
        raise InputError(
            meta.sample,
            meta.source,
            f"the processing size {width}x{height} (in {frames_dir}) has a side below "
            f"{DIS_MIN_SIDE} px, which OpenCV's DIS flow of the classical backend cannot handle",
            f"use a clip of at least {DIS_MIN_SIDE}x{DIS_MIN_SIDE} px at the processing size "
            f"(max_side >= {DIS_MIN_SIDE} or null; a very wide clip needs a larger max_side), "
            "or upscale it",
        )


class FlowChunks:
    """Collect single flow pairs and hand them to a FlowWriter `chunk` at a time."""

    def __init__(self, writer: io.FlowWriter, chunk: int) -> None:
        self.writer, self.chunk = writer, chunk
        self.forward: list[np.ndarray] = []
        self.backward: list[np.ndarray] = []

    def add(self, forward: np.ndarray, backward: np.ndarray) -> None:
        """Queue one pair (2, H, W) each; flush a full chunk."""
        self.forward.append(forward)
        self.backward.append(backward)
        if len(self.forward) == self.chunk:
            self.flush()

    def flush(self) -> None:
        """Write queued flows as one chunk."""
        if self.forward:
            self.writer.append(np.stack(self.forward), np.stack(self.backward))
            self.forward, self.backward = [], []

    def close(self, **extra: object) -> None:
        """Flush and write the folder's metadata."""
        self.flush()
        self.writer.close(**extra)


def check_raft_clip(sample: str, frame_dir: Path, width: int, height: int, count: int) -> None:
    """Refuse clips RAFT cannot handle before loading any weights (the reference returns NaN)."""
    if min(width, height) < MIN_SIZE:
        raise InputError(
            sample,
            frame_dir,
            f"the processing size {width}x{height} has a side below {MIN_SIZE} px, which RAFT "
            "cannot handle (the published RAFT silently returns NaN flows there)",
            f"use a clip of at least {MIN_SIZE}x{MIN_SIZE} px (and max_side >= {MIN_SIZE}), "
            "upscale it, or use backend: classical",
        )
    if count < 2:
        raise InputError(
            sample,
            frame_dir,
            f"the clip has {count} frame(s); optical flow needs at least 2",
            "give a clip of at least 2 frames, or use backend: classical",
        )


def raft_chunk_flows(
    model: FinalFlowRAFT, frames: torch.Tensor, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flows (n-1, 2, H, W) of one chunk of frames (n, 3, H, W) in [-1, 1].

    Pure: tensors in, arrays out. One batched RAFT call per direction, as the reference.
    """
    forward, backward = compute_bidirectional_flows(frames, model, iterations, len(frames))
    return forward.float().cpu().numpy(), backward.float().cpu().numpy()


def raft_flows(
    frames_dir: str | Path,
    masks_dir: str | Path,
    out_dir: str | Path,
    weights_path: str | Path,
    weights_sha256: str | None,
    iterations: int,
    device: str,
    dtype: str,
) -> Path:
    """RAFT flows of the clip in `frames_dir` into a flow folder, one chunk in memory at a time.

    Chunks follow docs/architecture.md §5.6.2 (12/8/4/2 frames by width, one frame of overlap so
    every pair is computed once); RAFT always runs in fp32. No shot cuts are recorded: the reference
    propagates across the whole clip.
    """
    frame_dir = io.processing_frames_dir(frames_dir)
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    width, height = io.processing_size(frames_dir, masks_dir)  # a region of interest's
    check_raft_clip(meta.sample, frame_dir, width, height, meta.frame_count)
    source = io.ComputedFrames(frames_dir, masks_dir)  # ≥ 2 of ≥ 2 frames (repeats.py)
    count = len(source)
    model = load_raft(weights_path, weights_sha256).to(select_device(device))
    with atomic_dir(out_dir) as tmp:
        writer = io.FlowWriter(tmp, dtype)
        for start, stop in chunk_bounds(count, chunk_length_for_width(width)):
            frames = frames_to_tensor(source.read_range(start, stop))[0]
            writer.append(*raft_chunk_flows(model, frames, iterations))
        writer.close(cuts=[], method=f"raft-{iterations}")
    return Path(out_dir)
