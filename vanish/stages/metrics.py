"""Stage `metrics`: quality against ground truth, mask coverage and per-stage runtime.

PSNR (uint8) and SSIM (scikit-image's definition, 65-pixel window as in the published
video-completion evaluations) per frame, averaged per video; PSNR inside the hole from the
squared error pooled over all hole pixels of the video; the same hole-PSNR for a per-frame
OpenCV Telea fill of the same frames and masks, as the baseline every backend must beat.
Runtime comes from Snakemake's `benchmark:` files. Mask stability (`vanish.stability`: the
IoU of each mask with its predecessor carried along the input's optical flow) is scored for every
sample, with or without ground truth.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from vanish import io
from vanish.atomic import atomic_file
from vanish.errors import InputError
from vanish.media import open_clip
from vanish.stability import stability_of_files

PSNR_CAP = 100.0


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of uint8 images for a mean squared error; identical images give the cap."""
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10 * math.log10(255.0**2 / mse))


def box_ssim(truth: np.ndarray, result: np.ndarray, window: int) -> float:
    """scikit-image's `structural_similarity` (uniform window, sample covariance, uint8 range,
    channels averaged) with OpenCV box filters: the same value to ~1e-15 (tests/test_metrics.py)
    in a fraction of the time of scipy's filters at 720p, where SSIM was most of the metrics
    stage (docs/benchmarks.md, Fixed cost per clip). The pointwise formula runs only on the
    interior that the mean keeps, in place, as it dominated the stage's time."""
    x, y = truth.astype(np.float64), result.astype(np.float64)
    pad = (window - 1) // 2
    inner = (slice(pad, x.shape[0] - pad), slice(pad, x.shape[1] - pad))

    def mean(image: np.ndarray) -> np.ndarray:
        blurred = cv2.boxFilter(image, cv2.CV_64F, (window, window), borderType=cv2.BORDER_REFLECT)
        return blurred[inner]

    ux, uy = mean(x), mean(y)
    squares = mean(x * x)
    squares += mean(y * y)  # E[x²] + E[y²]
    cross = mean(np.multiply(x, y, out=x))
    norm = window * window / (window * window - 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    uxuy = ux * uy
    means = np.multiply(ux, ux, out=ux)
    means += np.multiply(uy, uy, out=uy)  # ux² + uy²
    cross -= uxuy
    cross *= 2 * norm
    cross += c2  # 2 vxy + c2
    squares -= means
    squares *= norm
    squares += c2  # vx + vy + c2
    uxuy *= 2
    uxuy += c1
    uxuy *= cross  # numerator
    means += c1
    means *= squares  # denominator
    uxuy /= means
    return float(uxuy.mean(dtype=np.float64))


def frame_scores(result: np.ndarray, truth: np.ndarray, hole: np.ndarray, window: int) -> dict:
    """PSNR, SSIM and the hole's squared-error sum and size for one frame."""
    diff = (result.astype(np.float64) - truth.astype(np.float64)) ** 2
    side = min(truth.shape[:2])
    window = min(window, side if side % 2 else side - 1)
    return {
        "psnr": psnr_from_mse(float(diff.mean())),
        "ssim": box_ssim(truth, result, window),
        "hole_sse": float(diff[hole].sum()),
        "hole_values": int(hole.sum()) * truth.shape[2],
    }


TELEA_RADIUS = 3
# Context kept around the hole's bounding box: Telea fills each hole pixel from known or filled
# pixels within its radius, so pixels farther than the radius from the hole never take part;
# the margin adds a few pixels on top (docs/benchmarks.md, Fixed cost per clip).
TELEA_MARGIN = 2 * TELEA_RADIUS + 2


def hole_box(hole: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the hole's bounding box grown by `margin`, clipped to the frame."""
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    top, bottom = max(0, rows[0] - margin), min(hole.shape[0], rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(hole.shape[1], cols[-1] + 1 + margin)
    return slice(top, bottom), slice(left, right)


def telea(frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Per-frame OpenCV Telea fill, the baseline: only the hole's bounding box plus a margin is
    inpainted (a 720p frame with a small hole costs a fraction of a whole-frame fill)."""
    if not hole.any():
        return frame
    box = hole_box(hole, TELEA_MARGIN)
    filled = frame.copy()
    patch = np.ascontiguousarray(frame[box])
    mask = np.ascontiguousarray(hole[box]).astype(np.uint8)
    filled[box] = cv2.inpaint(patch, mask, TELEA_RADIUS, cv2.INPAINT_TELEA)
    return filled


def _frame_quality(
    result_path: Path, hole_path: Path, input_path: Path | None, truth: np.ndarray, window: int
) -> dict:
    """One frame's scores, and the Telea baseline's hole error if `input_path` is given (the
    masked input frame). Each PNG is read once."""
    result, hole = io.read_rgb(result_path), io.read_mask(hole_path)
    if truth.shape != result.shape:
        return {"shape": result.shape}
    scores = frame_scores(result, truth, hole, window)
    if input_path is not None:
        filled = telea(io.read_rgb(input_path), hole)
        scores["telea_sse"] = float(((filled[hole].astype(np.float64) - truth[hole]) ** 2).sum())
    return scores


def _scored_frames(
    truth_frames: Iterator[np.ndarray], work: Callable[[int, np.ndarray], dict], threads: int
) -> Iterator[dict]:
    """`work(index, truth)` for every ground-truth frame, in order, on `threads` threads
    (OpenCV and NumPy release the GIL), with at most two frames a thread in memory."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending: deque[Future[dict]] = deque()
        for index, truth in enumerate(truth_frames):
            pending.append(pool.submit(work, index, truth))
            if len(pending) >= 2 * max(1, threads):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def stability_masks_dir(masks_dir: str | Path) -> Path:
    """The whole-frame masks mask stability compares: the processing-size ones, or, where the
    mask stage chose regions of interest (whose `proc/` holds the regions' holes, not whole
    frames), the input-size ones (`vanish.stability` scales the flow to the masks' size)."""
    if io.read_roi(masks_dir) is None:
        return io.processing_masks_dir(masks_dir)
    return io.full_masks_dir(masks_dir)


def _quality(
    sample: str,
    inpainted_dir: Path,
    frames_dir: Path,
    masks_dir: Path,
    truth_path: str,
    window: int,
    baseline: bool,
    threads: int,
) -> dict:
    results = io.list_images(inpainted_dir)
    masked_inputs = io.list_images(io.original_frames_dir(frames_dir))
    holes = io.list_images(io.full_masks_dir(masks_dir))
    # a frame-folder ground truth has no frame rate of its own; it is not used here
    fps = io.read_clip_meta(io.clip_meta_path(frames_dir)).fps
    truth_frames, width, height, _, _ = open_clip(sample, truth_path, fps)

    def work(index: int, truth: np.ndarray) -> dict:
        if index >= len(results):
            return {}
        source = masked_inputs[index] if baseline else None
        return _frame_quality(results[index], holes[index], source, truth, window)

    per_frame, sse, values, telea_sse = [], 0.0, 0, 0.0
    count = 0
    for scores in _scored_frames(truth_frames, work, threads):
        count += 1
        if "shape" in scores:
            raise InputError(
                sample,
                truth_path,
                f"ground truth size {width}x{height} differs from "
                f"the video's {scores['shape'][1]}x{scores['shape'][0]}",
                "give ground truth at the input's resolution",
            )
        if scores:
            sse, values = sse + scores["hole_sse"], values + scores["hole_values"]
            telea_sse += scores.get("telea_sse", 0.0)
            per_frame.append({"psnr": scores["psnr"], "ssim": scores["ssim"]})
    if count != len(results):
        raise InputError(
            sample,
            truth_path,
            f"ground truth has {count} frames, the video {len(results)}",
            "give ground truth with the same frame count",
        )
    quality = {
        "psnr": float(np.mean([f["psnr"] for f in per_frame])),
        "ssim": float(np.mean([f["ssim"] for f in per_frame])),
        "hole_psnr": psnr_from_mse(sse / values) if values else None,
        "per_frame": per_frame,
    }
    if baseline:
        quality["telea_hole_psnr"] = psnr_from_mse(telea_sse / values) if values else None
    return quality


def compute_metrics(
    sample: str,
    inpainted_dir: str | Path,
    frames_dir: str | Path,
    masks_dir: str | Path,
    output: str | Path,
    ground_truth: str,
    benchmark_files: list[str | Path],
    ssim_window: int,
    baseline: bool,
    selection: str,
    threads: int,
) -> Path:
    """Write `metrics.json` for one sample.

    `ground_truth`: the sheet's ground-truth video or frame folder ("" for none);
    `benchmark_files`: the timing files of the sample's timed stages; `selection`: the prompt
    path's selection.json ("" for a mask-file sample); `threads`: frames scored at once.
    """
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    summary = io.read_mask_summary(masks_dir)
    runtime = io.runtime_from_benchmarks(list(benchmark_files))
    computed = len(io.computed_indices(masks_dir))  # the rest reuse a repeat's result
    metrics = {
        "sample": sample,
        "frames": meta.frame_count,
        "width": meta.width,
        "height": meta.height,
        "frames_computed": computed,
        "frames_reused": meta.frame_count - computed,
        "mask_coverage": summary["coverage"],
        "empty_mask": summary["empty"],
        "runtime_s": runtime,
        "seconds_per_frame": {k: v / meta.frame_count for k, v in runtime.items()},
    }
    if "warnings" in summary:
        metrics["mask_warnings"] = summary["warnings"]
    if meta.warnings:
        metrics["clip_warnings"] = meta.warnings
    # every sample, file masks and prompt masks alike: flickering masks make flickering results
    metrics.update(
        stability_of_files(
            io.list_images(io.processing_frames_dir(frames_dir)),
            io.list_images(stability_masks_dir(masks_dir)),
            threads,
        )
    )
    if selection:
        chosen = io.read_selection(selection)
        metrics["prompt_outcome"] = chosen.get("outcome")
        metrics["prompt_passthrough"] = bool(chosen.get("passthrough", False))
    if ground_truth:
        metrics.update(
            _quality(
                sample,
                Path(inpainted_dir),
                Path(frames_dir),
                Path(masks_dir),
                ground_truth,
                ssim_window,
                baseline,
                threads,
            )
        )
    with atomic_file(output) as tmp:
        io.write_json(tmp, metrics)
    return Path(output)


def aggregate_metrics(metric_files: list[str | Path], output: str | Path) -> Path:
    """One CSV row per sample from the per-sample `metrics.json` files (no per-frame lists)."""
    rows = []
    for path in metric_files:
        metrics = io.read_json(path)
        row = {k: v for k, v in metrics.items() if not isinstance(v, dict | list)}
        row.update({f"seconds_per_frame_{k}": v for k, v in metrics["seconds_per_frame"].items()})
        rows.append(row)
    with atomic_file(output) as tmp:
        table = pd.DataFrame(rows)
        table = table[["sample"] + [c for c in table.columns if c != "sample"]]
        table.to_csv(tmp, index=False, float_format="%.4f")
    return Path(output)
