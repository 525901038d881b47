"""Final compositing at the input's own resolution: only hole pixels are ever replaced."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vanish import io


def composite(result: np.ndarray, original: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`original` with the (resized) `result` inside `hole`; pixels outside are untouched."""
    height, width = original.shape[:2]
    if result.shape[:2] != (height, width):
        result = cv2.resize(result, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None], result, original)


class Compositor:
    """Writes `inpainted/00000.png…` from processing-size results, frame by frame."""

    def __init__(self, frames_dir: str | Path, masks_dir: str | Path, out_dir: Path) -> None:
        self.originals = io.list_images(io.original_frames_dir(frames_dir))
        self.holes = io.list_images(io.full_masks_dir(masks_dir))
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, index: int, result: np.ndarray) -> None:
        """Composite frame `index` from its processing-size `result` and write it."""
        original = io.read_rgb(self.originals[index])
        hole = io.read_mask(self.holes[index])
        io.write_rgb(self.out_dir / io.frame_name(index), composite(result, original, hole))
