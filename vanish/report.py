"""Figures and tables of the Snakemake report (`snakemake --report report.html`).

Per sample: `preview.gif` (input | input with the mask in red | result, side by side, a short
loop), `frames.png` (the same three rows at a few moments, for print) and `metrics.tsv` (one
metric per row). For the dataset: `quality.png` (PSNR and SSIM distributions, hole-PSNR against
the Telea baseline, mask stability), `runtime.png` (seconds per frame per stage, from each sample's
metrics.json, in the stage table's order) and `samples.tsv` (one row per sample). Every file is
written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vanish import io
from vanish.atomic import atomic_file

GIF_COLORS = 96
MASK_RGB = np.array([255, 40, 40], dtype=np.float32)
# per-sample numbers of the dataset table (samples.tsv) besides frames and size
SAMPLE_COLUMNS = ("mask_coverage", "mask_stability", "psnr", "ssim", "hole_psnr", "telea_hole_psnr")


def overlay(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The frame with the mask's pixels tinted red (uint8 RGB)."""
    out = frame.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * MASK_RGB
    return out.round().astype(np.uint8)


def _thumb(rgb: np.ndarray, width: int) -> np.ndarray:
    height = max(2, round(rgb.shape[0] * width / rgb.shape[1]))
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))


def _picked(count: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `count` frames (all if fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def _triptych(frame: Path, mask: Path, result: Path, width: int) -> np.ndarray:
    """Input | input with the mask | result, side by side, each `width` pixels wide."""
    before = io.read_rgb(frame)
    hole = io.read_mask(mask)
    after = io.read_rgb(result)
    if after.shape != before.shape:  # results at another size than the input: compare at theirs
        before = np.asarray(Image.fromarray(before).resize(after.shape[1::-1], Image.BICUBIC))
        hole = np.asarray(Image.fromarray(hole).resize(after.shape[1::-1], Image.NEAREST))
    gap = np.full((round(width * before.shape[0] / before.shape[1]), 4, 3), 255, np.uint8)
    panels = [_thumb(before, width), _thumb(overlay(before, hole), width), _thumb(after, width)]
    return np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)


def sample_previews(
    frames_dir: str | Path,
    masks_dir: str | Path,
    inpainted_dir: str | Path,
    gif: str | Path,
    strip: str | Path,
    width: int,
    gif_frames: int,
    moments: int = 4,
) -> None:
    """Write the animated before/mask/after `gif` and the static `strip` of a few moments."""
    frames = io.list_images(io.original_frames_dir(frames_dir))
    masks = io.list_images(io.full_masks_dir(masks_dir))
    results = io.list_images(inpainted_dir)
    count = min(len(frames), len(masks), len(results))
    if count == 0:
        raise ValueError(f"no frames to preview in {inpainted_dir}")
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    picked = _picked(count, gif_frames)
    step = picked[1] - picked[0] if len(picked) > 1 else 1
    duration = round(1000 * step / meta.fps) if meta.fps > 0 else 100
    # the strip's moments are mostly among the loop's frames: each frame is read and drawn once
    drawn: dict[int, np.ndarray] = {}

    def triptych(index: int) -> np.ndarray:
        if index not in drawn:
            drawn[index] = _triptych(frames[index], masks[index], results[index], width)
        return drawn[index]

    images = [triptych(i) for i in picked]
    # one shared palette (from the first, middle and last frame) and no dithering keep the loop
    # small (0.4-1.2 MB for the demo clips) and free of per-frame palette flicker
    palette = Image.fromarray(np.concatenate(images[:: max(1, len(images) // 2)], axis=0))
    palette = palette.quantize(colors=GIF_COLORS, method=Image.Quantize.MEDIANCUT)
    loop = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE) for a in images]
    with atomic_file(gif) as tmp:
        loop[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=loop[1:],
            duration=max(20, duration),
            loop=0,
            optimize=True,
        )
    rows = [triptych(i) for i in _picked(count, moments)]
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    sheet = np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)
    with atomic_file(strip) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG", optimize=True)


def sample_report(
    frames_dir: str | Path,
    masks_dir: str | Path,
    inpainted_dir: str | Path,
    metrics: str | Path,
    gif: str | Path,
    strip: str | Path,
    table: str | Path,
    width: int,
    gif_frames: int,
) -> None:
    """The report stage of one sample: the before / mask / after figures and its metrics table."""
    sample_previews(frames_dir, masks_dir, inpainted_dir, gif, strip, width, gif_frames)
    write_sample_table(metrics, table)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def sample_table(metrics: dict) -> pd.DataFrame:
    """One sample's metrics as (metric, value) rows: quality, coverage, seconds per stage."""
    rows = [
        ("frames", metrics["frames"]),
        ("size", f"{metrics['width']}x{metrics['height']}"),
        ("mask coverage", metrics["mask_coverage"]),
    ]
    if metrics.get("mask_stability") is not None:  # absent in metrics.json files of older runs
        worst = ", ".join(f"{w['frame']} ({w['iou']:.3f})" for w in metrics["mask_stability_worst"])
        label = "mask stability (mean IoU with the previous mask, flow-warped)"
        rows.append((label, metrics["mask_stability"]))
        rows.append(("mask stability: worst frames (IoU)", worst))
    for key, label in (
        ("psnr", "PSNR (dB)"),
        ("ssim", "SSIM"),
        ("hole_psnr", "hole PSNR (dB)"),
        ("telea_hole_psnr", "hole PSNR of the Telea baseline (dB)"),
    ):
        if metrics.get(key) is not None:
            rows.append((label, metrics[key]))
    if metrics.get("hole_psnr") is not None and metrics.get("telea_hole_psnr") is not None:
        rows.append(("gain over Telea (dB)", metrics["hole_psnr"] - metrics["telea_hole_psnr"]))
    per_frame = metrics.get("seconds_per_frame", {})
    for stage in _ordered(per_frame):
        rows.append((f"seconds per frame: {stage}", per_frame[stage]))
    if per_frame:
        rows.append(("seconds per frame: all stages", sum(per_frame.values())))
    return pd.DataFrame([(k, _fmt(v)) for k, v in rows], columns=["metric", "value"])


def write_sample_table(metrics_json: str | Path, output: str | Path) -> None:
    """`metrics.tsv` of one sample from its `metrics.json`."""
    with atomic_file(output) as tmp:
        sample_table(io.read_json(metrics_json)).to_csv(tmp, sep="\t", index=False)


def _ordered(stages: Sequence[str] | dict) -> list[str]:
    """Stages in the stage table's run order; any other names follow, sorted."""
    from vanish.table import step_order

    order = step_order()
    known = [s for s in order if s in stages]
    return known + sorted(s for s in stages if s not in order)


def dataset_frames(metric_files: Sequence[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-sample quality rows and long-form (sample, stage, seconds_per_frame) runtime rows.

    Runtime is each sample's metrics.json `runtime_s` (its timed stages, from the stage table),
    divided by the sample's frame count.
    """
    quality, runtime = [], []
    for path in metric_files:
        metrics = io.read_json(path)
        sample, count = metrics["sample"], max(1, int(metrics["frames"]))
        row = {k: metrics.get(k) for k in ("sample", "frames", "width", "height")}
        for key in SAMPLE_COLUMNS:
            row[key] = metrics.get(key)
        quality.append(row)
        for stage, seconds in metrics.get("runtime_s", {}).items():
            runtime.append({"sample": sample, "stage": stage, "seconds_per_frame": seconds / count})
    quality_df = pd.DataFrame(quality)
    runtime_df = pd.DataFrame(runtime, columns=["sample", "stage", "seconds_per_frame"])
    if not runtime_df.empty:
        totals = runtime_df.groupby("sample")["seconds_per_frame"].sum()
        quality_df["seconds_per_frame"] = quality_df["sample"].map(totals)
    return quality_df, runtime_df


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.array([])
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return values[~np.isnan(values)]


def _distribution(
    axis, values: np.ndarray, title: str, unit: str, empty: str = "no ground truth"
) -> None:
    """A histogram; for fewer than 10 samples one dot per sample (a histogram says little)."""
    if values.size == 0:
        axis.text(0.5, 0.5, empty, ha="center", va="center", transform=axis.transAxes)
    elif values.size < 10:
        axis.scatter(values, np.zeros_like(values), color="#4c72b0", s=40, zorder=3)
        axis.set_yticks([])
    else:
        axis.hist(values, bins=min(30, values.size // 3), color="#4c72b0", alpha=0.8)
        axis.set_ylabel("samples")
    if values.size:
        axis.axvline(np.median(values), color="black", linestyle="--", linewidth=1)
        axis.set_xlabel(f"{unit} (median {np.median(values):.3g}, n={values.size})")
    axis.set_title(title)


def plot_quality(quality: pd.DataFrame, output: str | Path) -> None:
    """PSNR and SSIM histograms, a hole-PSNR vs Telea-baseline scatter and the mask stability
    histogram (flickering masks stand out on the low side)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    _distribution(axes[0], _numeric(quality, "psnr"), "PSNR per sample", "dB")
    _distribution(axes[1], _numeric(quality, "ssim"), "SSIM per sample", "SSIM")
    stability = _numeric(quality, "mask_stability")
    _distribution(axes[3], stability, "Mask stability per sample", "mean IoU", "no masks")
    both = quality.dropna(subset=[c for c in ("hole_psnr", "telea_hole_psnr") if c in quality])
    ours, telea = _numeric(both, "hole_psnr"), _numeric(both, "telea_hole_psnr")
    axis = axes[2]
    if ours.size and ours.size == telea.size:
        axis.scatter(telea, ours, color="#dd8452", zorder=3)
        low, high = min(ours.min(), telea.min()) - 1, max(ours.max(), telea.max()) + 1
        axis.plot([low, high], [low, high], color="grey", linewidth=1, label="equal")
        if len(both) <= 20:
            for name, x, y in zip(both["sample"], telea, ours, strict=True):
                axis.annotate(
                    str(name), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
        axis.set_xlabel("Telea baseline (dB)")
        axis.set_ylabel("this run (dB)")
        axis.legend(loc="lower right", fontsize=8)
    else:
        axis.text(0.5, 0.5, "no ground truth", ha="center", va="center", transform=axis.transAxes)
    axis.set_title("PSNR inside the hole")
    figure.tight_layout()
    with atomic_file(output) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def plot_runtime(runtime: pd.DataFrame, output: str | Path) -> None:
    """Seconds per frame of every stage over the samples (box per stage, one dot per sample)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = _ordered(sorted(set(runtime["stage"]))) if not runtime.empty else []
    figure, axis = plt.subplots(figsize=(max(6, 1.1 * len(stages) + 2), 4))
    if stages:
        values = [
            runtime.loc[runtime["stage"] == s, "seconds_per_frame"].to_numpy() for s in stages
        ]
        axis.boxplot(values, showfliers=False)
        axis.set_xticks(range(1, len(stages) + 1), stages)
        rng = np.random.default_rng(0)  # fixed jitter: the same data gives the same figure
        for index, data in enumerate(values, start=1):
            jitter = rng.uniform(-0.15, 0.15, data.size)
            axis.scatter(index + jitter, data, s=10, color="#4c72b0", alpha=0.6, zorder=3)
        medians = [np.median(v) for v in values]
        axis.set_title(
            f"Seconds per frame per stage ({runtime['sample'].nunique()} samples; "
            f"median total {sum(medians):.3g} s/frame)"
        )
    else:
        axis.text(
            0.5, 0.5, "no benchmark files", ha="center", va="center", transform=axis.transAxes
        )
        axis.set_title("Seconds per frame per stage")
    axis.set_ylim(bottom=0)
    axis.set_ylabel("seconds per frame")
    axis.set_xlabel("stage (Snakemake benchmark: wall-clock seconds / frames)")
    figure.tight_layout()
    with atomic_file(output) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def dataset_report(
    metric_files: Sequence[str | Path],
    quality_png: str | Path,
    runtime_png: str | Path,
    samples_tsv: str | Path,
) -> None:
    """The dataset-wide figures and the one-row-per-sample table."""
    quality, runtime = dataset_frames(metric_files)
    plot_quality(quality, quality_png)
    plot_runtime(runtime, runtime_png)
    table = quality.copy()
    if {"hole_psnr", "telea_hole_psnr"} <= set(table):
        gain = pd.to_numeric(table["hole_psnr"], errors="coerce") - pd.to_numeric(
            table["telea_hole_psnr"], errors="coerce"
        )
        table["gain_over_telea"] = gain
    with atomic_file(samples_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
