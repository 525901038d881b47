"""Stage `metrics`: quality against ground truth, mask coverage and per-stage runtime.

PSNR (uint8) and SSIM (scikit-image's definition, 65-pixel window as in the published
video-completion evaluations) per frame, averaged per video; PSNR inside the hole from the
squared error pooled over all hole pixels of the video; the same hole-PSNR for a per-frame
OpenCV Telea fill of the same frames and masks, as the baseline every backend must beat.
Runtime comes from Snakemake's `benchmark:` files.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from vanish import io
from vanish.atomic import atomic_file
from vanish.errors import InputError
from vanish.media import open_clip

PSNR_CAP = 100.0


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of uint8 images for a mean squared error; identical images give the cap."""
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10 * math.log10(255.0**2 / mse))


def box_ssim(truth: np.ndarray, result: np.ndarray, window: int) -> float:
    """scikit-image's `structural_similarity` (uniform window, sample covariance, uint8 range,
    channels averaged) with OpenCV box filters: the same value to ~1e-15 (tests/test_metrics.py)
    in about half the time of scipy's filters at 720p, where SSIM was most of the metrics
    stage (docs/benchmarks.md, Fixed cost per clip)."""
    x, y = truth.astype(np.float64), result.astype(np.float64)

    def mean(image: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(image, cv2.CV_64F, (window, window), borderType=cv2.BORDER_REFLECT)

    ux, uy = mean(x), mean(y)
    norm = window * window / (window * window - 1)
    vx, vy = norm * (mean(x * x) - ux * ux), norm * (mean(y * y) - uy * uy)
    vxy = norm * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (window - 1) // 2
    return float(s[pad : s.shape[0] - pad, pad : s.shape[1] - pad].mean(dtype=np.float64))


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


def telea(frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Per-frame OpenCV Telea fill, the baseline."""
    return cv2.inpaint(frame, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA) if hole.any() else frame


def _quality(
    sample: str,
    inpainted_dir: Path,
    frames_dir: Path,
    masks_dir: Path,
    truth_path: str,
    window: int,
    baseline: bool,
) -> dict:
    results = io.list_images(inpainted_dir)
    masked_inputs = io.list_images(io.original_frames_dir(frames_dir))
    holes = io.list_images(io.full_masks_dir(masks_dir))
    # a frame-folder ground truth has no frame rate of its own; it is not used here
    fps = io.read_clip_meta(io.clip_meta_path(frames_dir)).fps
    truth_frames, width, height, _, _ = open_clip(sample, truth_path, fps)
    per_frame, sse, values, telea_sse = [], 0.0, 0, 0.0
    count = 0
    for index, truth in enumerate(truth_frames):
        count = index + 1
        if index >= len(results):
            continue
        result, hole = io.read_rgb(results[index]), io.read_mask(holes[index])
        if truth.shape != result.shape:
            raise InputError(
                sample,
                truth_path,
                f"ground truth size {width}x{height} differs from "
                f"the video's {result.shape[1]}x{result.shape[0]}",
                "give ground truth at the input's resolution",
            )
        scores = frame_scores(result, truth, hole, window)
        sse, values = sse + scores["hole_sse"], values + scores["hole_values"]
        if baseline:
            filled = telea(io.read_rgb(masked_inputs[index]), hole)
            telea_sse += float(((filled.astype(np.float64) - truth) ** 2)[hole].sum())
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
) -> Path:
    """Write `metrics.json` for one sample.

    `ground_truth`: the sheet's ground-truth video or frame folder ("" for none);
    `benchmark_files`: the timing files of the sample's timed stages; `selection`: the prompt
    path's selection.json ("" for a mask-file sample).
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
