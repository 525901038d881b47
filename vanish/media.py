"""Reading a user's clip (a video file or a frame folder) and encoding the result.

Video decoding, probing and encoding go through ffmpeg (ffmpeg-python, argument lists only).

No system ffmpeg is required: the binary shipped by imageio-ffmpeg is used when `ffmpeg` is not
on PATH. ffprobe is optional too: without it, the stream facts come from ffmpeg's own header dump
as parsed by imageio-ffmpeg.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
import numpy as np

from vanish import io
from vanish.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts needed to decode a clip and to encode the result alike."""

    fps: float
    width: int
    height: int
    has_audio: bool


def ffmpeg_exe() -> str:
    """The ffmpeg binary: the system one if present, else imageio-ffmpeg's bundled build."""
    return shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path: str | Path) -> VideoInfo:
    """fps, size and audio presence of a video file; ValueError if it has no video stream."""
    if shutil.which("ffprobe"):
        return _probe_with_ffprobe(path)
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as error:
        raise ValueError(_stream_problem(path)) from error
    finally:
        reader.close()
    width, height = meta["size"]
    return VideoInfo(float(meta["fps"]), int(width), int(height), bool(meta.get("audio_codec")))


def _stream_problem(path: str | Path) -> str:
    """Why ffmpeg finds no decodable video in `path`, in one line."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)]
    header = subprocess.run(command, capture_output=True, text=True, check=False).stderr
    if "Audio:" in header and "Video:" not in header:
        return "the file has audio but no video stream"
    last = [line.strip() for line in header.splitlines() if line.strip()]
    return f"no decodable video stream ({last[-1] if last else 'ffmpeg printed nothing'})"


def _probe_with_ffprobe(path: str | Path) -> VideoInfo:
    try:
        info = ffmpeg.probe(str(path))
    except ffmpeg.Error as error:
        raise ValueError(
            f"ffprobe failed: {error.stderr.decode(errors='replace')[-300:]}"
        ) from error
    video = [s for s in info["streams"] if s.get("codec_type") == "video"]
    if not video:
        raise ValueError("no video stream")
    num, den = video[0].get("avg_frame_rate", "0/1").split("/")
    fps = float(num) / float(den) if float(den) else 0.0
    has_audio = any(s.get("codec_type") == "audio" for s in info["streams"])
    return VideoInfo(fps, int(video[0]["width"]), int(video[0]["height"]), has_audio)


def decode_frames(path: str | Path, info: VideoInfo) -> Iterator[np.ndarray]:
    """Yield the video's frames as uint8 RGB (H, W, 3), one at a time (bounded memory).

    Raises ValueError when ffmpeg reports a decoding error, so a truncated file is not mistaken
    for a short clip.
    """
    process = (
        ffmpeg.input(str(path))
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
        .global_args("-nostdin", "-loglevel", "error", "-xerror")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    )
    frame_bytes = info.width * info.height * 3
    try:
        while True:
            buffer = process.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            yield np.frombuffer(buffer, np.uint8).reshape(info.height, info.width, 3)
    finally:
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        code = process.wait()
    if code != 0:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise ValueError(f"ffmpeg stopped with: {lines[-1] if lines else code}")


def _read_folder(sample: str, folder: Path) -> tuple[Iterator[np.ndarray], int, int]:
    paths = io.list_input_images(sample, folder)
    if not paths:
        raise InputError(
            sample,
            folder,
            "the frame folder holds no images",
            "put the frames (PNG/JPG, numbered in order) in that folder",
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
    sample: str, video: str | Path, folder_fps: float
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


def encode_video(
    frame_folder: str | Path,
    fps: float,
    output: str | Path,
    crf: int,
    audio_source: str | Path | None = None,
) -> None:
    """Encode `00000.png…` to H.264 yuv420p at `fps`, copying audio from `audio_source` if any.

    Odd sizes are padded by one pixel (yuv420p needs even sides); audio is re-encoded to AAC
    only if it cannot be copied into mp4.
    """
    pattern = str(Path(frame_folder) / io.FRAME_NAME_PATTERN)
    video = ffmpeg.input(pattern, framerate=fps, start_number=0)
    video = video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
    streams = [video]
    audio_args = {}
    if audio_source is not None:
        streams.append(ffmpeg.input(str(audio_source)).audio)
        audio_args = {"acodec": "aac", "shortest": None}
    stream = ffmpeg.output(
        *streams,
        str(output),
        vcodec="libx264",
        pix_fmt="yuv420p",
        crf=crf,
        r=fps,
        movflags="+faststart",
        **audio_args,
    ).global_args("-nostdin", "-loglevel", "error", "-y")
    try:
        stream.run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as error:
        message = error.stderr.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"ffmpeg encoding of {output} failed: {message}") from error


def count_decoded_frames(path: str | Path) -> int:
    """Number of frames ffmpeg decodes from a file (used by tests and checks)."""
    command = [ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    frames = [line for line in result.stderr.splitlines() if "frame=" in line]
    return int(frames[-1].split("frame=")[1].split()[0]) if frames else 0
