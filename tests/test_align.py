"""Alignment stage (classical backend): homographies from features, clean plates, the stage."""

from __future__ import annotations

import cv2
import numpy as np
from synthetic import moving_box_masks, options, panning_clip, texture

from vanish import io
from vanish.models.alignment import (
    AlignSettings,
    LazyFeatures,
    align_window,
    camera_holds_still,
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
    done, left, _ = align_window(video, holes, current, holes, 0, SETTINGS)
    seen = holes & (~holes).any(axis=0)[None]  # hole pixels visible in some other frame
    assert seen.sum() > 0.9 * holes.sum()
    np.testing.assert_array_equal(done[seen], background[None].repeat(12, 0)[seen])
    assert not left[seen].any()


def noisy_static_clip(count: int = 12, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A static camera's frames (one background plus sensor noise of sigma 2) and its
    background."""
    background = texture(120, 192, seed=seed)
    noise = np.random.default_rng(seed).normal(0, 2, (count, *background.shape))
    return np.clip(background[None] + noise, 0, 255).astype(np.uint8), background


def test_a_noisy_static_camera_holds_still_and_a_slow_pan_does_not():
    static, _ = noisy_static_clip()
    holes = moving_box_masks(12, 120, 192, size=(20, 24), speed=8)
    assert camera_holds_still(static, holes, LazyFeatures(static, holes))
    pan = panning_clip(12, 120, 192, step=(0, 1), seed=1)  # 1 px a frame, 11 px in all
    assert not camera_holds_still(pan, holes, LazyFeatures(pan, holes))


def test_on_a_still_camera_auto_scope_replaces_propagated_pixels_with_the_plate():
    video, background = noisy_static_clip()
    holes = moving_box_masks(12, 120, 192, size=(20, 24), speed=8)
    video[holes] = (255, 0, 255)  # the object
    drifted = np.where(holes[..., None], np.roll(video, 3, axis=2), video)  # a drifting chain
    nothing_left = np.zeros_like(holes)
    settings = {"references": 4, "span": 60, "min_inliers": 15, "max_error": 6.0}
    done, left, still = align_window(
        video, holes, drifted, nothing_left, 0, AlignSettings(**settings, scope="auto")
    )
    kept, _, _ = align_window(
        video, holes, drifted, nothing_left, 0, AlignSettings(**settings, scope="left")
    )
    seen = holes & (~holes).any(axis=0)[None]
    truth = background[None].repeat(12, 0).astype(int)
    assert still and not left.any()
    assert np.abs(done[seen] - truth[seen]).mean() < 2  # the plate, noise averaged
    np.testing.assert_array_equal(kept, drifted)  # "left": propagated pixels stay


def stage_inputs(tmp_path, frames: np.ndarray, masks: np.ndarray, keyframes: list[int]):
    """The align stage's input folders for a clip, as if propagation had filled nothing (its
    summary lists the `keyframes` it applied)."""
    from synthetic import write_clip_folder, write_mask_folder

    from vanish.stages.complete import classical_complete
    from vanish.stages.flows import classical_flows
    from vanish.stages.frames import extract_frames
    from vanish.stages.masks import masks_from_files

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
    io.write_propagated(tmp_path / "prop", grey, holes, 0)
    io.write_propagation_summary(tmp_path / "prop", {"keyframes": keyframes})
    return frames_dir, masks_dir, completed, holes


def test_the_stage_fills_from_the_shot_and_keeps_the_propagated_format(tmp_path):
    frames = panning_clip(10, 96, 128, step=(0, 3))
    masks = moving_box_masks(10, 96, 128, size=(16, 20), speed=6)
    frames_dir, masks_dir, completed, holes = stage_inputs(tmp_path, frames, masks, [])
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


def test_pixels_carried_from_user_keyframes_are_not_replaced_by_the_still_camera_plate(tmp_path):
    frames, _ = noisy_static_clip()
    masks = moving_box_masks(12, 120, 192, size=(20, 24), speed=8)
    frames_dir, masks_dir, completed, holes = stage_inputs(tmp_path, frames, masks, [3])
    keyed = np.where(holes[..., None], 40, frames).astype(np.uint8)  # as if a keyframe filled all
    io.write_propagated(tmp_path / "prop", keyed, np.zeros_like(holes), 0)
    out = classical_align(
        frames_dir, masks_dir, completed, tmp_path / "prop", tmp_path / "aligned",
        **options("align_classical"),
    )  # fmt: skip
    np.testing.assert_array_equal(io.read_propagated(out)[0], keyed)


def test_windows_hold_every_target_once_and_small_frames_fit_one_window():
    from vanish.stages.align import MIN_CHUNK, chunk_length, windows

    assert chunk_length((240, 432, 3), 60) > 1000  # a 432x240 shot of 1,000 frames: one pool
    assert chunk_length((2160, 3840, 3), 60) == MIN_CHUNK
    found = windows(5, 105, 10, 40)
    targets = [t for _, _, first, last in found for t in range(first, last)]
    assert targets == list(range(5, 105))
    assert all(
        lo == max(5, first - 10) and hi == min(105, last + 10) for lo, hi, first, last in found
    )
