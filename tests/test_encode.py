"""Stage `encode`: H.264 at the input's fps, frame count kept, audio copied."""

from __future__ import annotations

from synthetic import generated_media, options, panning_clip, write_clip_folder

from vanish.media import count_decoded_frames, probe_video
from vanish.stages.encode import encode
from vanish.stages.frames import extract_frames


def test_encode_keeps_fps_and_frame_count(tmp_path):
    source = write_clip_folder(tmp_path / "in", panning_clip(7, 48, 66))
    frames = extract_frames("e", source, tmp_path / "frames", **options("frames", folder_fps=15))
    out = encode(source, frames, tmp_path / "removed.mp4", **options("encode"))
    info = probe_video(out)
    assert (info.fps, info.width, info.height) == (15, 66, 48)  # odd sizes padded to even
    assert count_decoded_frames(out) == 7


def test_audio_is_copied_from_the_source(tmp_path):
    source = generated_media(
        tmp_path / "with_audio.mp4",
        "testsrc=size=64x48:rate=10:duration=1",
        "sine=frequency=440:duration=1",
        extra=("-pix_fmt", "yuv420p", "-shortest"),
    )
    frames = extract_frames("a", source, tmp_path / "frames", **options("frames"))
    out = encode(frames / "proc", frames, tmp_path / "removed.mp4", **options("encode"))
    assert probe_video(out).has_audio
    assert count_decoded_frames(out) == 10
