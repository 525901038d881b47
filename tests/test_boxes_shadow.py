"""Box interpolation, mask union, dilation and the cast-shadow extension on synthetic images
with a known object and a known shadow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import options

from vanish import io
from vanish.boxes import (
    box_of_mask,
    context_box,
    crop,
    interpolate_series,
    iou,
    track_series,
)
from vanish.masks import dilate, write_masks
from vanish.shadow import ShadowParams, extend_with_shadow, shadow_candidate
from vanish.stages.prompt_masks import frame_boxes, object_masks

# the `prompt.masks` section at its schema defaults
DEFAULTS = options("masks_from_prompt")["mask_options"]

# --- boxes -------------------------------------------------------------------------------------


def test_gaps_are_interpolated_linearly():
    series = track_series([0, 4, 10], [[0, 0, 10, 10], [8, 4, 18, 14], [20, 4, 30, 14]], 12)
    filled = interpolate_series(series)
    np.testing.assert_allclose(filled[2], [4, 2, 14, 12])
    np.testing.assert_allclose(filled[7], [14, 4, 24, 14])
    assert np.isnan(filled[11]).all()  # after the last detection: not invented
    assert np.isnan(series[2]).all()  # the input is left alone


def test_max_gap_and_extend():
    series = track_series([2, 4, 10], [[0, 0, 4, 4], [2, 0, 6, 4], [8, 0, 12, 4]], 13)
    filled = interpolate_series(series, max_gap=3, extend=1)
    np.testing.assert_allclose(filled[3], [1, 0, 5, 4])  # gap of 1: filled
    assert np.isnan(filled[5:10]).all()  # gap of 5 > max_gap: left empty
    np.testing.assert_allclose(filled[1], [0, 0, 4, 4])  # held one frame before the first
    assert np.isnan(filled[0]).all()
    np.testing.assert_allclose(filled[11], [8, 0, 12, 4])  # and one after the last
    assert np.isnan(filled[12]).all()


def test_frame_boxes_interpolate_and_clip_per_frame():
    rows = [
        (0, 1, "person", 0, 0.9, -5, 0, 10, 10),  # partly left of the image
        (3, 1, "person", 0, 0.9, 25, 0, 40, 10),
        (1, 2, "dog", 16, 0.8, 50, 50, 60, 60),
        (2, 9, "cat", 15, 0.8, 0, 0, 5, 5),  # not selected
    ]
    table = pd.DataFrame(rows, columns=list(io.DETECTION_COLUMNS)).astype(io.DETECTION_COLUMNS)
    boxes = frame_boxes(table, [1, 2], 5, 64, 48, DEFAULTS["max_gap"], DEFAULTS["extend"])
    np.testing.assert_allclose(boxes[0], [[0, 0, 10, 10]])
    np.testing.assert_allclose(boxes[1], [[5, 0, 20, 10]])  # the dog's box is below the image
    np.testing.assert_allclose(boxes[2], [[15, 0, 30, 10]])
    assert boxes[4].shape == (0, 4)


def test_context_box_and_padded_crop():
    box = context_box(np.array([10, 10, 30, 20]), margin=0.5)
    np.testing.assert_allclose(box, [0, -5, 40, 35])  # 20x10 grown to 40x20, squared to 40x40
    image = np.full((20, 40, 3), 7, np.uint8)
    patch = crop(image, box, fill=0)
    assert patch.shape == (40, 40, 3)
    assert (patch[:5] == 0).all() and (patch[5:25] == 7).all() and (patch[25:] == 0).all()
    assert iou(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(1 / 3)


# --- mask union and dilation -------------------------------------------------------------------


class FakeSegmenter:
    """Stands in for SAM: each box gets a known mask from `make(box, shape)`."""

    def __init__(self, shape, make):
        self.shape, self.make, self.calls = shape, make, []

    def segment(self, embedding, boxes=None, points=None, labels=None):
        self.calls.append((boxes, points))
        return np.stack([self.make(np.asarray(b), self.shape) for b in boxes])


def filled(box, shape):
    mask = np.zeros(shape, bool)
    x1, y1, x2, y2 = (int(v) for v in box)
    mask[y1:y2, x1:x2] = True
    return mask


def test_object_masks_are_united_gated_to_their_box_and_dilated(tmp_path):
    shape = (48, 64)
    frame = np.full((*shape, 3), 128, np.uint8)
    boxes = np.array([[4, 4, 14, 20], [30, 10, 50, 30]], float)

    def spill(box, shape):  # SAM "leaks" 10 px to the right of each box
        return filled(box + [0, 0, 10, 0], shape)

    options = {**DEFAULTS, "box_margin": 0.1}
    union = object_masks(FakeSegmenter(shape, spill), None, frame, boxes, options)
    expected = filled([4, 4, 15, 20], shape) | filled([30, 10, 52, 30], shape)
    np.testing.assert_array_equal(union, expected)

    options = {**DEFAULTS, "box_margin": None}
    union = object_masks(FakeSegmenter(shape, spill), None, frame, boxes, options)
    np.testing.assert_array_equal(
        union, filled([4, 4, 24, 20], shape) | filled([30, 10, 60, 30], shape)
    )

    empty = FakeSegmenter(shape, lambda box, shape: np.zeros(shape, bool))
    union = object_masks(empty, None, frame, boxes, DEFAULTS)
    np.testing.assert_array_equal(union, filled(boxes[0], shape) | filled(boxes[1], shape))

    meta = io.ClipMeta("s", "v", 24.0, 2, shape[1], shape[0], shape[1], shape[0])
    summary = write_masks([expected, np.zeros(shape, bool)], meta, tmp_path / "m", dilation=3)
    written = io.read_masks(tmp_path / "m" / "proc")
    np.testing.assert_array_equal(written[0], dilate(expected, 3))
    assert not written[1].any()
    assert (tmp_path / "m" / "summary.json").is_file() and summary["empty"] is False


# --- shadows -----------------------------------------------------------------------------------

H, W = 120, 160
OBJECT = (slice(30, 70), slice(60, 80))  # a standing object, 40 x 20
SHADOW = (slice(70, 86), slice(60, 101))  # its shadow on the ground, touching its foot
BLOB = (slice(35, 51), slice(30, 46))  # a dark patch nearby that does not touch the object
PENUMBRA = (slice(86, 89), slice(60, 101))  # the soft edge of the shadow


def scene(seed: int = 0, penumbra: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lit textured ground, a red object, its dark shadow and an unrelated dark patch."""
    rng = np.random.default_rng(seed)
    luma = 170 + rng.integers(-8, 9, (H, W))
    luma[SHADOW] = 80 + rng.integers(-8, 9, luma[SHADOW].shape)
    luma[BLOB] = 70
    if penumbra:
        luma[PENUMBRA] = 132
    image = np.repeat(luma[..., None], 3, axis=2).astype(np.uint8)
    image[OBJECT] = (230, 40, 40)
    obj = np.zeros((H, W), bool)
    obj[OBJECT] = True
    shadow = np.zeros((H, W), bool)
    shadow[SHADOW] = True
    return image, obj, shadow


def test_shadow_is_found_and_unconnected_dark_areas_are_not():
    image, obj, shadow = scene()
    found = shadow_candidate(image, obj)
    assert (found & shadow).sum() / (found | shadow).sum() > 0.95
    assert not found[BLOB].any()
    assert not (found & obj).any()
    np.testing.assert_array_equal(extend_with_shadow(image, obj), obj | found)


def test_no_shadow_no_extension():
    image, obj, _ = scene()
    image[SHADOW] = 170  # lit ground where the shadow was
    np.testing.assert_array_equal(extend_with_shadow(image, obj), obj)
    np.testing.assert_array_equal(extend_with_shadow(image, np.zeros_like(obj)), np.zeros_like(obj))


def test_an_object_in_a_dark_area_keeps_its_mask():
    image, obj, _ = scene()
    image[:, :] = 60  # night: everything around is dark
    image[OBJECT] = (230, 40, 40)
    image[:, 130:] = 200  # some lit region far away sets the reference
    assert not shadow_candidate(image, obj, ShadowParams(reach=3.0)).any()  # too large: rejected


def test_refinement_is_gated_by_darkness_and_connectivity():
    image, obj, shadow = scene(penumbra=True)
    penumbra = np.zeros_like(obj)
    penumbra[PENUMBRA] = True
    lit = np.zeros_like(obj)
    lit[89:100, 60:101] = True  # lit ground beyond the penumbra
    blob = np.zeros_like(obj)
    blob[BLOB] = True
    prompts = []

    def refine(box, point):  # a segmenter whose mask spills everywhere
        prompts.append((box, point))
        return shadow | penumbra | lit | blob

    plain = extend_with_shadow(image, obj)
    assert not (plain & penumbra).any()  # the penumbra is too light for the hard gate
    refined = extend_with_shadow(image, obj, refine=refine)
    assert (refined & penumbra).sum() == penumbra.sum()  # the soft gate takes it
    assert not (refined & lit).any() and not (refined & blob).any()
    box, point = prompts[0]
    np.testing.assert_allclose(box, box_of_mask(shadow_candidate(image, obj)))
    assert shadow[int(point[1]), int(point[0])]  # prompted inside the shadow


def test_shadow_extension_inside_object_masks():
    image, obj, shadow = scene()
    box = box_of_mask(obj)
    options = {**DEFAULTS, "shadow": True, "shadow_refine": False, "box_margin": None}
    segmenter = FakeSegmenter(obj.shape, lambda b, s: obj.copy())
    union = object_masks(segmenter, None, image, box[None], options)
    assert (union & shadow).sum() / shadow.sum() > 0.95
    assert union[OBJECT].all()
