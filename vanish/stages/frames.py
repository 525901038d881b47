"""Stage `frames`: decode a video (or read a frame folder) into lossless numbered PNGs.

Writes the frames at the processing size (sides floored to multiples of 8, optionally capped), and
at the input's size when the two differ, so the result can be composited at the input's own
resolution, plus the clip's `io.ClipMeta` (fps, sizes, frame count, audio presence) and which
frames repeat the previous ones (`vanish.repeats`, `io.write_repeats`). The folder's layout is
`vanish.io`'s (`processing_frames_dir`, `original_frames_dir`, `clip_meta_path`, `repeats_path`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.media import open_clip
from vanish.repeats import PixelRuns

MULTIPLE = 8


def processing_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) to process at: scaled so the longer side ≤ max_side, floored to ×8."""
    scale = 1.0
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
    proc_w = int(width * scale) // MULTIPLE * MULTIPLE
    proc_h = int(height * scale) // MULTIPLE * MULTIPLE
    return proc_w, proc_h


def resize_rgb(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize as the reference pipeline does (Pillow); identity if already that size."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.BICUBIC))


def extract_frames(
    sample: str,
    video: str | Path,
    out_dir: str | Path,
    max_side: int | None,
    folder_fps: float,
    reuse_repeats: bool,
    repeat_tolerance: float,
) -> Path:
    """Decode `video` (file or frame folder) into `out_dir`; returns `out_dir`.

    `reuse_repeats`, `repeat_tolerance`: config `repeats` (find repeated frames, and γ).
    """
    frames, width, height, fps, has_audio = open_clip(sample, video, folder_fps)
    proc_w, proc_h = processing_size(width, height, max_side)
    if proc_w < MULTIPLE or proc_h < MULTIPLE:
        raise InputError(
            sample,
            video,
            f"frames of {width}x{height} are too small to process",
            "use a clip of at least 8x8 pixels",
        )
    with atomic_dir(out_dir) as tmp:
        runs = PixelRuns(reuse_repeats, repeat_tolerance)
        count = _write_frames(
            sample, Path(video), frames, tmp, (width, height), (proc_w, proc_h), runs
        )
        io.write_repeats(tmp, runs.sources, repeat_tolerance)
        meta = io.ClipMeta(sample, str(video), fps, count, width, height, proc_w, proc_h, has_audio)
        io.write_clip_meta(io.clip_meta_path(tmp), meta)
    return Path(out_dir)


def _write_frames(
    sample: str,
    video: Path,
    frames: Iterator[np.ndarray],
    out: Path,
    size: tuple[int, int],
    proc_size: tuple[int, int],
    runs: PixelRuns,
) -> int:
    writer = io.FramesFolderWriter(out, resized=size != proc_size)
    count = 0
    try:
        for count, frame in enumerate(frames, start=1):
            writer.write(count - 1, resize_rgb(frame, proc_size), frame)
            runs.add(frame)
    except ValueError as error:
        raise InputError(
            sample,
            video,
            f"decoding failed after {count} frames ({error})",
            "the file is truncated or corrupt: re-encode or re-download it",
        ) from error
    if count == 0:
        raise InputError(sample, video, "the video has no frames", "check the file")
    return count
