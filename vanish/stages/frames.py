"""Stage `frames`: decode a video (or read a frame folder) into lossless numbered PNGs.

Writes `proc/` at the processing size (sides floored to multiples of 8, optionally capped), and
`orig/` at the input's size when the two differ, so the result can be composited at the input's
own resolution. `meta.json` records fps, sizes, frame count and audio presence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.media import decode_frames, probe_video

MULTIPLE = 8


def processing_size(width: int, height: int, max_side: int | None = None) -> tuple[int, int]:
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


def _read_folder(sample: str, folder: Path) -> tuple[Iterator[np.ndarray], int, int]:
    paths = io.list_images(folder)
    if not paths:
        raise InputError(
            sample,
            folder,
            "the frame folder holds no images",
            "put the frames (PNG/JPG, sorted by name) in that folder",
        )
    first = _read_image(sample, paths[0])
    height, width = first.shape[:2]

    def frames() -> Iterator[np.ndarray]:
        for path in paths:
            frame = _read_image(sample, path)
            if frame.shape[:2] != (height, width):
                raise InputError(
                    sample,
                    path,
                    f"frame size {frame.shape[1]}x{frame.shape[0]} "
                    f"differs from the first frame's {width}x{height}",
                    "give every frame of a clip the same size",
                )
            yield frame

    return frames(), width, height


def _read_image(sample: str, path: Path) -> np.ndarray:
    try:
        return io.read_rgb(path)
    except ValueError as error:
        raise InputError(
            sample, path, "the image cannot be decoded", "replace or remove the corrupt frame"
        ) from error


def open_clip(
    sample: str, video: str | Path, folder_fps: float = 24.0
) -> tuple[Iterator[np.ndarray], int, int, float, bool]:
    """Frames (lazy iterator), width, height, fps and audio presence of a file or frame folder."""
    video = Path(video)
    if not video.exists():
        raise InputError(sample, video, "the video does not exist", "correct the sample sheet")
    if video.is_dir():
        frames, width, height = _read_folder(sample, video)
        return frames, width, height, folder_fps, False
    try:
        info = probe_video(video)
    except ValueError as error:
        raise InputError(
            sample,
            video,
            f"not a readable video ({error})",
            "re-encode or re-download the file, or remove the sample",
        ) from error
    return decode_frames(video, info), info.width, info.height, info.fps, info.has_audio


def extract_frames(
    sample: str,
    video: str | Path,
    out_dir: str | Path,
    max_side: int | None = None,
    folder_fps: float = 24.0,
) -> Path:
    """Decode `video` (file or frame folder) into `out_dir`; returns `out_dir`."""
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
        count = _write_frames(sample, Path(video), frames, tmp, (width, height), (proc_w, proc_h))
        meta = io.ClipMeta(sample, str(video), fps, count, width, height, proc_w, proc_h, has_audio)
        io.write_clip_meta(tmp / "meta.json", meta)
    return Path(out_dir)


def _write_frames(
    sample: str,
    video: Path,
    frames: Iterator[np.ndarray],
    out: Path,
    size: tuple[int, int],
    proc_size: tuple[int, int],
) -> int:
    resized = size != proc_size
    (out / "proc").mkdir()
    if resized:
        (out / "orig").mkdir()
    count = 0
    try:
        for count, frame in enumerate(frames, start=1):
            io.write_rgb(out / "proc" / io.frame_name(count - 1), resize_rgb(frame, proc_size))
            if resized:
                io.write_rgb(out / "orig" / io.frame_name(count - 1), frame)
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


def original_frames_dir(frames_dir: str | Path) -> Path:
    """The folder holding frames at the input's own resolution."""
    frames_dir = Path(frames_dir)
    return frames_dir / "orig" if (frames_dir / "orig").is_dir() else frames_dir / "proc"
