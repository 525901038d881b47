"""Classical backend building blocks: shots, temporal pre-fill, DIS flow, harmonic completion."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import moving_box_masks, panning_clip, texture

from vanish.config import DIS_MIN_SIDE
from vanish.models.classical import (
    DIS_PRESETS,
    dis_flow,
    harmonic_fill,
    shot_cuts,
    shots,
    temporal_prefill,
)


def test_harmonic_fill_reproduces_a_linear_field():
    rows, cols = np.mgrid[:40, :50].astype(np.float64)
    field = np.stack([2.0 * cols - rows, 0.5 * rows + 3])
    hole = np.zeros((40, 50), bool)
    hole[10:25, 12:30] = True
    filled = harmonic_fill(np.where(hole, 0.0, field), hole)
    np.testing.assert_allclose(filled, field, atol=1e-8)


def test_harmonic_fill_keeps_known_values():
    values = np.random.default_rng(0).random((2, 20, 20))
    hole = np.zeros((20, 20), bool)
    hole[5:9, 5:9] = True
    filled = harmonic_fill(values, hole)
    np.testing.assert_array_equal(filled[:, ~hole], values[:, ~hole])


def test_temporal_prefill_takes_the_nearest_visible_frame():
    frames = np.stack([np.full((4, 4, 3), value, np.uint8) for value in (10, 20, 30, 40, 50)])
    holes = np.zeros((5, 4, 4), bool)
    holes[1:4, 0, 0] = True  # hidden in frames 1..3
    filled = temporal_prefill(frames, holes)
    assert [int(filled[t, 0, 0, 0]) for t in range(5)] == [10, 10, 10, 50, 50]


def test_shot_cut_is_found_between_unrelated_scenes():
    first = panning_clip(5, 48, 64, seed=1)
    second = 255 - panning_clip(5, 48, 64, seed=2)[..., ::-1]
    second[..., 0] = second[..., 0] // 4
    clip = np.concatenate([first, second])
    assert shot_cuts(clip) == [5]


def test_no_cut_inside_a_pan():
    assert shot_cuts(panning_clip(8, 48, 64)) == []


def test_shots_split_at_cuts():
    assert shots(10, [4, 7]) == [(0, 4), (4, 7), (7, 10)]


def test_dis_flow_finds_a_translation():
    base = texture(96, 128, seed=3)
    shifted = np.roll(base, shift=(0, 3), axis=(0, 1))  # content moves 3 px right
    flow = dis_flow(base, shifted)
    assert flow.shape == (2, 96, 128)
    np.testing.assert_allclose(np.median(flow[:, 20:-20, 20:-20], axis=(1, 2)), [3, 0], atol=0.2)


def test_moving_masks_fixture_moves():
    masks = moving_box_masks(3, 32, 48)
    assert not np.array_equal(masks[0], masks[2])


@pytest.mark.parametrize("preset", sorted(DIS_PRESETS))
def test_dis_flow_runs_at_the_smallest_processing_side_for_wide_frames(preset):
    # OpenCV's DIS crashes (SIGSEGV) on frames 16 or 24 px high and 256 wide; 32 is the minimum
    source = texture(DIS_MIN_SIDE, 1024, seed=1)
    flow = dis_flow(source, np.roll(source, 1, axis=1), preset)
    assert flow.shape == (2, DIS_MIN_SIDE, 1024) and np.isfinite(flow).all()


def test_complete_chunk_equals_filling_each_flow_alone():
    from vanish.stages.complete import complete_chunk

    rng = np.random.default_rng(0)
    forward, backward = rng.normal(size=(2, 3, 2, 24, 32))
    holes = list(moving_box_masks(4, 24, 32, size=(8, 10)))
    expected_fwd = np.stack([harmonic_fill(forward[k], holes[k]) for k in range(3)])
    expected_bwd = np.stack([harmonic_fill(backward[k], holes[k + 1]) for k in range(3)])
    complete_chunk(forward, backward, holes)
    np.testing.assert_allclose(forward, expected_fwd, atol=1e-9)
    np.testing.assert_allclose(backward, expected_bwd, atol=1e-9)
