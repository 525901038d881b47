"""Weight-free building blocks of the classical backend: shot cuts, temporal pre-fill, DIS flow,
harmonic flow completion and spatial fill (frame alignment: `vanish.models.alignment`).

Findings behind the design (measured, see docs): DIS flow on frames whose holes were pre-filled
from the nearest frame where the pixel is visible follows the background instead of the moving
hole; the preset FAST beats MEDIUM; propagation must never cross a shot cut.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from vanish.errors import OPENCV_CONTRIB_FIX

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
CUT_THRESHOLD = 0.3


def _hue_saturation_histogram(frame: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, hist).flatten()


def shot_cuts(frames: np.ndarray, threshold: float = CUT_THRESHOLD) -> list[int]:
    """Indices of frames that start a new shot (Bhattacharyya distance of colour histograms).

    Propagating pixels or flow across a cut copies content from an unrelated scene.
    """
    hists = [_hue_saturation_histogram(frame) for frame in frames]
    return [
        index
        for index in range(1, len(frames))
        if cv2.compareHist(hists[index - 1], hists[index], cv2.HISTCMP_BHATTACHARYYA) > threshold
    ]


def shots(count: int, cuts: list[int]) -> list[tuple[int, int]]:
    """(start, stop) frame ranges of the shots of a clip with `count` frames."""
    bounds = [0] + [c for c in cuts if 0 < c < count] + [count]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def temporal_prefill(frames: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Fill each hole pixel from the nearest frame (in time) where that pixel is visible.

    frames (T, H, W, C), holes (T, H, W) bool. Pixels hidden in every frame stay as they are. Two
    linear scans keep the cost O(T·H·W).
    """
    count = len(frames)
    before = frames.copy()
    age_before = np.full(holes.shape, np.inf)
    for t in range(1, count):
        take = holes[t]
        before[t][take] = before[t - 1][take]
        age_before[t][take] = np.where(holes[t - 1][take], age_before[t - 1][take] + 1, 1)
    age_before[~holes] = 0
    after = frames.copy()
    age_after = np.full(holes.shape, np.inf)
    age_after[~holes] = 0
    for t in range(count - 2, -1, -1):
        take = holes[t]
        after[t][take] = after[t + 1][take]
        age_after[t][take] = np.where(holes[t + 1][take], age_after[t + 1][take] + 1, 1)
    use_after = (age_after < age_before)[..., None]
    return np.where(use_after, after, before)


def dis_flow(source: np.ndarray, target: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Dense flow (2, H, W) from RGB `source` to `target` with OpenCV's DIS (x, y channels)."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    flow = dis.calc(
        cv2.cvtColor(source, cv2.COLOR_RGB2GRAY), cv2.cvtColor(target, cv2.COLOR_RGB2GRAY), None
    )
    return flow.transpose(2, 0, 1)


def harmonic_fill(values: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Replace `values` (C, H, W) inside `hole` (H, W) by the harmonic interpolation of its border.

    Solves the discrete Laplace equation on the hole pixels (4-neighbours; image borders act as
    no-flux), so the fill is the smoothest field that meets the known values at the boundary.
    """
    if not hole.any() or hole.all():
        return values.copy()
    height, width = hole.shape
    index = -np.ones(hole.shape, np.int64)
    ys, xs = np.nonzero(hole)
    index[ys, xs] = np.arange(len(ys))
    rows, cols, data = [], [], []
    diagonal = np.zeros(len(ys))
    rhs = np.zeros((len(ys), values.shape[0]))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        diagonal += inside
        ny, nx, src = ny[inside], nx[inside], np.nonzero(inside)[0]
        neighbour = index[ny, nx]
        unknown = neighbour >= 0
        rows.append(src[unknown])
        cols.append(neighbour[unknown])
        data.append(-np.ones(unknown.sum()))
        np.add.at(rhs, src[~unknown], values[:, ny[~unknown], nx[~unknown]].T)
    rows.append(np.arange(len(ys)))
    cols.append(np.arange(len(ys)))
    data.append(diagonal)
    matrix = sp.csc_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(ys), len(ys)),
    )
    # The matrix is symmetric and diagonally dominant: a symmetric ordering without pivoting
    # factorises it about a third faster than spsolve's default, to the same solution.
    solution = splu(
        matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0, options={"SymmetricMode": True}
    ).solve(rhs)
    filled = values.copy()
    filled[:, ys, xs] = np.asarray(solution).reshape(len(ys), -1).T
    return filled


SPATIAL_FILLS = ("auto", "mean", "harmonic", "telea", "fsr", "fsr_mean")
# `auto`: parts of a hole up to this many pixels take `fsr_mean`, larger ones `mean`. FSR models
# each block from the known pixels around it; in a small hole every block sees real context.
# Measured on 21 fixed holes (docs/benchmarks.md): up to 1,700 px `fsr_mean` beat `mean` on 11
# of 12 (+0.03 to +3.5 dB, once -0.44); from 2,400 px it ranged from -1.06 to +0.52.
FSR_MAX_AREA = 2000


def fsr_available() -> bool:
    """Whether OpenCV's contrib module `xphoto` (frequency selective reconstruction) is here:
    ultralytics pulls in the plain OpenCV build, whose files replace the contrib build's when
    it is installed after it (README, OpenCV's two builds)."""
    return hasattr(cv2, "xphoto")


def fsr_fill(frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill `hole` of one uint8 RGB frame by OpenCV contrib's frequency selective reconstruction
    (`xphoto.inpaint`, fast mode): each block is modelled as a sparse sum of Fourier basis
    functions fitted to the known pixels around it, so edges and texture continue into the
    hole where harmonic and Telea fills blur them; the smaller the hole, the more of it sees
    real context. Slower than those (0.2-0.6 s for a hole of 1,700-6,000 px on 2 cores,
    docs/benchmarks.md)."""
    if not fsr_available():
        raise RuntimeError(
            f"spatial fill 'fsr' needs cv2.xphoto, missing here. Fix: {OPENCV_CONTRIB_FIX}"
        )
    # OpenCV's colour order: fed RGB, the fill of a 10-frame test clip lost 0.8 dB
    source = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    filled = np.zeros_like(source)
    cv2.xphoto.inpaint(source, (~hole).astype(np.uint8), filled, cv2.xphoto.INPAINT_FSR_FAST)
    return cv2.cvtColor(filled, cv2.COLOR_BGR2RGB)


def spatial_fill(
    frame: np.ndarray, hole: np.ndarray, method: str = "mean", radius: int = 5
) -> np.ndarray:
    """Fill `hole` of one uint8 RGB frame from its surroundings.

    Where the background was never seen, texture invented inside the hole is mostly wrong, so
    smooth fills have the lower error. `harmonic`: the smoothest colour field meeting the hole
    border (`harmonic_fill`); best on smooth or textured areas, worst where a sharp edge crosses
    the hole. `telea`: OpenCV's fast marching fill, which continues edges but smears texture.
    `mean`: the average of the two, whose errors differ enough that the average beats both on
    most holes measured (docs/benchmarks.md, fill quality). `fsr` (`fsr_fill`) continues
    structure from the blocks around the hole: far better on small holes (in pixels), a gamble
    on larger ones; `fsr_mean`, the average of `fsr` and `mean`, keeps most of the gain and
    halves the loss. `auto` (the default): `fsr_mean` on the hole's small parts, `mean` on the
    rest (`small_parts_with_fsr`; the fill stage asks for it only where the holes stay put).
    """
    if method not in SPATIAL_FILLS:
        raise ValueError(f"unknown spatial fill {method!r} (one of {', '.join(SPATIAL_FILLS)})")
    if not hole.any():
        return frame
    if method == "telea":
        return cv2.inpaint(frame, hole.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    if method == "fsr":
        return np.where(hole[..., None], fsr_fill(frame, hole), frame)
    if method == "auto":
        return small_parts_with_fsr(frame, hole, spatial_fill(frame, hole, "mean", radius))
    smooth = harmonic_fill(frame.transpose(2, 0, 1).astype(np.float64), hole).transpose(1, 2, 0)
    if method in ("mean", "fsr_mean"):
        telea = cv2.inpaint(frame, hole.astype(np.uint8), radius, cv2.INPAINT_TELEA)
        smooth = (smooth + telea) / 2
    if method == "fsr_mean":
        smooth = (smooth + fsr_fill(frame, hole)) / 2
    out = frame.copy()
    out[hole] = np.clip(np.rint(smooth[hole]), 0, 255).astype(np.uint8)
    return out


def small_parts_with_fsr(frame: np.ndarray, hole: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """`mean` (the `mean` fill of `frame`) with each connected part of `hole` up to
    FSR_MAX_AREA pixels replaced by the average of that fill and FSR's. FSR runs on the
    `mean`-filled frame with only those parts missing: the large parts around them are not left
    for it to reconstruct (the cost of FSR grows with the missing area)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), 4)
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] <= FSR_MAX_AREA) + 1
    if not len(small):
        return mean
    part = np.isin(labels, small)
    blend = (mean[part].astype(np.float64) + fsr_fill(mean, part)[part]) / 2
    out = mean.copy()
    out[part] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out
