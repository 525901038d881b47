"""Stage `encode`: the inpainted frames as H.264 (yuv420p) timed as the input, audio copied.

Timing follows the frames stage's record (docs/architecture.md §2.1, §2.4): a constant-rate
clip (and a frame folder) at its fps, a variable-rate clip with every frame's own duration from
`times.json`; the input's sample aspect ratio and colour tags are carried over.
"""

from __future__ import annotations

from pathlib import Path

from vanish import io
from vanish.atomic import atomic_file
from vanish.media import FrameTimes, encode_video


def encode(inpainted_dir: str | Path, frames_dir: str | Path, output: str | Path, crf: int) -> Path:
    """Encode `inpainted_dir` to `output`; the source's audio track is carried over if present."""
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    audio = meta.source if meta.has_audio else None
    times = None
    if meta.timing == "vfr":
        recorded = io.read_clip_times(frames_dir)
        times = FrameTimes(recorded.time_base, recorded.durations)
    with atomic_file(output) as tmp:
        encode_video(
            inpainted_dir,
            meta.fps,
            tmp,
            crf=crf,
            audio_source=audio,
            times=times,
            sar=(meta.sar[0], meta.sar[1]),
            color=meta.color,
        )
    return Path(output)
