"""Reading a user's clip (a video file or a frame folder) and encoding the result.

Video decoding, probing and encoding go through ffmpeg (ffmpeg-python, argument lists only).

No system ffmpeg is required: the binary shipped by imageio-ffmpeg is used when `ffmpeg` is not
on PATH. ffprobe is optional too: without it, the stream facts come from ffmpeg's own header dump
as parsed by imageio-ffmpeg, and every frame's timestamp, the pixel aspect ratio and the colour
tags from ffmpeg's showinfo filter (`probe_frames`), which the encoder carries to the result.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
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


@dataclass(frozen=True)
class FrameLog:
    """What ffmpeg's showinfo filter reports about a clip's decoded frames (docs/architecture.md
    §2.1): presentation times and durations in ticks of 1/`time_base` s (None: no timestamp),
    pixel format, sample aspect ratio and colour tags (only the known ones)."""

    time_base: int
    pts: list[int | None]
    durations: list[int]
    pix_fmt: str = ""
    sar: tuple[int, int] = (1, 1)
    color: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameTimes:
    """When each frame of an encode is shown: per-frame durations in ticks of 1/`time_base` s."""

    time_base: int
    durations: list[int]


# showinfo's names -> ours (docs/architecture.md §2.1); "unknown" values are left out
COLOR_FIELDS = {
    "color_range": "range",
    "color_primaries": "primaries",
    "color_trc": "transfer",
    "color_space": "matrix",
}
_UNKNOWN = {"unknown", "unspecified", "reserved", "N/A", ""}
_RGB_FORMATS = ("rgb", "bgr", "gbr", "argb", "abgr", "0rgb", "0bgr", "pal8", "x2rgb", "x2bgr")
_TIME_BASE = re.compile(r"config in time_base: (\d+)/(\d+)")
# a frame line; older ffmpeg prints no `duration:` (the last gap then stands for the last one)
_FRAME = re.compile(
    r"\bn:\s*\d+\s+pts:\s*(\S+)(?:.*?duration:\s*(\S+))?.*?fmt:(\S+).*?sar:(\d+)/(\d+)"
)
_COLOR = re.compile(r"(color_range|color_space|color_primaries|color_trc):(\S+)")


def probe_frames(path: str | Path) -> FrameLog:
    """Every decoded frame's timestamp and duration, and the first frame's picture tags.

    One decoding pass through ffmpeg's showinfo filter, with the same frame selection as
    `decode_frames` (every decoded frame, none dropped or repeated), so the lists line up with
    the decoded frames. ffprobe is not needed; ValueError if ffmpeg cannot decode the file.
    """
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-i", str(path)]
    command += ["-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ValueError(_stream_problem(path))
    return parse_showinfo(result.stderr)


def parse_showinfo(log: str) -> FrameLog:
    """The `FrameLog` of showinfo's output (a time base of num/den is rescaled to 1/den)."""
    base = _TIME_BASE.search(log)
    num, den = (int(base.group(1)), int(base.group(2))) if base else (1, 1)
    pts, durations, pix_fmt, sar, color = [], [], "", (1, 1), {}
    for line in log.splitlines():
        frame = _FRAME.search(line)
        if frame:
            stamp, duration = frame.group(1), frame.group(2)
            pts.append(int(stamp) * num if _is_int(stamp) else None)
            durations.append(int(duration) * num if duration and _is_int(duration) else 0)
            if len(pts) == 1:
                pix_fmt = frame.group(3)
                sar = _reduced(int(frame.group(4)), int(frame.group(5)))
        elif len(pts) == 1 and not color and _COLOR.search(line):
            color = {
                COLOR_FIELDS[key]: value
                for key, value in _COLOR.findall(line)
                if value not in _UNKNOWN
            }
    if pix_fmt.startswith(_RGB_FORMATS):  # RGB sources: range and matrix say nothing of YUV
        color = {k: v for k, v in color.items() if k in ("primaries", "transfer")}
    return FrameLog(den, pts, durations, pix_fmt, sar, color)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _reduced(num: int, den: int) -> tuple[int, int]:
    """A sample aspect ratio in lowest terms; 0/1 (unknown) reads as square pixels."""
    if num <= 0 or den <= 0:
        return (1, 1)
    ratio = Fraction(num, den)
    return (ratio.numerator, ratio.denominator)


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
    frames: str | Path | Sequence[str | Path],
    fps: float,
    output: str | Path,
    crf: int,
    audio_source: str | Path | None = None,
    *,
    times: FrameTimes | None = None,
    sar: tuple[int, int] = (1, 1),
    color: Mapping[str, str] | None = None,
) -> None:
    """Encode frames to H.264 yuv420p, copying audio from `audio_source` if any.

    `frames`: a stage frame folder (`00000.png…`, in order), or an ordered list of image files
    (a file may repeat). Shown at a constant `fps`, or for `times.durations` each when `times`
    is given (variable frame rate: the timestamps are written in the input's time base, or in
    microseconds when that is finer, so they come out exact, and the last frame keeps its
    duration; B-frames are off for this path, because the muxer takes the clip's end from the
    last packet's duration, which B-frame reordering loses). `sar` other than 1:1 is written
    into the stream; `color` (range, primaries, transfer, matrix: ffmpeg names) drives the RGB
    to YUV conversion and is tagged.
    Odd sizes are padded by one pixel (yuv420p needs even sides); audio is re-encoded to AAC.
    """
    with tempfile.TemporaryDirectory(prefix="vanish-encode-") as scratch:
        video, rate_args = _video_input(frames, fps, times, Path(scratch))
        video = video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
        if tuple(sar) != (1, 1):
            # setsar rounds to terms up to `max` (default 100: 128/117 would become 93/85)
            video = video.filter("setsar", f"{sar[0]}/{sar[1]}", max=max(*sar, 100))
        color_args = {}
        if color:
            video, color_args = _tag_color(video, color)
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
            **rate_args,
            **color_args,
            movflags="+faststart",
            **audio_args,
        ).global_args("-nostdin", "-loglevel", "error", "-y")
        try:
            stream.run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
        except ffmpeg.Error as error:
            message = error.stderr.decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"ffmpeg encoding of {output} failed: {message}") from error


def _video_input(
    frames: str | Path | Sequence[str | Path], fps: float, times: FrameTimes | None, scratch: Path
) -> tuple[ffmpeg.nodes.FilterableStream, dict]:
    """The frames as an ffmpeg input, and the output options that keep their timing.

    A folder at a constant rate is read as an image sequence (the path every constant-rate
    clip takes); a list, or per-frame times, goes through an ffconcat file.
    """
    if times is None and isinstance(frames, str | Path):
        pattern = str(Path(frames) / io.FRAME_NAME_PATTERN)
        return ffmpeg.input(pattern, framerate=fps, start_number=0), {"r": fps}
    paths = io.list_images(frames) if isinstance(frames, str | Path) else list(map(Path, frames))
    if times is None:
        rate = Fraction(fps).limit_denominator(1001000)
        times = FrameTimes(rate.numerator, [rate.denominator] * len(paths))
        rate_args = {"r": fps}
    else:
        times = _at_most_microseconds(times)
        rate_args = {
            "fps_mode": "passthrough",
            "video_track_timescale": times.time_base,
            "bf": 0,
            "bsf:v": _last_duration(times),
        }
    if len(times.durations) != len(paths):
        raise ValueError(f"{len(paths)} frames but {len(times.durations)} frame durations")
    listing = scratch / "frames.ffconcat"
    listing.write_text(ffconcat(paths, times))
    return ffmpeg.input(str(listing), format="concat", safe=0).video, rate_args


def _at_most_microseconds(times: FrameTimes) -> FrameTimes:
    """`times` in microseconds when its time base is finer: the concat demuxer counts in
    microseconds, so a finer base (e.g. nanoseconds) could not come out exact anyway."""
    if times.time_base <= 1_000_000:
        return times
    starts, total = [], 0
    for ticks in times.durations:
        starts.append(_micros(total, times.time_base))
        total += ticks
    starts.append(_micros(total, times.time_base))
    return FrameTimes(1_000_000, [b - a for a, b in zip(starts, starts[1:], strict=False)])


def _last_duration(times: FrameTimes) -> str:
    """A bitstream filter giving the last frame its duration: the image demuxer gives each
    frame one tick, and the muxer ends the clip at the last packet's end."""
    last = sum(times.durations[:-1])
    return f"setts=duration=if(eq(PTS\\,{last})\\,{times.durations[-1]}\\,DURATION)"


def ffconcat(paths: Sequence[Path], times: FrameTimes) -> str:
    """An ffconcat listing showing each image for its duration.

    The concat demuxer counts in microseconds and takes its time base from the first file
    (image2: 1/framerate), so every file is read at `time_base` frames per second and each
    duration is the difference of rounded start times: the starts stay within half a
    microsecond of the exact ticks, which the time base then restores exactly.
    """
    lines, start = ["ffconcat version 1.0"], 0
    for path, ticks in zip(paths, times.durations, strict=True):
        end = start + ticks
        micros = _micros(end, times.time_base) - _micros(start, times.time_base)
        lines += [
            f"file '{_quoted(path.resolve())}'",
            f"option framerate {times.time_base}",
            f"duration {micros // 1_000_000}.{micros % 1_000_000:06d}",
        ]
        start = end
    return "\n".join(lines) + "\n"


def _micros(ticks: int, time_base: int) -> int:
    return round(Fraction(ticks * 1_000_000, time_base))


def _quoted(path: Path) -> str:
    """A path inside ffconcat's single quotes (a quote is closed, escaped and reopened)."""
    return str(path).replace("'", "'\\''")


# the scale filter's names for the YUV matrices it converts with (colorspace name -> its name)
SCALE_MATRICES = {
    "bt709": "bt709",
    "bt470bg": "bt470",
    "smpte170m": "smpte170m",
    "fcc": "fcc",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
}


def _tag_color(
    video: ffmpeg.nodes.FilterableStream, color: Mapping[str, str]
) -> tuple[ffmpeg.nodes.FilterableStream, dict]:
    """Convert RGB to YUV with the input's matrix and range (the inverse of the decoding, which
    follows the input's tags) and tag all four properties.

    The conversion is spelled out in a scale filter because ffmpeg before 7.1 converts with
    BT.601 whatever the output's tags; the tags go on the frames (setparams: what ffmpeg 7.1+
    encoders write) and, for range and matrix, on the encoder too (what older ones write).
    """
    scale = {}
    if color.get("matrix") in SCALE_MATRICES:
        scale["out_color_matrix"] = SCALE_MATRICES[color["matrix"]]
    if "range" in color:
        scale["out_range"] = color["range"]
    if scale:
        video = video.filter("scale", **scale).filter("format", "yuv420p")
    names = {"range": "range", "primaries": "color_primaries", "transfer": "color_trc"}
    params = {names[key]: value for key, value in color.items() if key in names}
    if "matrix" in color:
        params["colorspace"] = color["matrix"]
    video = video.filter("setparams", **params)
    args = {}
    if "range" in color:
        args["color_range"] = color["range"]
    if "matrix" in color:
        args["colorspace"] = color["matrix"]
    return video, args


def count_decoded_frames(path: str | Path) -> int:
    """Number of frames ffmpeg decodes from a file (used by tests and checks)."""
    command = [ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    frames = [line for line in result.stderr.splitlines() if "frame=" in line]
    return int(frames[-1].split("frame=")[1].split()[0]) if frames else 0
