"""Window index logic of the ProPainter orchestration (docs/architecture.md §5.6.3, §5.6.5)."""

from __future__ import annotations

import pytest

from vanish.windows import (
    SubVideo,
    flow_completion_windows,
    generator_windows,
    padded_windows,
    reference_count,
    reference_indices,
    release_schedule,
)


def _span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


def test_generator_windows_of_the_pipeline_golden() -> None:
    """golden README: T = 20 → locals [0..5], [0..10], [5..15], [10..19]; refs {10},{},{0},{0}."""
    windows = generator_windows(20)
    assert windows == [
        (_span(0, 5), [10]),
        (_span(0, 10), []),
        (_span(5, 15), [0]),
        (_span(10, 19), [0]),
    ]
    assert [len(local) + len(refs) for local, refs in windows] == [7, 11, 12, 11]


def test_generator_windows_spec_example_t30() -> None:
    windows = generator_windows(30)
    assert windows[0] == (_span(0, 5), [10, 20])
    assert windows[1] == (_span(0, 10), [20])
    assert windows[2] == (_span(5, 15), [0, 20])
    assert len(windows) == 6


def test_generator_windows_spec_example_t200() -> None:
    windows = generator_windows(200)
    assert windows[0] == (_span(0, 5), [10, 20, 30])
    assert windows[3] == (_span(10, 20), [0, 30, 40, 50])
    assert windows[39] == (_span(190, 199), [155, 165, 175, 185])
    assert len(windows) == 40


def test_reference_count_limits_only_long_clips() -> None:
    assert reference_count(80, 80, 10) == -1
    assert reference_count(81, 80, 10) == 8
    assert reference_count(100, 35, 10) == 3


def test_reference_scan_is_not_aligned_to_the_stride() -> None:
    """With a limit the scan starts at mid - rs·⌊ref_num/2⌋, not at a multiple of rs."""
    refs = reference_indices(mid=45, local=_span(40, 50), num_frames=200, ref_stride=10, ref_num=8)
    assert refs == [5, 15, 25, 35, 55, 65, 75]
    # odd ref_num: ⌊3/2⌋ = 1 stride each side
    assert reference_indices(50, _span(45, 55), 200, 10, 3) == [40]


def test_reference_without_limit_skips_local_frames() -> None:
    assert reference_indices(5, _span(0, 10), 40, 10, -1) == [20, 30]


def test_generator_windows_cover_every_frame_with_at_least_two_locals() -> None:
    for count in (2, 3, 7, 11, 81, 137):
        windows = generator_windows(count)
        covered = sorted({i for local, _ in windows for i in local})
        assert covered == list(range(count))
        assert all(len(local) >= 2 for local, _ in windows)
        assert all(not set(local) & set(refs) for local, refs in windows)


def test_generator_windows_odd_neighbor_length() -> None:
    windows = generator_windows(9, neighbor_length=5, ref_stride=4)
    assert windows[0] == (_span(0, 2), [4, 8])
    assert windows[1] == (_span(0, 4), [8])


def test_padded_windows_single_call_when_short() -> None:
    assert padded_windows(80, 80, 5) == [SubVideo(0, 80, 0, 80)]


def test_flow_completion_windows_pad_five_flows() -> None:
    windows = flow_completion_windows(199, 80)
    assert windows == [
        SubVideo(0, 85, 0, 80),
        SubVideo(75, 165, 80, 160),
        SubVideo(155, 199, 160, 199),
    ]
    assert windows[1].keep == slice(5, 85)
    kept = [i for w in windows for i in range(w.start, w.stop)[w.keep]]
    assert kept == list(range(199))


def test_release_schedule_gives_every_frame_once_after_its_last_window() -> None:
    for count in (2, 20, 30, 201):
        windows = generator_windows(count)
        releases = release_schedule(windows, count)
        released = [i for r in releases for i in r]
        assert released == list(range(count))
        for index, release in enumerate(releases):
            for frame in release:
                assert frame in windows[index][0] or any(frame in w[0] for w in windows[:index])
                assert all(frame not in w[0] for w in windows[index + 1 :])


def test_release_schedule_of_the_pipeline_golden() -> None:
    releases = release_schedule(generator_windows(20), 20)
    assert [list(r) for r in releases] == [[], _span(0, 4), _span(5, 9), _span(10, 19)]


@pytest.mark.parametrize("bad", [0, 1])
def test_generator_windows_reject_tiny_neighbor_length(bad: int) -> None:
    with pytest.raises(ValueError, match="neighbor_length"):
        generator_windows(10, neighbor_length=bad)
