"""Region-of-interest selection (vanish/roi.py) and compositing a region (vanish/composite.py)."""

from __future__ import annotations

import numpy as np

from vanish.composite import composite_region
from vanish.roi import capped_size, choose_regions, mask_box, shot_of, union

FRAME = (1280, 720)


def test_mask_box_is_the_bounding_box_end_exclusive() -> None:
    mask = np.zeros((20, 30), bool)
    mask[5:8, 10:14] = True
    assert mask_box(mask) == (10, 5, 14, 8)


def test_mask_box_of_an_empty_mask_is_none() -> None:
    assert mask_box(np.zeros((4, 4), bool)) is None


def test_union_spans_every_box_of_the_shot_and_skips_empty_frames() -> None:
    assert union([(10, 20, 30, 40), None, (50, 5, 60, 25)]) == (10, 5, 60, 40)


def test_region_grows_the_holes_by_the_margin() -> None:
    [region] = choose_regions([(600, 300, 800, 460)], FRAME, margin=20, max_fraction=1.0)
    assert region == (580, 280, 820, 480)


def test_region_sides_are_rounded_up_to_multiples_of_8() -> None:
    [region] = choose_regions([(600, 300, 801, 433)], FRAME, margin=0, max_fraction=1.0)
    assert (region[2] - region[0], region[3] - region[1]) == (208, 136)


def test_region_sides_are_at_least_128_pixels_for_raft() -> None:
    [region] = choose_regions([(640, 360, 650, 370)], FRAME, margin=4, max_fraction=1.0)
    assert (region[2] - region[0], region[3] - region[1]) == (128, 128)


def test_the_128_pixel_minimum_is_clamped_to_a_small_frame() -> None:
    [region] = choose_regions([(10, 10, 20, 20)], (96, 300), margin=0, max_fraction=1.0)
    assert (region[0], region[2]) == (0, 96)


def test_region_at_the_frame_edge_is_shifted_inside_the_frame() -> None:
    [region] = choose_regions([(0, 700, 40, 720)], FRAME, margin=16, max_fraction=1.0)
    assert region == (0, 592, 128, 720)


def test_every_shot_gets_the_largest_size_around_its_own_holes() -> None:
    shots = [(100, 100, 140, 140), (900, 400, 1100, 500)]
    first, second = choose_regions(shots, FRAME, margin=0, max_fraction=1.0)
    assert first == (20, 56, 220, 184) and second == (900, 386, 1100, 514)


def test_region_covering_most_of_the_frame_falls_back_to_whole_frames() -> None:
    assert choose_regions([(100, 100, 1200, 700)], FRAME, margin=0, max_fraction=0.6) is None


def test_a_clip_without_holes_falls_back_to_whole_frames() -> None:
    assert choose_regions([None, None], FRAME, margin=8, max_fraction=0.6) is None


def test_max_side_caps_the_region_not_the_frame() -> None:
    assert capped_size(640, 320, 432) == (432, 216)


def test_region_below_max_side_is_processed_at_native_size() -> None:
    assert capped_size(256, 128, 432) == (256, 128)


def test_shot_of_finds_the_shot_holding_a_frame() -> None:
    assert [shot_of(i, [0, 5, 9]) for i in (0, 4, 5, 8, 9, 20)] == [0, 0, 1, 1, 2, 2]


def test_compositing_a_region_changes_only_its_hole_pixels_at_input_size() -> None:
    original = np.zeros((64, 96, 3), np.uint8)
    hole = np.zeros((64, 96), bool)
    hole[20:30, 40:50] = True
    region = (slice(16, 48), slice(32, 64))
    result = np.full((16, 16, 3), 200, np.uint8)  # processed at half the region's size
    out = composite_region(result, original, hole, region)
    assert (out[hole] == 200).all() and (out[~hole] == 0).all()
