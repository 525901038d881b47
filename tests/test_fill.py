"""Classical fill (keyframe loop) and compositing at the input's resolution."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import (
    moving_box_masks,
    options,
    panning_clip,
    write_clip_folder,
    write_mask_folder,
)

from vanish import io
from vanish.composite import composite
from vanish.errors import InputError
from vanish.models.classical import spatial_fill
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill, fixed_holes, keyframe_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import telea
from vanish.stages.propagate import propagate


def test_keyframe_fill_leaves_no_hole_and_keeps_known_pixels():
    frames = panning_clip(5, 32, 48)
    holes = np.zeros((5, 32, 48), bool)
    holes[:, 8:20, 10:30] = True  # static hole over a panning view
    forward = np.zeros((4, 2, 32, 48), np.float32)
    forward[:, 0], forward[:, 1] = -2, -1
    result = keyframe_fill(
        np.where(holes[..., None], 0, frames), holes, forward, -forward, **options("fill_classical")
    )
    np.testing.assert_array_equal(result[~holes], frames[~holes])
    assert result.shape == frames.shape


def test_keyframe_fill_propagates_the_keyframe_in_time():
    frames = np.repeat(panning_clip(1, 32, 48), 4, axis=0)  # a still scene
    holes = np.zeros((4, 32, 48), bool)
    holes[:, 10:20, 10:20] = True
    zero = np.zeros((3, 2, 32, 48), np.float32)
    result = keyframe_fill(
        np.where(holes[..., None], 0, frames), holes, zero, zero,
        **options("fill_classical", spread="always"),
    )  # fmt: skip
    # One spatial fill, copied to every frame: the fill does not flicker.
    for t in range(1, 4):
        np.testing.assert_array_equal(result[t], result[0])


def test_unspread_fill_fills_each_frame_from_its_own_border():
    frames = np.stack([np.full((32, 48, 3), 40 * (t + 1), np.uint8) for t in range(4)])
    holes = np.zeros((4, 32, 48), bool)
    holes[:, 10:20, 10:20] = True
    zero = np.zeros((3, 2, 32, 48), np.float32)
    result = keyframe_fill(
        np.where(holes[..., None], 0, frames), holes, zero, zero,
        **options("fill_classical", spread="never"),
    )  # fmt: skip
    # each frame's own colour (Telea, half of the default fill, is off by one on flat areas),
    # not the keyframe's: the frames' colours are 40 apart
    assert np.abs(result.astype(int) - frames).max() <= 1


def test_auto_spread_tells_a_fixed_hole_from_a_moving_one():
    moving = moving_box_masks(6, 40, 80, size=(10, 10), speed=8)
    assert fixed_holes(np.repeat(moving[:1], 6, axis=0))
    assert not fixed_holes(moving)


def test_harmonic_spatial_fill_recovers_a_linear_ramp():
    ramp = np.linspace(0, 250, 64)[None, :, None].repeat(40, 0).repeat(3, 2)
    frame = np.rint(ramp).astype(np.uint8)
    hole = np.zeros((40, 64), bool)
    hole[12:28, 20:44] = True
    filled = spatial_fill(np.where(hole[..., None], 0, frame).astype(np.uint8), hole, "harmonic")
    assert np.abs(filled.astype(int) - frame)[hole].max() <= 1  # rounding of the border


def edge_through_a_hole() -> tuple[np.ndarray, np.ndarray]:
    """A dark pillar's straight edge crossing a hole on a bright background (40x64 RGB)."""
    frame = np.full((40, 64, 3), 220, np.uint8)
    frame[:, :30] = 40
    hole = np.zeros((40, 64), bool)
    hole[12:28, 20:44] = True
    return frame, hole


def test_fsr_spatial_fill_continues_a_straight_edge_that_harmonic_blurs():
    frame, hole = edge_through_a_hole()
    hidden = np.where(hole[..., None], 0, frame).astype(np.uint8)
    errors = {
        method: np.abs(spatial_fill(hidden, hole, method).astype(int) - frame)[hole].mean()
        for method in ("fsr", "harmonic")
    }
    assert errors["fsr"] < 5 < errors["harmonic"]


def test_fsr_mean_spatial_fill_averages_fsr_and_mean():
    frame, hole = edge_through_a_hole()
    hidden = np.where(hole[..., None], 0, frame).astype(np.uint8)
    parts = [spatial_fill(hidden, hole, m).astype(float) for m in ("fsr", "mean")]
    blend = spatial_fill(hidden, hole, "fsr_mean").astype(float)
    assert np.abs(blend - (parts[0] + parts[1]) / 2)[hole].max() <= 1  # rounding of each part
    np.testing.assert_array_equal(blend[~hole], frame[~hole])


def test_auto_spatial_fill_uses_fsr_mean_on_small_parts_and_mean_on_large_ones():
    frame = np.full((96, 128, 3), 220, np.uint8)
    frame[:, :30] = 40
    frame[:, 90:] = 120
    small = np.zeros((96, 128), bool)
    small[12:28, 20:44] = True  # 384 px, across the edge at x = 30
    large = np.zeros((96, 128), bool)
    large[40:90, 60:110] = True  # 2,500 px, above FSR_MAX_AREA
    both = small | large
    hidden = np.where(both[..., None], 0, frame).astype(np.uint8)
    auto = spatial_fill(hidden, both, "auto").astype(int)
    np.testing.assert_array_equal(auto[large], spatial_fill(hidden, both, "mean")[large])
    alone = spatial_fill(np.where(small[..., None], 0, frame).astype(np.uint8), small, "fsr_mean")
    assert np.abs(auto[small] - alone[small]).max() <= 1  # rounding of the mean part


def test_auto_spatial_fill_takes_fsr_under_a_steady_hole_and_mean_under_a_moving_one():
    frame, hole = edge_through_a_hole()
    frames = np.repeat(frame[None], 3, axis=0)
    zero = np.zeros((2, 2, 40, 64), np.float32)
    moving = moving_box_masks(3, 40, 64, size=(16, 24), speed=8)
    for holes, expected in ((np.repeat(hole[None], 3, axis=0), "fsr_mean"), (moving, "mean")):
        hidden = np.where(holes[..., None], 0, frames).astype(np.uint8)
        fill = {
            m: keyframe_fill(hidden, holes, zero, zero, "bilinear", m) for m in ("auto", expected)
        }
        difference = np.abs(fill["auto"].astype(int) - fill[expected])
        assert difference.max() <= 1  # fsr_mean rounds once, auto twice (mean, then blend)
    assert not np.array_equal(
        fill["auto"], keyframe_fill(hidden, moving, zero, zero, "bilinear", "fsr_mean")
    )


def test_fsr_spatial_fill_without_opencv_contrib_names_the_fix(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "xphoto")
    frame, hole = edge_through_a_hole()
    for method in ("fsr_mean", "auto"):
        with pytest.raises(RuntimeError, match="Fix: install OpenCV's contrib build"):
            spatial_fill(frame, hole, method)


def test_composite_changes_only_hole_pixels_at_full_resolution():
    original = panning_clip(1, 50, 66)[0]
    result = np.zeros((48, 64, 3), np.uint8)
    hole = np.zeros((50, 66), bool)
    hole[5:15, 5:15] = True
    out = composite(result, original, hole)
    np.testing.assert_array_equal(out[~hole], original[~hole])
    assert (out[hole] == 0).all()


def test_classical_stages_end_to_end(tmp_path):
    frames = panning_clip(12, 98, 130)
    masks = moving_box_masks(12, 98, 130, speed=4)
    video = write_clip_folder(tmp_path / "in", frames)
    frames_dir = extract_frames("e2e", video, tmp_path / "frames", **options("frames"))
    mask_folder = write_mask_folder(tmp_path / "m", masks)
    masks_dir = masks_from_files(
        "e2e", mask_folder, frames_dir, tmp_path / "masks", **options("masks_from_files")
    )
    flows = classical_flows(frames_dir, masks_dir, tmp_path / "flows", **options("flows_classical"))
    completed = classical_complete(flows, masks_dir, tmp_path / "completed")
    propagated = propagate(
        frames_dir, masks_dir, completed, tmp_path / "prop", keyframes="", sample="e2e",
        **options("propagate"),
    )  # fmt: skip
    out = classical_fill(
        frames_dir,
        masks_dir,
        completed,
        propagated,
        tmp_path / "inpainted",
        keyframes="",
        **options("fill_classical"),
    )
    result, full = io.read_frames(out), io.read_masks(masks_dir / "full")
    assert result.shape == frames.shape
    np.testing.assert_array_equal(result[~full], frames[~full])
    # Pixels filled by propagation come from where the background was seen: far better than a
    # spatial fill of the same pixels.
    truth = io.read_frames(frames_dir / "proc")
    holes, left = io.read_masks(masks_dir / "proc"), io.read_masks(propagated / "masks")
    filled = holes & ~left
    assert filled.sum() > 0.3 * holes.sum()
    error = np.abs(io.read_frames(propagated / "frames").astype(int) - truth)[filled].mean()
    spatial = np.stack([telea(f, h) for f, h in zip(truth, holes, strict=True)])
    baseline = np.abs(spatial.astype(int) - truth)[filled].mean()
    assert error < baseline / 3, f"propagated {error:.1f} vs Telea {baseline:.1f}"


def test_classical_flows_refuse_frames_below_the_dis_minimum(tmp_path):
    video = write_clip_folder(tmp_path / "in", panning_clip(3, 24, 256))
    frames_dir = extract_frames("thin", video, tmp_path / "frames", **options("frames"))
    masks = write_mask_folder(tmp_path / "m", moving_box_masks(3, 24, 256, size=(4, 4)))
    masks_dir = masks_from_files(  # whole frames (a region would be 128x24)
        "thin", masks, frames_dir, tmp_path / "masks", **options("masks_from_files", roi=None)
    )
    with pytest.raises(InputError, match=r"sample 'thin': the processing size 256x24 .* 32 px"):
        classical_flows(frames_dir, masks_dir, tmp_path / "flows", **options("flows_classical"))
    assert not (tmp_path / "flows").exists()
