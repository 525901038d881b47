"""Stage `encode`: the inpainted frames as H.264 (yuv420p) at the input's fps, audio copied."""

from __future__ import annotations

from pathlib import Path

from vanish import io
from vanish.atomic import atomic_file
from vanish.media import encode_video


def encode(inpainted_dir: str | Path, frames_dir: str | Path, output: str | Path, crf: int) -> Path:
    """Encode `inpainted_dir` to `output`; the source's audio track is carried over if present."""
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    audio = meta.source if meta.has_audio else None
    with atomic_file(output) as tmp:
        encode_video(inpainted_dir, meta.fps, tmp, crf=crf, audio_source=audio)
    return Path(output)
