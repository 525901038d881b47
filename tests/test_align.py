"""Alignment stage (classical backend): homographies from features, clean plates, the stage."""

from __future__ import annotations

import cv2
import numpy as np
from synthetic import moving_box_masks, options, panning_clip, texture

from vanish import io
from vanish.models.alignment import (
    AlignSettings,
    align_window,
    estimate_homography,
    orb_features,
)
from vanish.stages.align import classical_align

SETTINGS = AlignSettings(references=4, span=60, min_inliers=15, max_error=6.0)


def test_homography_alignment_recovers_a_known_pan_within_half_a_pixel():
    source = texture(240, 432, seed=3)
    known = np.array([[0.99, -0.02, 7.5], [0.015, 1.01, -4.25], [1e-5, -2e-5, 1.0]])
    target = cv2.warpPerspective(source, known, (432, 240), flags=cv2.INTER_LINEAR)
    none = np.zeros((240, 432), bool)
    found = estimate_homography(orb_features(source, none), orb_features(target, none), 15)
    assert found is not None
    # compare where the two map points of the target's interior
    grid = np.stack(np.meshgrid(np.arange(40, 392, 32), np.arange(40, 200, 32)), -1)
    points = grid.reshape(1, -1, 2).astype(np.float64)
    expected = cv2.perspectiveTransform(points, known)
    measured = cv2.perspectiveTransform(points, found)
    assert np.abs(measured - expected).max() < 0.5


def test_a_static_plate_is_recovered_exactly_where_the_background_was_seen():
    background = texture(96, 160, seed=1)
    holes = moving_box_masks(12, 96, 160, size=(20, 24), speed=8)
    frames = np.repeat(background[None], 12, 0)
    video = frames.copy()
    video[holes] = (255, 0, 255)  # the object
    current = np.where(holes[..., None], 128, video).astype(np.uint8)  # nothing propagated
    done, left = align_window(video, holes, current, holes, 0, SETTINGS)
    seen = holes & (~holes).any(axis=0)[None]  # hole pixels visible in some other frame
    assert seen.sum() > 0.9 * holes.sum()
    np.testing.assert_array_equal(done[seen], background[None].repeat(12, 0)[seen])
    assert not left[seen].any()


def test_the_stage_fills_from_the_shot_and_keeps_the_propagated_format(tmp_path):
    from synthetic import write_clip_folder, write_mask_folder

    from vanish.stages.complete import classical_complete
    from vanish.stages.flows import classical_flows
    from vanish.stages.frames import extract_frames
    from vanish.stages.masks import masks_from_files

    frames = panning_clip(10, 96, 128, step=(0, 3))
    masks = moving_box_masks(10, 96, 128, size=(16, 20), speed=6)
    video = write_clip_folder(tmp_path / "in", frames)
    frames_dir = extract_frames("a", video, tmp_path / "frames", **options("frames"))
    masks_dir = masks_from_files(
        "a", write_mask_folder(tmp_path / "m", masks), frames_dir, tmp_path / "masks",
        **options("masks_from_files"),
    )  # fmt: skip
    flows = classical_flows(frames_dir, masks_dir, tmp_path / "flows", **options("flows_classical"))
    completed = classical_complete(flows, masks_dir, tmp_path / "completed")
    holes = io.read_masks(masks_dir / "proc")
    grey = np.where(holes[..., None], 128, frames).astype(np.uint8)
    io.write_propagated(tmp_path / "prop", grey, holes, 0)  # as if propagation filled nothing
    out = classical_align(
        frames_dir, masks_dir, completed, tmp_path / "prop", tmp_path / "aligned",
        **options("align_classical"),
    )  # fmt: skip
    result, left = io.read_propagated(out)
    assert left.sum() < 0.2 * holes.sum()
    filled = holes & ~left
    assert np.abs(result[filled].astype(int) - frames[filled]).mean() < 6
    np.testing.assert_array_equal(result[~holes], frames[~holes])
    assert io.read_json(out / "summary.json")["filled_pixels"] == int(filled.sum())
