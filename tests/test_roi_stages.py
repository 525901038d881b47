"""Regions of interest through the stages (config `roi`): the mask stage's choice and crops, the
later stages on the crops, and compositing only hole pixels at the input's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import moving_box_masks, options, panning_clip, write_clip_folder, write_mask_folder

from vanish import io
from vanish.errors import InputError
from vanish.stability import stability_of_files
from vanish.stages.align import classical_align
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.metrics import stability_masks_dir
from vanish.stages.propagate import propagate

ROI = {"margin": 16, "max_fraction": 0.6, "max_side": None, "cut_threshold": 0.3}


def masked_clip(tmp: Path, height: int, width: int, roi: dict | None) -> tuple[Path, Path, dict]:
    """Frames and mask stage folders of a 6-frame panning clip with a small moving box."""
    clip, holes = panning_clip(6, height, width), moving_box_masks(6, height, width)
    video = write_clip_folder(tmp / "input" / "frames", clip)
    mask_dir = write_mask_folder(tmp / "input" / "masks", holes)
    frames = extract_frames("s", video, tmp / "frames", **options("frames"))
    masks = masks_from_files(
        "s", mask_dir, frames, tmp / "masks", **options("masks_from_files", roi=roi)
    )
    return frames, masks, {"frames": clip, "masks": holes}


def test_roi_records_one_region_of_the_processing_size(tmp_path: Path) -> None:
    _, masks, _ = masked_clip(tmp_path, 200, 320, ROI)
    roi = io.read_roi(masks)
    box = roi.boxes[0]
    assert roi.size == [box[2] - box[0], box[3] - box[1]] == [128, 128]


def test_roi_frames_are_the_regions_cut_from_the_input(tmp_path: Path) -> None:
    frames, masks, clip = masked_clip(tmp_path, 200, 320, ROI)
    roi = io.read_roi(masks)
    cropped = io.ComputedFrames(frames, masks).read_range()
    np.testing.assert_array_equal(cropped, clip["frames"][:, roi.box(0)[0], roi.box(0)[1]])


def test_roi_holes_are_the_regions_of_the_input_size_holes(tmp_path: Path) -> None:
    _, masks, _ = masked_clip(tmp_path, 200, 320, ROI)
    roi = io.read_roi(masks)
    full = io.read_masks(io.full_masks_dir(masks))
    proc = io.read_mask_paths(io.computed_hole_paths(masks))
    np.testing.assert_array_equal(proc, full[:, roi.box(0)[0], roi.box(0)[1]])


def test_roi_falls_back_to_whole_frames_on_a_small_frame(tmp_path: Path) -> None:
    frames, masks, _ = masked_clip(tmp_path, 48, 64, ROI)
    assert io.read_roi(masks) is None
    assert io.processing_size(frames, masks) == (64, 48)


def test_roi_fallback_writes_the_holes_as_without_roi(tmp_path: Path) -> None:
    _, with_roi, _ = masked_clip(tmp_path / "a", 48, 64, ROI)
    _, without, _ = masked_clip(tmp_path / "b", 48, 64, None)
    np.testing.assert_array_equal(
        io.read_masks(io.processing_masks_dir(with_roi)),
        io.read_masks(io.processing_masks_dir(without)),
    )


def test_roi_caps_the_region_by_max_side(tmp_path: Path) -> None:
    _, masks, _ = masked_clip(tmp_path, 200, 320, {**ROI, "max_side": 64})
    roi = io.read_roi(masks)
    assert roi.size == [64, 64]
    assert io.read_masks(io.processing_masks_dir(masks)).shape[1:] == (64, 64)


@pytest.fixture
def roi_result(tmp_path: Path) -> dict:
    """The classical chain on a 200x320 clip with regions of interest."""
    frames, masks, clip = masked_clip(tmp_path, 200, 320, ROI)
    flows, done = tmp_path / "flows", tmp_path / "done"
    prop, out = tmp_path / "prop", tmp_path / "out"
    classical_flows(frames, masks, flows, **options("flows_classical"))
    classical_complete(flows, masks, done)
    propagate(frames, masks, done, prop, keyframes="", sample="s", **options("propagate"))
    classical_align(frames, masks, done, prop, tmp_path / "aligned", **options("align_classical"))
    classical_fill(
        frames, masks, done, tmp_path / "aligned", out, keyframes="", **options("fill_classical")
    )
    return {**clip, "result": io.read_frames(out), "holes": io.read_masks(masks / "full")}


def test_roi_keyframe_is_cut_to_the_region_and_carried_to_its_neighbour(tmp_path: Path) -> None:
    frames, masks, clip = masked_clip(tmp_path, 200, 320, ROI)
    keyframe = clip["frames"][2].copy()
    keyframe[clip["masks"][2]] = (250, 20, 20)  # the user's edit inside the hole
    keys = tmp_path / "keys"
    keys.mkdir()
    io.write_rgb(keys / io.frame_name(2), keyframe)
    flows, done, prop = tmp_path / "flows", tmp_path / "done", tmp_path / "prop"
    classical_flows(frames, masks, flows, **options("flows_classical"))
    classical_complete(flows, masks, done)
    propagate(frames, masks, done, prop, keyframes=keys, sample="s", **options("propagate"))
    out = classical_fill(
        frames, masks, done, prop, tmp_path / "out", keyframes=keys, **options("fill_classical")
    )
    result, holes = io.read_frames(out), io.read_masks(masks / "full")
    np.testing.assert_array_equal(result[2][holes[2]], keyframe[holes[2]])
    edit_colour = np.abs(result[3][holes[3]].astype(int) - (250, 20, 20)).max(axis=1) < 40
    assert edit_colour.mean() > 0.3  # as without regions (0.41); no frame shows it unkeyed


def test_roi_result_has_the_input_size(roi_result: dict) -> None:
    assert roi_result["result"].shape == roi_result["frames"].shape


def test_roi_result_changes_only_hole_pixels(roi_result: dict) -> None:
    keep = ~roi_result["holes"]
    np.testing.assert_array_equal(roi_result["result"][keep], roi_result["frames"][keep])


def test_roi_result_fills_the_hole_close_to_the_truth(roi_result: dict) -> None:
    hole = roi_result["holes"]
    error = np.abs(roi_result["result"][hole].astype(int) - roi_result["frames"][hole]).mean()
    assert error < 10


def test_roi_cuts_are_counted_in_computed_frames(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    io.write_mask_folder(io.processing_masks_dir(masks), np.zeros((6, 8, 8), bool))
    io.write_repeats(masks, [0, 0, 2, 3, 3, 5])  # computed frames 0, 2, 3, 5
    io.write_roi(masks, io.Roi([8, 8], [0, 3], [[0, 0, 8, 8]] * 2, [3], 0, 1.0), {})
    assert io.roi_cuts(masks) == [2]


def test_classical_flows_refuse_a_region_below_the_dis_minimum(tmp_path: Path) -> None:
    frames, masks, _ = masked_clip(tmp_path, 24, 256, ROI)
    with pytest.raises(InputError, match=r"sample 's': the processing size 128x24 .* 32 px"):
        classical_flows(frames, masks, tmp_path / "flows", **options("flows_classical"))


def test_mask_stability_with_regions_compares_whole_frame_masks(tmp_path: Path) -> None:
    scores, applied = [], []
    for roi in (ROI, {**ROI, "max_fraction": 0.0}):  # regions, then the whole-frame fallback
        frames, masks, _ = masked_clip(tmp_path / str(len(scores)), 200, 320, roi)
        folder = stability_masks_dir(masks)
        frame_paths = io.list_images(io.processing_frames_dir(frames))
        scores.append(stability_of_files(frame_paths, io.list_images(folder))["mask_stability"])
        applied.append(io.read_roi(masks) is not None)
    assert applied == [True, False]
    assert scores[0] == pytest.approx(scores[1], abs=0.02)
