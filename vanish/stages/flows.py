"""Stage `flows`: bidirectional dense optical flow between consecutive processing-size frames.

Classical backend: OpenCV DIS on temporally pre-filled frames, shot by shot (no flow across a
cut; the cuts are recorded so later stages never propagate across them). The ProPainter backend's
RAFT flows are written in the same format (`vanish.io.FlowWriter`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.models.classical import dis_flow, shot_cuts, shots, temporal_prefill


def classical_flows(
    frames_dir: str | Path,
    masks_dir: str | Path,
    out_dir: str | Path,
    preset: str = "fast",
    cut_threshold: float = 0.3,
    chunk: int = 16,
    dtype: str = "float16",
) -> Path:
    """DIS flows of the whole clip in `frames_dir` (holes from `masks_dir`) into `out_dir`."""
    frames = io.read_frames(Path(frames_dir) / "proc")
    holes = io.read_masks(Path(masks_dir) / "proc")
    cuts = shot_cuts(frames, cut_threshold)
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
        """Flush and write the folder's meta.json."""
        self.flush()
        self.writer.close(**extra)
