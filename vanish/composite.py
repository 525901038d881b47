"""Final compositing at the input's own resolution: only hole pixels are ever replaced.

The fill stages produce the computed frames only (`vanish.repeats`); the compositor writes every
frame, a repeat as a hard link to (else a copy of) its source's file, so encoding, metrics and the
report see the whole clip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from vanish import io
from vanish.keyframes import list_keyframes
from vanish.repeats import computed, repeats_of


def composite(result: np.ndarray, original: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`original` with the (resized) `result` inside `hole`; pixels outside are untouched."""
    height, width = original.shape[:2]
    if result.shape[:2] != (height, width):
        result = cv2.resize(result, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None], result, original)


def composite_region(
    result: np.ndarray, original: np.ndarray, hole: np.ndarray, region: tuple[slice, slice]
) -> np.ndarray:
    """`original` with the (resized) `result` of one region of interest (`vanish.roi`) inside
    `hole`: only hole pixels of the region change; the rest of the frame is the input's."""
    out = original.copy()
    out[region] = composite(result, original[region], hole[region])
    return out


class Compositor:
    """Writes `inpainted/00000.png…` from processing-size results of the computed frames
    (whole frames, or each frame's region of interest when the mask stage chose regions)."""

    def __init__(
        self,
        frames_dir: str | Path,
        masks_dir: str | Path,
        out_dir: Path,
        keyframes: str | Path = "",
    ) -> None:
        self.originals = io.list_images(io.original_frames_dir(frames_dir))
        self.holes = io.list_images(io.full_masks_dir(masks_dir))
        sources = io.mask_repeats(masks_dir)
        self.computed, self.repeats = computed(sources), repeats_of(sources)
        # user keyframes (vanish.keyframes): their own pixels fill the hole at their index
        self.keyframes = list_keyframes(keyframes)[0] if keyframes else {}
        self.roi = io.read_roi(masks_dir)
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, position: int, result: np.ndarray) -> None:
        """Composite computed frame `position` from its processing-size `result`, write it and
        its repeats (a keyframe gets its own pixels inside the hole, not a link)."""
        index = self.computed[position]
        path = self._write(index, result)
        for repeat in self.repeats[index]:
            if repeat in self.keyframes:
                self._write(repeat, result)
            else:
                link(path, self.out_dir / io.frame_name(repeat))

    def _write(self, index: int, result: np.ndarray) -> Path:
        original = io.read_rgb(self.originals[index])
        hole = io.read_mask(self.holes[index])
        path = self.out_dir / io.frame_name(index)
        if index in self.keyframes:  # a whole input-size frame, wherever the region is
            image = composite(io.read_rgb(self.keyframes[index]), original, hole)
        elif self.roi is None:
            image = composite(result, original, hole)
        else:
            image = composite_region(result, original, hole, self.roi.box(index))
        io.write_rgb(path, image)
        return path


def link(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (no disk, no write), a copy where links fail."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
