"""Mask operations shared by the file-mask and prompt paths: dilation, resizing."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

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
