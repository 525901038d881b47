"""Mask operations shared by the file-mask and prompt paths: dilation, resizing, and writing the
mask stage folder from full-size masks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vanish import io
from vanish.repeats import MaskRuns

CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary dilation by the 3×3 cross, `iterations` times, outside the image = background.

    Equivalent to ProPainter's mask preparation: a pixel becomes a hole iff its L1 distance to a
    non-zero pixel is ≤ iterations.
    """
    if iterations <= 0:
        return mask.astype(bool)
    return cv2.dilate(mask.astype(np.uint8), CROSS, iterations=iterations).astype(bool)


def resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize to (width, height) with Pillow, as the reference pipeline does."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask.astype(bool)
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(image.resize(size, Image.NEAREST)) > 0


def write_masks(
    masks: Iterable[np.ndarray],
    meta: io.ClipMeta,
    out: Path,
    dilation: int,
    warnings: Iterable[str] = (),
    frame_sources: Sequence[int] | None = None,
) -> dict:
    """Dilate full-size bool masks, write the mask stage folder and return its summary.

    The processing-size hole is the dilated resized mask; the input-size one (written when the
    clip is resized) is the dilated mask united with the processing-size hole scaled back up.
    `warnings` (read once the masks are consumed) enter the summary only when there are any, so
    the summary of a clean input keeps its bytes. `frame_sources`: the frames stage's pixel
    repeats (`io.frame_repeats`; None: no frame repeats another); a frame stays a repeat only if
    its mask equals its source's too (`repeats.json`).
    """
    proc_size = (meta.proc_width, meta.proc_height)
    writer = io.MaskFolderWriter(out, meta.resized)
    coverage = []
    runs = MaskRuns(frame_sources)
    for index, mask in enumerate(masks):
        runs.add(mask)
        proc = dilate(resize_nearest(mask, proc_size), dilation)
        writer.write_processing(index, proc)
        if meta.resized:
            full = dilate(mask, dilation) | resize_nearest(proc, (meta.width, meta.height))
            writer.write_full(index, full)
        coverage.append(float(proc.mean()))
    summary = {
        "sample": meta.sample,
        "dilation": dilation,
        "coverage_per_frame": coverage,
        "coverage": float(np.mean(coverage)) if coverage else 0.0,
        "empty": not any(coverage),
    }
    if list(warnings):
        summary["warnings"] = list(warnings)
    writer.close(summary)
    io.write_repeats(out, runs.sources)
    return summary
