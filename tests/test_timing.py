"""Timing, pixel aspect and colour of the input carried to `removed.mp4` (docs/architecture.md
§2.1, §2.4): tiny clips made with the bundled ffmpeg, read back through its showinfo filter."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from synthetic import generated_media, options, panning_clip, write_clip_folder

from vanish import io
from vanish.media import (
    FrameLog,
    FrameTimes,
    decode_frames,
    encode_video,
    ffmpeg_exe,
    parse_showinfo,
    probe_frames,
)
from vanish.media import probe_video as probe
from vanish.stages.encode import encode
from vanish.stages.frames import clip_timing, extract_frames

# 12 frames at 10 fps with frames 3, 4 and 8 dropped: 9 frames over 1.2 s, gaps of 0.1-0.3 s
VFR_FILTER = "select='not(eq(n\\,3)+eq(n\\,4)+eq(n\\,8))'"
TESTSRC = "testsrc=size=64x48:rate=10:duration=1.2"


def _removed(tmp_path, source, name="s"):
    """The frames and encode stages on `source`: (frames folder, removed.mp4)."""
    frames = extract_frames(name, source, tmp_path / "frames", **options("frames"))
    out = encode(frames / "proc", frames, tmp_path / "removed.mp4", **options("encode"))
    return frames, out


def _seconds(log: FrameLog) -> list[float]:
    return [t / log.time_base for t in log.pts]


def _end(log: FrameLog) -> float:
    """When the last frame stops being shown, in seconds."""
    return (log.pts[-1] + log.durations[-1]) / log.time_base


def _container_duration(path) -> float:
    """The duration a player shows: the header's `Duration: HH:MM:SS.ss`."""
    header = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header).groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@pytest.fixture
def vfr_clip(tmp_path):
    return generated_media(
        tmp_path / "vfr.mp4",
        TESTSRC,
        extra=("-vf", VFR_FILTER, "-fps_mode", "passthrough", "-pix_fmt", "yuv420p"),
    )


def test_vfr_input_is_recorded_as_vfr(tmp_path, vfr_clip):
    frames = extract_frames("s", vfr_clip, tmp_path / "frames", **options("frames"))
    meta = io.read_clip_meta(io.clip_meta_path(frames))
    times = io.read_clip_times(frames)
    assert meta.timing == "vfr"
    assert [t / times.time_base for t in times.pts] == pytest.approx(
        [0, 0.1, 0.2, 0.5, 0.6, 0.7, 0.9, 1.0, 1.1]
    )


def test_vfr_output_keeps_every_frame_timestamp(tmp_path, vfr_clip):
    _, out = _removed(tmp_path, vfr_clip)
    source, result = probe_frames(vfr_clip), probe_frames(out)
    assert len(result.pts) == 9
    assert _seconds(result) == pytest.approx(_seconds(source), abs=1e-6)


def test_vfr_output_keeps_the_duration(tmp_path, vfr_clip):
    _, out = _removed(tmp_path, vfr_clip)
    assert _container_duration(vfr_clip) == pytest.approx(1.2)
    assert _container_duration(out) == pytest.approx(1.2, abs=0.1)  # within one frame
    assert _end(probe_frames(out)) == pytest.approx(_end(probe_frames(vfr_clip)), abs=1e-6)


def test_cfr_input_stays_on_the_constant_rate_path(tmp_path):
    clip = generated_media(tmp_path / "cfr.mp4", TESTSRC, extra=("-pix_fmt", "yuv420p"))
    frames, out = _removed(tmp_path, clip)
    assert io.read_clip_meta(io.clip_meta_path(frames)).timing == "cfr"
    assert probe(out).fps == 10
    assert _seconds(probe_frames(out)) == pytest.approx([i / 10 for i in range(12)])


def test_frame_folder_has_no_timestamps_and_the_configured_rate(tmp_path):
    source = write_clip_folder(tmp_path / "in", panning_clip(4, 48, 64))
    frames = extract_frames("f", source, tmp_path / "frames", **options("frames", folder_fps=8))
    meta = io.read_clip_meta(io.clip_meta_path(frames))
    assert (meta.timing, meta.fps, io.read_clip_times(frames)) == ("cfr", 8, None)


@pytest.mark.parametrize("sar", [(4, 3), (128, 117)])  # 128:117: the carphone demo clip's
def test_anamorphic_input_keeps_its_sample_aspect_ratio(tmp_path, sar):
    chain = f"setsar={sar[0]}/{sar[1]}:max=1000"
    clip = generated_media(
        tmp_path / "sar.mp4", TESTSRC, extra=("-vf", chain, "-pix_fmt", "yuv420p")
    )
    _, out = _removed(tmp_path, clip)
    assert probe_frames(clip).sar == sar
    assert probe_frames(out).sar == sar


def test_square_pixels_stay_square(tmp_path):
    clip = generated_media(tmp_path / "sq.mp4", TESTSRC, extra=("-pix_fmt", "yuv420p"))
    _, out = _removed(tmp_path, clip)
    assert probe_frames(out).sar == (1, 1)


BT709 = "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"


def _tagged(tmp_path, source: str, params: str):
    """A clip converted to YUV with `params`' matrix and range, and tagged with them."""
    matrix = re.search(r"colorspace=(\w+)", params).group(1)
    scale_range = "tv" if "range=tv" in params else "pc"
    chain = f"scale=out_color_matrix={matrix}:out_range={scale_range},format=yuv420p,{params}"
    return generated_media(tmp_path / "tagged.mp4", source, extra=("-vf", chain))


def test_bt709_tags_are_carried(tmp_path):
    clip = _tagged(tmp_path, TESTSRC, BT709)
    _, out = _removed(tmp_path, clip)
    expected = {"range": "tv", "primaries": "bt709", "transfer": "bt709", "matrix": "bt709"}
    assert probe_frames(clip).color == expected
    assert probe_frames(out).color == expected


def test_full_range_is_carried(tmp_path):
    params = "setparams=range=pc:color_primaries=bt470bg:color_trc=smpte170m:colorspace=bt470bg"
    clip = _tagged(tmp_path, TESTSRC, params)
    _, out = _removed(tmp_path, clip)
    assert probe_frames(out).color == {
        "range": "pc",
        "primaries": "bt470bg",
        "transfer": "smpte170m",
        "matrix": "bt470bg",
    }


def test_tagged_colours_come_back_as_decoded(tmp_path):
    """Converted back to YUV with the input's matrix, a saturated colour decodes as the frames
    stage saw it (a BT.601 conversion tagged BT.709 shifts this colour by 24 levels)."""
    clip = _tagged(tmp_path, "color=c=0x20C040:size=64x48:rate=10:duration=0.3", BT709)
    frames, out = _removed(tmp_path, clip)
    seen = io.read_frames(frames / "proc").astype(int)
    shown = np.stack(list(decode_frames(out, probe(out)))).astype(int)
    assert np.abs(shown - seen).max() <= 3


def test_untagged_input_gets_no_colour_tags(tmp_path):
    clip = generated_media(tmp_path / "plain.mp4", TESTSRC, extra=("-pix_fmt", "yuv420p"))
    frames, out = _removed(tmp_path, clip)
    assert io.read_clip_meta(io.clip_meta_path(frames)).color == {}
    assert probe_frames(out).color == {}


def test_422_input_is_written_as_420_with_a_warning_in_metrics(tmp_path):
    from vanish.stages.metrics import compute_metrics

    clip = generated_media(tmp_path / "c422.mp4", TESTSRC, extra=("-pix_fmt", "yuv422p"))
    frames, _ = _removed(tmp_path, clip)
    masks = tmp_path / "masks"
    writer = io.MaskFolderWriter(masks, resized=False)
    for index, frame in enumerate(io.list_images(frames / "proc")):  # one empty mask a frame
        writer.write_processing(index, np.zeros(io.read_rgb(frame).shape[:2], bool))
    writer.close({"coverage": 0.0, "empty": True})
    metrics = compute_metrics(
        "s", frames / "proc", frames, masks, tmp_path / "metrics.json", "", benchmark_files=[],
        selection="", threads=1, **options("metrics"),
    )  # fmt: skip
    assert io.read_json(metrics)["clip_warnings"] == [
        "yuv422p input: chroma 4:2:2 written as 4:2:0 in removed.mp4"
    ]


def test_timestamps_that_do_not_increase_are_retimed_with_a_warning():
    log = FrameLog(1000, [0, 100, 100, 300], [100, 0, 0, 100])
    timing, _, warnings = clip_timing(log, 4, 10.0)
    assert timing == "retimed"
    assert warnings == [
        "frame 2's timestamp does not increase: removed.mp4 shows the frames at a constant 10 fps"
    ]


def test_a_late_video_start_is_moved_to_zero_with_a_warning():
    log = FrameLog(1000, [500, 600, 700], [100, 100, 100])
    timing, times, warnings = clip_timing(log, 3, 10.0)
    assert (timing, times.durations) == ("cfr", [100, 100, 100])
    assert warnings == ["the video stream starts 0.500 s into the file: removed.mp4 starts it at 0"]


def test_an_ordered_frame_list_may_repeat_frames(tmp_path):
    folder = write_clip_folder(tmp_path / "in", panning_clip(2, 48, 64, step=(8, 8)))
    first, second = io.list_images(folder)
    out = tmp_path / "list.mp4"
    encode_video([first, second, first], 10, out, crf=0)
    decoded = list(decode_frames(out, probe(out)))
    assert len(decoded) == 3
    assert np.array_equal(decoded[0], decoded[2]) and not np.array_equal(decoded[0], decoded[1])


def test_a_time_base_finer_than_microseconds_comes_out_exact_to_the_microsecond(tmp_path):
    folder = write_clip_folder(tmp_path / "in", panning_clip(3, 48, 64))
    out = tmp_path / "ns.mp4"
    nanoseconds = [33_366_667, 40_000_000, 41_000_000]
    encode_video(folder, 30, out, crf=18, times=FrameTimes(10**9, nanoseconds))
    log = probe_frames(out)
    assert (log.time_base, log.pts, log.durations) == (
        10**6,
        [0, 33367, 73367],
        [33367, 40000, 41000],
    )


def test_showinfo_without_durations_still_gives_every_timestamp():
    """Older ffmpeg prints no `duration:`; the time base num/den is rescaled to 1/den."""
    log = parse_showinfo(
        "[Parsed_showinfo_0 @ 0x1] config in time_base: 1001/30000, frame_rate: 30000/1001\n"
        "[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0       pos:  48 fmt:yuv422p "
        "sar:8/6 s:64x48 i:P iskey:1 type:I checksum:1\n"
        "[Parsed_showinfo_0 @ 0x1] n:   1 pts:      1 pts_time:0.0333667 pos: 900 fmt:yuv422p "
        "sar:8/6 s:64x48 i:P iskey:0 type:P checksum:2\n"
    )
    assert (log.time_base, log.pts, log.durations) == (30000, [0, 1001], [0, 0])
    assert (log.pix_fmt, log.sar, log.color) == ("yuv422p", (4, 3), {})
