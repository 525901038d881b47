"""Weight-free frame alignment (Align-and-Attend style) for the classical backend.

Flow propagation copies background only along a chain of flows between neighbouring frames; where
the chain breaks (a static camera whose object never moves far, fast motion, short shots) hole
pixels stay unfilled although the background was seen elsewhere in the shot. Here each target
frame borrows those pixels directly from a few reference frames of its shot, chosen where the
hole's area is visible and far in time, aligned to the target by a homography estimated from ORB
features on unmasked regions (RANSAC). A reference pixel is accepted only where it was not itself
masked, and a reference only where it agrees with the target on a ring of known pixels around the
hole; accepted references are averaged, weighted by that agreement. A static camera reduces to a
clean background plate, a panning one to a mosaic (docs/architecture.md, Alignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ORB_FEATURES = 600
RATIO = 0.8  # Lowe's ratio test on Hamming distances
RANSAC_PX = 3.0
RING_PX = 8  # width of the ring of known pixels around the hole used to judge a reference
EDGE_PX = 1  # a reference's own hole is grown by this much before its pixels are trusted
SNAP_PX = 0.1  # a homography moving no corner farther than this is taken as the identity
MIN_STILL_INLIERS = 15  # feature matches needed to judge whether the camera moves


@dataclass(frozen=True)
class Features:
    """ORB key points (N, 2) and descriptors (N, 32) of one frame's unmasked area."""

    points: np.ndarray
    descriptors: np.ndarray | None
    shape: tuple[int, int]  # the frame's (height, width)


def orb_features(frame: np.ndarray, hole: np.ndarray) -> Features:
    """ORB features of an RGB frame outside its (grown) hole: features on the removed object
    would align the object, not the background."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    known = np.where(grow(hole, 4), 0, 255).astype(np.uint8)
    orb = cv2.ORB_create(ORB_FEATURES, fastThreshold=10, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(gray, known)
    points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    return Features(points, descriptors, gray.shape)


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` dilated by a square of radius `pixels`."""
    if pixels <= 0:
        return mask.astype(bool)
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def estimate_homography(
    reference: Features, target: Features, min_inliers: int
) -> np.ndarray | None:
    """The 3x3 homography mapping reference pixels onto the target, or None when fewer than
    `min_inliers` matches agree (RANSAC)."""
    if reference.descriptors is None or target.descriptors is None:
        return None
    if len(reference.points) < min_inliers or len(target.points) < min_inliers:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(reference.descriptors, target.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < min_inliers:
        return None
    src = reference.points[[m.queryIdx for m in good]]
    dst = target.points[[m.trainIdx for m in good]]
    homography, inliers = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX)
    if homography is None or int(inliers.sum()) < min_inliers:
        return None
    return snap(homography, target.shape)


def snap(homography: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The identity where `homography` moves no frame corner by more than SNAP_PX: a static
    camera then copies its background pixels exactly instead of resampling them (blur)."""
    height, width = shape
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float32)
    moved = cv2.perspectiveTransform(corners[None], homography)[0]
    if np.abs(moved - corners).max() <= SNAP_PX:
        return np.eye(3)
    return homography


def warp(image: np.ndarray, homography: np.ndarray, nearest: bool = False) -> np.ndarray:
    """`image` resampled onto the target grid (outside the reference: zeros)."""
    height, width = image.shape[:2]
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpPerspective(image, homography, (width, height), flags=flags, borderValue=0)


def warp_known(hole: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Target pixels whose reference pixel lies inside the reference and outside its hole."""
    known = (~grow(hole, EDGE_PX)).astype(np.uint8)
    return warp(known, homography, nearest=True).astype(bool)


def ring(hole: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Known target pixels within RING_PX of the hole: where a reference is checked."""
    return grow(hole, RING_PX) & ~hole & known


@dataclass(frozen=True)
class Candidate:
    """One reference warped onto the target: its pixels, where they are usable, its weight."""

    pixels: np.ndarray  # (H, W, 3) float32
    usable: np.ndarray  # (H, W) bool
    weight: float


def mean_error(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute difference of two images over `where` (infinite where it is empty)."""
    if not where.any():
        return float("inf")
    return float(np.abs(a[where].astype(np.float32) - b[where].astype(np.float32)).mean())


def judge(
    target: np.ndarray,
    target_known: np.ndarray,
    hole: np.ndarray,
    warped: np.ndarray,
    usable: np.ndarray,
    max_error: float,
) -> float:
    """Weight of a warped reference: 0 when its mean absolute error on the ring around the
    hole exceeds `max_error` grey levels (misaligned, or the scene changed), else decreasing
    with that error."""
    check = ring(hole, target_known & usable)
    if check.sum() < 16:
        return 0.0
    error = mean_error(warped, target, check)
    if error > max_error:
        return 0.0
    return float(np.exp(-((error / max(max_error, 1e-6)) ** 2) * 2))


def rank_references(
    holes: np.ndarray, target: int, left: np.ndarray, limit: int, span: int
) -> list[int]:
    """Reference frames for `target` (indices into `holes`), best first: those where most of the
    target's remaining hole is unmasked on the same grid, then the farther ones (under a moving
    camera a fixed hole's area shows elsewhere in the frame, and more of it the farther away)."""
    lo, hi = max(0, target - span), min(len(holes), target + span + 1)
    area = max(int(left.sum()), 1)
    box: tuple[slice, slice] = (slice(None), slice(None))
    if left.any():  # count inside the hole's bounding box only
        rows, cols = np.flatnonzero(left.any(axis=1)), np.flatnonzero(left.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    seen = (left[box][None] & ~holes[lo:hi][(slice(None), *box)]).sum(axis=(1, 2))
    scores = [
        (round(int(seen[index - lo]) / area, 1), abs(index - target), index)
        for index in range(lo, hi)
        if index != target
    ]
    scores.sort(reverse=True)
    return [index for _, _, index in scores[:limit]]


def aggregate(candidates: list[Candidate], left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of the candidates' usable pixels inside `left`: (pixels, filled mask)."""
    total = np.zeros((*left.shape, 3), np.float32)
    weights = np.zeros(left.shape, np.float32)
    for candidate in candidates:
        take = (candidate.usable & left).astype(np.float32) * candidate.weight
        total += candidate.pixels * take[..., None]
        weights += take
    filled = weights > 0
    pixels = total / np.maximum(weights, 1e-6)[..., None]
    return pixels, filled


@dataclass(frozen=True)
class AlignSettings:
    """The alignment stage's settings (config `classical.align_*`)."""

    references: int
    span: int
    min_inliers: int
    max_error: float
    scope: str = "auto"  # which hole pixels alignment fills: `align_frame`
    still_references: int = 16  # references averaged where the camera holds still


def is_identity(homography: np.ndarray) -> bool:
    """Whether an (already snapped) homography is the identity."""
    return bool(np.array_equal(homography, np.eye(3)))


def camera_holds_still(frames: np.ndarray, holes: np.ndarray, features: LazyFeatures) -> bool:
    """Whether the camera does not move over a pool of frames: from the first frame to the
    middle and to the last one, copying the frame as it is fits the known pixels at least as
    well as the homography estimated between them. On a static camera that homography still
    moves the frame by a fraction of a pixel (noisy features), and resampling blurs. Where this
    says "still" wrongly (a scene no homography fits), the ring check of each reference
    (`judge`) still keeps misaligned ones out."""
    last = len(frames) - 1
    for other in sorted({last // 2, last} - {0}):
        homography = estimate_homography(features[other], features[0], MIN_STILL_INLIERS)
        if homography is None:
            return False
        if is_identity(homography):
            continue
        known = ~grow(holes[0], EDGE_PX)
        moved = warp(frames[other], homography)
        unmoved = mean_error(frames[other], frames[0], known & ~grow(holes[other], EDGE_PX))
        if unmoved > mean_error(moved, frames[0], known & warp_known(holes[other], homography)):
            return False
    return True


def align_frame(
    frames: np.ndarray,
    holes: np.ndarray,
    features: LazyFeatures,
    target: int,
    current: np.ndarray,
    left: np.ndarray,
    settings: AlignSettings,
    still: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill hole pixels of frame `target` from aligned references: those in `left` (what
    propagation could not fill), or every pixel of its hole with `settings.scope` "all" or when
    the camera holds `still` (`align_window` judges that under scope "auto"; references are then
    copied as they are, without estimating a homography: on a static camera the copied pixel is
    exact, while a chain of flows resamples and drifts, docs/benchmarks.md).

    frames (T, H, W, 3) uint8 and holes (T, H, W) bool are one shot's original frames and masks;
    `current` the target as propagation left it. Returns the updated frame and the part of
    `left` no reference reached.
    """
    whole = settings.scope == "all" or still
    region = holes[target] if whole else left
    known = ~region
    candidates = []
    limit = settings.still_references if still else settings.references
    order = rank_references(holes, target, region, limit + 2, settings.span)
    for index in order:
        if still:
            homography = np.eye(3)
        else:
            homography = estimate_homography(
                features[index], features[target], settings.min_inliers
            )
        if homography is None:
            continue
        warped = warp(frames[index].astype(np.float32), homography)
        usable = warp_known(holes[index], homography)
        weight = judge(current, known, region, warped, usable, settings.max_error)
        if weight > 0:
            candidates.append(Candidate(warped, usable, weight))
        if len(candidates) == limit:
            break
    if not candidates:
        return current, left
    pixels, filled = aggregate(candidates, region)
    out = current.copy()
    out[filled] = np.clip(np.rint(pixels[filled]), 0, 255).astype(np.uint8)
    return out, left & ~filled


def align_window(
    frames: np.ndarray,
    holes: np.ndarray,
    current: np.ndarray,
    left: np.ndarray,
    first: int,
    settings: AlignSettings,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Align-fill the targets `current`/`left` (propagated frames and holes left), which are
    frames first, first+1, ... of the reference pool `frames`/`holes` (original frames and masks
    of the same shot). Returns the updated targets, the holes still left, and whether the
    camera was found to hold still (`camera_holds_still`, judged with scope "auto" only)."""
    out, still = current.copy(), left.copy()
    if settings.references == 0 or len(frames) < 2:
        return out, still, False
    features = LazyFeatures(frames, holes)
    static = settings.scope == "auto" and camera_holds_still(frames, holes, features)
    whole = settings.scope == "all" or static
    for offset in range(len(current)):
        target = first + offset
        if not (holes[target] if whole else still[offset]).any():
            continue
        out[offset], still[offset] = align_frame(
            frames, holes, features, target, out[offset], still[offset], settings, static
        )
    return out, still, static


class LazyFeatures:
    """Each pool frame's ORB features, computed the first time a pair needs them."""

    def __init__(self, frames: np.ndarray, holes: np.ndarray) -> None:
        self.frames, self.holes = frames, holes
        self.cache: dict[int, Features] = {}

    def __getitem__(self, index: int) -> Features:
        if index not in self.cache:
            self.cache[index] = orb_features(self.frames[index], self.holes[index])
        return self.cache[index]
