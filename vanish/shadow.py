"""Cast shadows of removed objects: a removed person whose shadow stays behind looks wrong.

An object's shadow is found in three gated steps, all on the frame the object mask belongs to:

1. search band: pixels within `reach` × the object's larger box side of the object;
2. darkness gate: luminance below `darkness` × the band's brightness (its `reference_percentile`
   luminance, i.e. the lit ground around the object);
3. connectivity gate: only dark components that touch the object (a shadow is cast from the
   contact with the ground) are kept, and the whole shadow is dropped if it is larger than
   `max_ratio` × the object (then the object stands in a dark area, not in front of its shadow).

Optionally a segmenter refines the result (SAM prompted with the shadow's box and a point in
its darkest interior): its mask only adds pixels that pass a softer darkness gate and stay
connected to the object, so a wrong segmentation cannot spread into lit background.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vanish.boxes import box_of_mask

# (box, point) -> bool mask of the frame: a segmenter prompted in the shadow region.
Refiner = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ShadowParams:
    """Gates of the shadow extension (config `prompt.masks.shadow_*`)."""

    darkness: float = 0.7  # shadow luminance < darkness × reference luminance
    reach: float = 0.75  # search distance as a multiple of the object's larger box side
    max_ratio: float = 3.0  # reject a shadow larger than this × the object's area
    min_area: int = 16  # ignore dark components smaller than this (pixels)
    reference_percentile: float = 75.0  # lit-ground brightness within the band
    refine_darkness: float = 0.85  # softer gate for pixels added by the refiner


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of uint8 RGB as float32 in 0…255."""
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _touching(components: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Union of the connected components of `components` that overlap `seed`."""
    count, labels = cv2.connectedComponents(components.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(components, bool)
    hit = np.unique(labels[seed & components])
    hit = hit[hit > 0]
    return np.isin(labels, hit)


def _drop_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    if min_area <= 1 or not mask.any():
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    keep = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area)
    keep = keep[keep > 0]
    return np.isin(labels, keep)


def search_band(object_mask: np.ndarray, reach: float) -> np.ndarray:
    """Pixels outside the object within `reach` × its larger box side of it."""
    box = box_of_mask(object_mask)
    if box is None:
        return np.zeros_like(object_mask, bool)
    radius = reach * max(box[2] - box[0], box[3] - box[1])
    distance = cv2.distanceTransform((~object_mask).astype(np.uint8), cv2.DIST_L2, 5)
    return (distance > 0) & (distance <= radius)


def _gates(
    rgb: np.ndarray, object_mask: np.ndarray, params: ShadowParams
) -> tuple[np.ndarray, np.ndarray, float]:
    """(band, luminance, reference brightness) of an object."""
    band = search_band(object_mask, params.reach)
    luma = luminance(rgb)
    reference = float(np.percentile(luma[band], params.reference_percentile)) if band.any() else 0
    return band, luma, reference


def shadow_candidate(
    rgb: np.ndarray, object_mask: np.ndarray, params: ShadowParams = ShadowParams()
) -> np.ndarray:
    """The dark region adjoining the object that passes every gate (bool mask, object excluded)."""
    object_mask = object_mask.astype(bool)
    if not object_mask.any():
        return np.zeros_like(object_mask)
    band, luma, reference = _gates(rgb, object_mask, params)
    if reference <= 0:
        return np.zeros_like(object_mask)
    dark = band & (luma < params.darkness * reference)
    dark = _drop_small(dark, params.min_area)
    contact = cv2.dilate(object_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    shadow = _touching(dark, contact)
    if shadow.sum() > params.max_ratio * object_mask.sum():
        return np.zeros_like(object_mask)
    return shadow


def interior_point(mask: np.ndarray) -> np.ndarray:
    """`(x, y)` of the pixel of `mask` farthest from its border (a safe positive prompt)."""
    distance = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return np.array([x, y], np.float64)


def extend_with_shadow(
    rgb: np.ndarray,
    object_mask: np.ndarray,
    params: ShadowParams = ShadowParams(),
    refine: Refiner | None = None,
) -> np.ndarray:
    """The object mask plus its cast shadow (see the module doc)."""
    object_mask = object_mask.astype(bool)
    shadow = shadow_candidate(rgb, object_mask, params)
    if not shadow.any():
        return object_mask
    if refine is not None:
        proposal = refine(box_of_mask(shadow), interior_point(shadow)).astype(bool)
        band, luma, reference = _gates(rgb, object_mask, params)
        soft = proposal & band & (luma < params.refine_darkness * reference)
        grown = _touching(soft | shadow, shadow)
        if grown.sum() <= params.max_ratio * object_mask.sum():
            shadow = grown
    return object_mask | shadow
