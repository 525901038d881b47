"""Stage `masks_from_files`: binarising, dilation, validation against the frames."""

from __future__ import annotations

import cv2
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
from vanish.errors import InputError
from vanish.masks import dilate, holes_stay_put
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files


def test_dilation_is_the_l1_ball():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    rows, cols = np.mgrid[:21, :21]
    expected = np.abs(rows - 10) + np.abs(cols - 10) <= 4
    np.testing.assert_array_equal(dilate(mask, 4), expected)


def test_dilation_zero_keeps_any_nonzero_pixel():
    mask = np.array([[0, 3], [0, 0]], np.uint8)
    np.testing.assert_array_equal(dilate(mask, 0), mask > 0)


def test_a_fixed_hole_stays_put_and_a_moving_one_does_not():
    moving = moving_box_masks(6, 40, 80, size=(10, 10), speed=3)
    assert holes_stay_put(np.repeat(moving[:1], 6, axis=0))
    assert not holes_stay_put(moving)


def test_masks_are_dilated_and_summarised(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))
    out = masks_from_files(
        "s",
        clip_on_disk["mask_dir"],
        frames,
        tmp / "masks",
        **options("masks_from_files", dilation=2),
    )
    written = io.read_masks(out / "proc")
    expected = np.stack([dilate(m, 2) for m in clip_on_disk["masks"]])
    np.testing.assert_array_equal(written, expected)
    summary = io.read_json(out / "summary.json")
    assert summary["coverage"] == pytest.approx(expected.mean())
    assert summary["empty"] is False


def test_single_mask_applies_to_every_frame(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))
    single = write_mask_folder(tmp / "one", clip_on_disk["masks"][:1])
    out = masks_from_files(
        "s", single, frames, tmp / "masks", **options("masks_from_files", dilation=0)
    )
    written = io.read_masks(out / "proc")
    assert len(written) == 6 and (written == clip_on_disk["masks"][0]).all()


def test_empty_masks_are_reported(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))
    empty = write_mask_folder(tmp / "empty", np.zeros((6, 48, 64), bool))
    out = masks_from_files("s", empty, frames, tmp / "masks", **options("masks_from_files"))
    assert io.read_json(out / "summary.json")["empty"] is True


@pytest.mark.parametrize("count", [4, 7])
def test_mask_count_must_match_frames(clip_on_disk, count):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))
    masks = write_mask_folder(tmp / "wrong", np.zeros((count, 48, 64), bool))
    with pytest.raises(InputError, match=rf"sample 's': {count} mask images for 6 frames.*wrong"):
        masks_from_files("s", masks, frames, tmp / "masks", **options("masks_from_files"))
    assert not (tmp / "masks").exists()


def test_mask_size_must_match_frames(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    frames = extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))
    masks = write_mask_folder(tmp / "small", np.zeros((6, 24, 32), bool))
    with pytest.raises(InputError, match=r"mask size 32x24 differs from the frames' 64x48.*00000"):
        masks_from_files("s", masks, frames, tmp / "masks", **options("masks_from_files"))


def test_resized_clip_gets_full_resolution_masks(tmp_path):
    folder = write_clip_folder(tmp_path / "in", panning_clip(2, 50, 66))
    frames = extract_frames("r", folder, tmp_path / "f", **options("frames"))
    source = np.zeros((2, 50, 66), bool)
    source[:, 49, 65] = True  # a pixel outside the processing crop
    out = masks_from_files(
        "r",
        write_mask_folder(tmp_path / "m", source),
        frames,
        tmp_path / "masks",
        **options("masks_from_files", dilation=1),
    )
    full = io.read_masks(out / "full")
    assert full.shape == (2, 50, 66) and full[:, 49, 65].all()


def _frames(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    return extract_frames("s", clip_on_disk["video"], tmp / "frames", **options("frames"))


def test_unpadded_mask_numbers_are_read_in_numeric_order(tmp_path):
    frames = extract_frames(
        "n", write_clip_folder(tmp_path / "in", panning_clip(12, 16, 16)), tmp_path / "f",
        **options("frames"),
    )  # fmt: skip
    masks = np.zeros((12, 16, 16), bool)
    folder = tmp_path / "m"
    folder.mkdir()
    for index in range(12):
        masks[index, index, 0] = True
        io.write_mask(folder / f"mask_{index + 1}.png", masks[index])
    out = masks_from_files(
        "n", folder, frames, tmp_path / "masks", **options("masks_from_files", dilation=0)
    )
    np.testing.assert_array_equal(io.read_masks(out / "proc"), masks)


def test_palette_masks_are_read_by_index_not_colour(clip_on_disk):
    from PIL import Image

    target = clip_on_disk["masks"][0]
    image = Image.fromarray(target.astype(np.uint8), mode="P")
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # index 0 white, index 1 black
    single = clip_on_disk["tmp"] / "palette"
    single.mkdir()
    image.save(single / "00000.png")
    out = masks_from_files(
        "s", single, _frames(clip_on_disk), clip_on_disk["tmp"] / "masks",
        **options("masks_from_files", dilation=0),
    )  # fmt: skip
    assert (io.read_masks(out / "proc") == target).all()


def test_varying_alpha_is_the_mask(clip_on_disk):
    target = clip_on_disk["masks"][0]
    rgba = np.full((48, 64, 4), 200, np.uint8)  # opaque-looking colour everywhere
    rgba[..., 3] = target * 255
    single = clip_on_disk["tmp"] / "alpha"
    single.mkdir()
    assert cv2.imwrite(str(single / "00000.png"), rgba)
    out = masks_from_files(
        "s", single, _frames(clip_on_disk), clip_on_disk["tmp"] / "masks",
        **options("masks_from_files", dilation=0),
    )  # fmt: skip
    assert (io.read_masks(out / "proc") == target).all()


def test_jpeg_masks_are_thresholded_at_mid_grey_with_a_warning(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    target = clip_on_disk["masks"][0]
    grey = np.where(target, 255, 100).astype(np.uint8)  # near-black noise stays below 128
    single = tmp / "jpeg"
    single.mkdir()
    assert cv2.imwrite(str(single / "mask.jpg"), grey, [cv2.IMWRITE_JPEG_QUALITY, 100])
    frames = _frames(clip_on_disk)
    out = masks_from_files(
        "s", single, frames, tmp / "masks", **options("masks_from_files", dilation=0)
    )
    assert (io.read_masks(out / "proc") == target).all()
    warnings = io.read_mask_summary(out)["warnings"]
    assert len(warnings) == 1 and "mask.jpg" in warnings[0] and "> 127" in warnings[0]
    from vanish.stages.metrics import compute_metrics

    metrics = compute_metrics(
        "s", frames / "proc", frames, out, tmp / "metrics.json", "", benchmark_files=[],
        selection="", threads=1, **options("metrics"),
    )  # fmt: skip
    assert io.read_json(metrics)["mask_warnings"] == warnings


def test_png_masks_record_no_warning(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    out = masks_from_files(
        "s", clip_on_disk["mask_dir"], _frames(clip_on_disk), tmp / "masks",
        **options("masks_from_files"),
    )  # fmt: skip
    assert "warnings" not in io.read_mask_summary(out)


def test_masks_covering_every_frame_are_refused(clip_on_disk):
    tmp = clip_on_disk["tmp"]
    inverted = write_mask_folder(tmp / "inverted", ~clip_on_disk["masks"])
    with pytest.raises(
        InputError, match=r"sample 's': every mask removes more than 90%.*inverted/00000\.png"
    ):
        masks_from_files(
            "s", inverted, _frames(clip_on_disk), tmp / "masks", **options("masks_from_files")
        )
    assert not (tmp / "masks").exists()
    allowed = options("masks_from_files", max_coverage=0.99)
    assert masks_from_files("s", inverted, tmp / "frames", tmp / "masks", **allowed).is_dir()
