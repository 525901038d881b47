"""Stage `frames`: decode a video (or read a frame folder) into lossless numbered PNGs.

Writes the frames at the processing size (sides floored to multiples of 8, optionally capped), and
at the input's size when the two differ, so the result can be composited at the input's own
resolution, plus the clip's `io.ClipMeta` (fps, sizes, frame count, audio presence, timing, SAR,
colour), for a video file its frame timestamps (`io.ClipTimes`), so the encode stage can show
every frame when the input did (docs/architecture.md §2.1), and which frames repeat the previous
ones (`vanish.repeats`, `io.write_repeats`). The folder's layout is `vanish.io`'s
(`processing_frames_dir`, `original_frames_dir`, `clip_meta_path`, `clip_times_path`,
`repeats_path`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.media import FrameLog, open_clip, probe_frames
from vanish.repeats import PixelRuns

MULTIPLE = 8
CFR_RATE_TOLERANCE = 0.005  # uniform gaps this close to 1/fps are the constant-rate path


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
    log = None if Path(video).is_dir() else _frame_log(sample, Path(video))
    with atomic_dir(out_dir) as tmp:
        runs = PixelRuns(reuse_repeats, repeat_tolerance)
        count = _write_frames(
            sample, Path(video), frames, tmp, (width, height), (proc_w, proc_h), runs
        )
        io.write_repeats(tmp, runs.sources, repeat_tolerance)
        meta = io.ClipMeta(sample, str(video), fps, count, width, height, proc_w, proc_h, has_audio)
        if log is not None:
            meta.timing, times, meta.warnings = clip_timing(log, count, fps)
            meta.sar, meta.color = list(log.sar), dict(log.color)
            meta.warnings += picture_warnings(log.pix_fmt)
            io.write_clip_times(tmp, times)
        io.write_clip_meta(io.clip_meta_path(tmp), meta)
    return Path(out_dir)


def _frame_log(sample: str, video: Path) -> FrameLog:
    try:
        return probe_frames(video)
    except ValueError as error:
        raise InputError(
            sample,
            video,
            f"its frames cannot be decoded ({error})",
            "re-encode or re-download the file, or remove the sample",
        ) from error


def clip_timing(log: FrameLog, count: int, fps: float) -> tuple[str, io.ClipTimes, list[str]]:
    """How `removed.mp4` places the frames in time: timing, durations and warnings.

    "cfr" when the gaps between timestamps are equal (within the one tick of rounding) and
    match `fps`: encoded at `fps`, as a constant-rate clip always was. "vfr" otherwise: encoded
    with each frame's own duration, so timestamps and length are kept. "retimed" when the
    timestamps cannot be kept (missing, not increasing, or not one per decoded frame): encoded
    at `fps`, with a warning. A stream starting after the file's start is moved to 0 (warned).
    """
    base, pts = log.time_base, log.pts
    problem = _timestamp_problem(pts, count)
    if problem:
        warning = f"{problem}: removed.mp4 shows the frames at a constant {fps:g} fps"
        return "retimed", io.ClipTimes(base, pts, []), [warning]
    gaps = [b - a for a, b in zip(pts, pts[1:], strict=False)]
    own = log.durations[-1] if log.durations else 0
    last = own if own > 0 else (int(statistics.median(gaps)) if gaps else round(base / fps))
    times = io.ClipTimes(base, pts, [*gaps, last])
    warnings = []
    if pts[0] > 0:
        warnings.append(
            f"the video stream starts {pts[0] / base:.3f} s into the file: removed.mp4 starts "
            "it at 0"
        )
    uniform = not gaps or max(gaps) - min(gaps) <= 1
    rate_ok = not gaps or abs(statistics.mean(gaps) * fps / base - 1) <= CFR_RATE_TOLERANCE
    return ("cfr" if uniform and rate_ok else "vfr"), times, warnings


def _timestamp_problem(pts: list[int | None], count: int) -> str:
    """Why the timestamps cannot be kept ("" when they can)."""
    if len(pts) != count:
        return f"{len(pts)} timestamps for {count} decoded frames"
    missing = [i for i, t in enumerate(pts) if t is None]
    if missing:
        return f"frame {missing[0]} has no timestamp"
    back = [i + 1 for i, (a, b) in enumerate(zip(pts, pts[1:], strict=False)) if b <= a]
    return f"frame {back[0]}'s timestamp does not increase" if back else ""


def picture_warnings(pix_fmt: str) -> list[str]:
    """The choices `removed.mp4` (8-bit yuv420p, what every player decodes) makes for the
    input's pixel format: chroma subsampled to 4:2:0, samples reduced to 8 bits."""
    warnings = []
    chroma = re.search(r"4[0-4][0-4]|41[01]", pix_fmt)
    if chroma and chroma.group() != "420":
        sampling = ":".join(chroma.group())
        warnings.append(f"{pix_fmt} input: chroma {sampling} written as 4:2:0 in removed.mp4")
    depth = re.search(r"p(9|1[0-6])", pix_fmt)
    if depth:
        warnings.append(f"{pix_fmt} input: {depth.group(1)}-bit samples written as 8-bit")
    return warnings


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
