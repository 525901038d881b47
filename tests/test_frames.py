"""Stage `frames`: decoding, processing size, errors on bad videos."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import generated_media, options, panning_clip, write_clip_folder

from vanish import io
from vanish.errors import InputError
from vanish.media import encode_video
from vanish.stages.frames import extract_frames, processing_size


def test_processing_size_floors_to_multiples_of_8():
    assert processing_size(1283, 722, max_side=None) == (1280, 720)


def test_processing_size_caps_longer_side():
    assert processing_size(1280, 720, max_side=432) == (432, 240)


def test_frame_folder_is_read_in_name_order(clip_on_disk):
    out = extract_frames(
        "s1", clip_on_disk["video"], clip_on_disk["tmp"] / "frames", **options("frames")
    )
    np.testing.assert_array_equal(io.read_frames(out / "proc"), clip_on_disk["frames"])
    meta = io.read_clip_meta(out / "meta.json")
    assert (meta.frame_count, meta.width, meta.height, meta.resized) == (6, 64, 48, False)


def test_odd_size_keeps_original_frames(tmp_path):
    frames = panning_clip(3, 50, 66)
    folder = write_clip_folder(tmp_path / "in", frames)
    out = extract_frames("odd", folder, tmp_path / "frames", **options("frames"))
    assert io.read_frames(out / "proc").shape == (3, 48, 64, 3)
    np.testing.assert_array_equal(io.read_frames(out / "orig"), frames)


def test_video_file_is_decoded_with_fps(tmp_path):
    frames = panning_clip(5, 48, 64)
    video = tmp_path / "clip.mp4"
    encode_video(write_clip_folder(tmp_path / "in", frames), 12.5, video, crf=0)
    out = extract_frames("v", video, tmp_path / "frames", **options("frames"))
    meta = io.read_clip_meta(out / "meta.json")
    assert (meta.frame_count, meta.fps, meta.has_audio) == (5, 12.5, False)


def test_missing_video_names_sample_and_file(tmp_path):
    with pytest.raises(InputError, match=r"sample 'gone'.*does not exist.*nowhere\.mp4"):
        extract_frames("gone", tmp_path / "nowhere.mp4", tmp_path / "frames", **options("frames"))


def test_truncated_video_is_rejected(tmp_path):
    video = tmp_path / "clip.mp4"
    folder = write_clip_folder(tmp_path / "in", panning_clip(20, 48, 64))
    encode_video(folder, 25, video, **options("encode"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(
        InputError, match=r"sample 'cut': decoding failed.*broken\.mp4.*Fix: .*re-encode"
    ):
        extract_frames("cut", broken, tmp_path / "frames", **options("frames"))
    assert not (tmp_path / "frames").exists()


def test_audio_only_file_is_rejected(tmp_path):
    audio = generated_media(tmp_path / "sound.m4a", "sine=frequency=440:duration=1")
    with pytest.raises(InputError, match=r"sample 'mute'.*no video stream.*sound\.m4a"):
        extract_frames("mute", audio, tmp_path / "frames", **options("frames"))


def test_empty_frame_folder_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"sample 'none'.*holds no images"):
        extract_frames("none", tmp_path / "empty", tmp_path / "frames", **options("frames"))


def test_frames_of_different_sizes_are_rejected(tmp_path):
    folder = write_clip_folder(tmp_path / "in", panning_clip(2, 48, 64))
    io.write_rgb(folder / "00002.png", np.zeros((40, 64, 3), np.uint8))
    with pytest.raises(InputError, match=r"differs from the first frame.*00002\.png"):
        extract_frames("mixed", folder, tmp_path / "frames", **options("frames"))
    assert not (tmp_path / "frames").exists()


def test_huge_resolution_is_capped_by_config(tmp_path):
    frames = panning_clip(2, 270, 480)
    folder = write_clip_folder(tmp_path / "in", frames)
    out = extract_frames("big", folder, tmp_path / "frames", **options("frames", max_side=240))
    meta = io.read_clip_meta(out / "meta.json")
    assert (meta.proc_width, meta.proc_height) == (240, 128)
    assert io.read_frames(out / "proc").shape == (2, 128, 240, 3)
    np.testing.assert_array_equal(io.read_frames(out / "orig"), frames)


def test_unpadded_frame_numbers_are_read_in_numeric_order(tmp_path):
    frames = panning_clip(12, 16, 16)
    folder = tmp_path / "in"
    folder.mkdir()
    for index, frame in enumerate(frames, start=1):
        io.write_rgb(folder / f"frame_{index}.png", frame)
    out = extract_frames("nat", folder, tmp_path / "frames", **options("frames"))
    np.testing.assert_array_equal(io.read_frames(out / "proc"), frames)


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["a_1.png", "b_1.png", "a_2.png"], r"mix naming patterns.*a_1\.png.*b_1\.png"),
        (["f1.png", "f01.png", "f2.png"], r"same frame number.*f01\.png.*f1\.png"),
    ],
)
def test_ambiguous_frame_names_are_refused(tmp_path, names, problem):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        io.write_rgb(folder / name, np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(InputError, match=rf"sample 'amb': .*{problem}.*file: .*in\). Fix: "):
        extract_frames("amb", folder, tmp_path / "frames", **options("frames"))
    assert not (tmp_path / "frames").exists()
