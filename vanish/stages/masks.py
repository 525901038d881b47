"""Stage `masks_from_files`: validate, binarise, resize and dilate user-given masks.

Writes the dilated masks at the processing size (what every later stage treats as the hole) and,
when the processing size differs from the input's, at the input's size (the pixels the final
composite may change), plus a summary of the hole coverage of every frame
(`vanish.masks.write_masks`; layout: `vanish.io.MaskFolderWriter`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.masks import write_masks


def _load_mask(sample: str, path: Path, size: tuple[int, int], warnings: list[str]) -> np.ndarray:
    """One mask file by `io.read_input_mask`'s rule, checked against the frames' size; a lossy
    file adds a warning (once per clip) that lands in the summary."""
    try:
        mask, lossy = io.read_input_mask(path)
    except ValueError as error:
        raise InputError(
            sample, path, "the mask image cannot be decoded", "replace the corrupt mask file"
        ) from error
    if lossy and not warnings:
        warnings.append(
            f"lossy mask file {path.name} ({path.suffix}): thresholded at mid-grey (> 127); "
            "give lossless PNG masks for exact edges"
        )
    if (mask.shape[1], mask.shape[0]) != size:
        raise InputError(
            sample,
            path,
            f"mask size {mask.shape[1]}x{mask.shape[0]} differs from the frames' "
            f"{size[0]}x{size[1]}",
            "give masks at the video's resolution",
        )
    return mask


def _refuse_full_masks(
    sample: str, paths: list[Path], masks: Iterator[np.ndarray], max_coverage: float
) -> Iterator[np.ndarray]:
    """Pass the masks on; fail at the end if every one removes more than `max_coverage` of its
    frame, which is almost always an inverted or misread mask rather than an intended result."""
    covered = []
    for mask in masks:
        covered.append(float(mask.mean()))
        yield mask
    if covered and min(covered) > max_coverage:
        raise InputError(
            sample,
            paths[0],
            f"every mask removes more than {max_coverage:.0%} of its frame (least: "
            f"{min(covered):.0%}), which is almost always an inverted or misread mask",
            "give masks that are non-zero (or palette index > 0) only on the object to remove; "
            "if the masks are right, raise config 'max_mask_coverage'",
        )


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
    paths = io.list_input_images(sample, mask_dir)
    if len(paths) == 1:
        return paths * frame_count
    if len(paths) != frame_count:
        raise InputError(
            sample,
            mask_dir,
            f"{len(paths)} mask images for {frame_count} frames",
            "give exactly one mask per frame (numbered like the frames), or a single mask "
            "for all frames",
        )
    return paths


def masks_from_files(
    sample: str,
    mask_dir: str | Path,
    frames_dir: str | Path,
    out_dir: str | Path,
    dilation: int,
    max_coverage: float,
    roi: Mapping[str, Any] | None,
) -> Path:
    """Validate `mask_dir` against the clip in `frames_dir` and write the stage folder.

    `roi`: regions of interest (`vanish.masks.write_masks`; None: whole frames)."""
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    paths = mask_paths(sample, mask_dir, meta.frame_count)
    warnings: list[str] = []
    masks = (_load_mask(sample, path, (meta.width, meta.height), warnings) for path in paths)
    with atomic_dir(out_dir) as tmp:
        write_masks(
            _refuse_full_masks(sample, paths, masks, max_coverage),
            meta,
            tmp,
            dilation,
            warnings,
            io.frame_repeats(frames_dir),
            roi,
            frames_dir,
        )
    return Path(out_dir)
