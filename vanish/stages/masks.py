"""Stage `masks_from_files`: validate, binarise, resize and dilate user-given masks.

Writes `proc/` (dilated, processing size: what every later stage treats as the hole) and, when
the processing size differs from the input's, `full/` (dilated at the input's size: the pixels the
final composite may change). `summary.json` records the hole coverage of every frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.masks import dilate, resize_nearest


def _load_mask(sample: str, path: Path, size: tuple[int, int]) -> np.ndarray:
    try:
        mask = io.read_mask(path)
    except ValueError as error:
        raise InputError(
            sample, path, "the mask image cannot be decoded", "replace the corrupt mask file"
        ) from error
    if (mask.shape[1], mask.shape[0]) != size:
        raise InputError(
            sample,
            path,
            f"mask size {mask.shape[1]}x{mask.shape[0]} differs from the frames' "
            f"{size[0]}x{size[1]}",
            "give masks at the video's resolution",
        )
    return mask


def mask_paths(sample: str, mask_dir: str | Path, frame_count: int) -> list[Path]:
    """The mask file of every frame; one single mask is used for every frame."""
    mask_dir = Path(mask_dir)
    if not mask_dir.is_dir():
        raise InputError(
            sample,
            mask_dir,
            "the mask folder does not exist",
            "give a folder of per-frame PNG masks in the 'masks' column",
        )
    paths = io.list_images(mask_dir)
    if len(paths) == 1:
        return paths * frame_count
    if len(paths) != frame_count:
        raise InputError(
            sample,
            mask_dir,
            f"{len(paths)} mask images for {frame_count} frames",
            "give exactly one mask per frame (sorted by name like the frames), or a single mask "
            "for all frames",
        )
    return paths


def write_masks(masks: Iterable[np.ndarray], meta: io.ClipMeta, out: Path, dilation: int) -> dict:
    """Dilate full-size bool masks, write `proc/`, `full/` (if resized) and return the summary."""
    proc_size = (meta.proc_width, meta.proc_height)
    (out / "proc").mkdir(parents=True)
    if meta.resized:
        (out / "full").mkdir()
    coverage = []
    for index, mask in enumerate(masks):
        proc = dilate(resize_nearest(mask, proc_size), dilation)
        io.write_mask(out / "proc" / io.frame_name(index), proc)
        if meta.resized:
            full = dilate(mask, dilation) | resize_nearest(proc, (meta.width, meta.height))
            io.write_mask(out / "full" / io.frame_name(index), full)
        coverage.append(float(proc.mean()))
    summary = {
        "sample": meta.sample,
        "dilation": dilation,
        "coverage_per_frame": coverage,
        "coverage": float(np.mean(coverage)) if coverage else 0.0,
        "empty": not any(coverage),
    }
    io.write_json(out / "summary.json", summary)
    return summary


def masks_from_files(
    sample: str,
    mask_dir: str | Path,
    frames_dir: str | Path,
    out_dir: str | Path,
    dilation: int = 4,
) -> Path:
    """Validate `mask_dir` against the clip in `frames_dir` and write the stage folder."""
    meta = io.read_clip_meta(Path(frames_dir) / "meta.json")
    paths = mask_paths(sample, mask_dir, meta.frame_count)
    masks = (_load_mask(sample, path, (meta.width, meta.height)) for path in paths)
    with atomic_dir(out_dir) as tmp:
        write_masks(masks, meta, tmp, dilation)
    return Path(out_dir)


def full_masks_dir(masks_dir: str | Path) -> Path:
    """The folder holding dilated masks at the input's own resolution."""
    masks_dir = Path(masks_dir)
    return masks_dir / "full" if (masks_dir / "full").is_dir() else masks_dir / "proc"
