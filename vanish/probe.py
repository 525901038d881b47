"""Clip facts from headers only, for checks while Snakemake plans.

The sample sheet is validated in every planning process (and every cluster job re-plans), so this
module decodes no clip and imports neither OpenCV nor any model library: image headers through
Pillow, video headers through ffprobe (or the first header ffmpeg prints when ffprobe is absent).
"""

from __future__ import annotations

import shutil
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def clip_shape(path: str | Path) -> tuple[int | None, int, int]:
    """(frame count, or None when the header does not say; width; height) of a video file or a
    frame folder; ValueError if unreadable."""
    path = Path(path)
    if path.is_dir():
        return _folder_shape(path)
    if shutil.which("ffprobe"):
        return _ffprobe_shape(path)
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        width, height = next(reader)["size"]
    except (OSError, RuntimeError, StopIteration) as error:
        raise ValueError("no readable video stream") from error
    finally:
        reader.close()
    return None, int(width), int(height)


def _folder_shape(folder: Path) -> tuple[int, int, int]:
    """Image count and the first image's size (its header only)."""
    from PIL import Image

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder} holds no images")
    try:
        with Image.open(paths[0]) as image:
            return len(paths), image.width, image.height
    except OSError as error:
        raise ValueError(f"cannot read {paths[0]}") from error


def _ffprobe_shape(path: Path) -> tuple[int | None, int, int]:
    """The first video stream's `nb_frames` (when the container records it) and size."""
    import ffmpeg

    try:
        streams = ffmpeg.probe(str(path), select_streams="v:0")["streams"]
    except ffmpeg.Error as error:
        raise ValueError("ffprobe cannot read it") from error
    if not streams:
        raise ValueError("no video stream")
    count = str(streams[0].get("nb_frames", ""))
    return (int(count) if count.isdigit() else None), streams[0]["width"], streams[0]["height"]
