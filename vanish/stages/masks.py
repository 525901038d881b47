"""Stage `masks_from_files`: validate, binarise, resize and dilate user-given masks.

Writes the dilated masks at the processing size (what every later stage treats as the hole) and,
when the processing size differs from the input's, at the input's size (the pixels the final
composite may change), plus a summary of the hole coverage of every frame
(`vanish.masks.write_masks`; layout: `vanish.io.MaskFolderWriter`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.masks import write_masks


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


def masks_from_files(
    sample: str,
    mask_dir: str | Path,
    frames_dir: str | Path,
    out_dir: str | Path,
    dilation: int,
) -> Path:
    """Validate `mask_dir` against the clip in `frames_dir` and write the stage folder."""
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    paths = mask_paths(sample, mask_dir, meta.frame_count)
    masks = (_load_mask(sample, path, (meta.width, meta.height)) for path in paths)
    with atomic_dir(out_dir) as tmp:
        write_masks(masks, meta, tmp, dilation)
    return Path(out_dir)
