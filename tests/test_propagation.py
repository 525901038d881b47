"""Image propagation (shared by both backends): golden semantics and recovery of seen background."""

from __future__ import annotations

import numpy as np
import torch
from synthetic import moving_box_masks, panning_clip

from vanish.convert import frames_to_tensor, masks_to_tensor
from vanish.models.propagation import blended_propagation, fb_consistency, image_propagation
from vanish.stages.propagate import propagate_window, sub_videos

GOLDEN = "tests/data/golden"


def test_matches_reference_golden_exactly():
    golden = torch.load(f"{GOLDEN}/inpaint_prop.pt", weights_only=True)
    frames, masks = image_propagation(
        golden["masked_frames"],
        golden["flows_forward"],
        golden["flows_backward"],
        golden["masks"],
        "nearest",
    )
    assert torch.equal(frames, golden["prop_frames"])
    assert torch.equal(masks, golden["updated_masks"])


def test_matches_pipeline_golden_given_completed_flows():
    clip = torch.load(f"{GOLDEN}/pipeline.pt", weights_only=True)
    flows = torch.load(f"{GOLDEN}/pipeline_flows_completed.pt", weights_only=True)
    expected = torch.load(f"{GOLDEN}/pipeline_prop.pt", weights_only=True)
    frames = frames_to_tensor(clip["frames_uint8"].numpy())
    masks = clip["masks_dilated"]
    prop, left = image_propagation(
        frames * (1 - masks),
        flows["completed_flows_forward"],
        flows["completed_flows_backward"],
        masks,
        "nearest",
    )
    assert torch.equal(frames * (1 - masks) + prop * masks, expected["updated_frames"])
    assert torch.equal(left, expected["updated_masks"])


def test_translating_texture_is_recovered_exactly_where_seen():
    step = (1, 2)
    frames = panning_clip(8, 48, 64, step=step)
    holes = moving_box_masks(8, 48, 64)
    count = len(frames) - 1
    # Content moves by -step from frame k to k+1: forward flow (x, y) = (-2, -1).
    forward = np.tile(np.array([-step[1], -step[0]], np.float32)[:, None, None], (count, 1, 48, 64))
    updated, left = propagate_window(frames, holes, forward, -forward, "nearest")
    filled = holes & ~left
    assert filled.sum() > 0.8 * holes.sum()
    np.testing.assert_array_equal(updated[filled], frames[filled])
    np.testing.assert_array_equal(updated[~holes], frames[~holes])


def test_unseen_pixels_stay_holes():
    frames = panning_clip(4, 32, 32, step=(0, 0))
    holes = np.zeros((4, 32, 32), bool)
    holes[:, 10:20, 10:20] = True  # a static hole over a static scene: never visible
    zero = np.zeros((3, 2, 32, 32), np.float32)
    _, left = propagate_window(frames, holes, zero, zero, "nearest")
    np.testing.assert_array_equal(left, holes)


def _still_clip(values: list[float], holes: list[bool]) -> tuple[torch.Tensor, ...]:
    """A 1x4-pixel clip, one grey value per frame, still (zero flows): its hole frames can only
    be filled by copying the same pixel from the nearest known frames on each side."""
    count = len(values)
    frames = torch.tensor(values).view(1, count, 1, 1, 1).expand(1, count, 3, 1, 4).clone()
    masks = torch.tensor(holes, dtype=torch.float32).view(1, count, 1, 1, 1)
    masks = masks.expand(1, count, 1, 1, 4).clone()
    zero = torch.zeros(1, count - 1, 2, 1, 4)
    return frames * (1 - masks), zero, zero, masks


def test_blend_weights_each_sweep_by_the_distance_it_travelled():
    # frame 1 is 1 frame from frame 0 (value 0.8) and 2 from frame 3 (value -0.4)
    prop, left = blended_propagation(
        *_still_clip([0.8, 0.0, 0.0, -0.4], [False, True, True, False])
    )
    near, far = 1 / 2**2, 1 / 3**2
    expected = (near * 0.8 + far * -0.4) / (near + far)
    torch.testing.assert_close(prop[0, 1], torch.full((3, 1, 4), expected))
    torch.testing.assert_close(
        prop[0, 2], torch.full((3, 1, 4), (far * 0.8 + near * -0.4) / (near + far))
    )
    assert not left.any()


def test_blend_takes_the_only_sweep_that_reaches_a_pixel():
    prop, left = blended_propagation(*_still_clip([0.5, 0.0, 0.0], [False, True, True]))
    torch.testing.assert_close(prop[0, 1:], torch.full((2, 3, 1, 4), 0.5))
    assert not left.any()


def test_blend_leaves_holes_no_sweep_reaches():
    masked, forward, backward, masks = _still_clip([0.0, 0.0], [True, True])
    prop, left = blended_propagation(masked, forward, backward, masks)
    assert torch.equal(left, masks)
    assert not prop.any()


def test_sequential_sweeps_keep_the_backward_candidate_blend_does_not():
    # what `blend` changes: ProPainter's forward sweep never revisits what the backward one filled
    clip = _still_clip([0.8, 0.0, 0.0, -0.4], [False, True, True, False])
    sequential, _ = image_propagation(*clip, "bilinear")
    blended, _ = blended_propagation(*clip)
    torch.testing.assert_close(sequential[0, 1], torch.full((3, 1, 4), -0.4))
    assert blended[0, 1, 0, 0, 0] > 0


def test_tolerance_loosens_both_bounds_of_the_flow_check():
    # forward 1 px right, backward 0.1 px left: round trip off by 0.9 px, 0.81 px² against a
    # reference bound of 0.01 * (1 + 0.01) + 0.5 = 0.51 px²; three times that passes
    flow_prop = torch.zeros(1, 2, 4, 4)
    flow_prop[:, 0] = 1.0
    flow_check = torch.zeros(1, 2, 4, 4)
    flow_check[:, 0] = -0.1
    inner = (slice(None), slice(None), slice(None), slice(0, 3))  # sources inside the image
    assert not fb_consistency(flow_prop, flow_check)[inner].any()
    assert fb_consistency(flow_prop, flow_check, tolerance=3.0)[inner].all()


def test_sub_videos_cover_each_frame_once_with_padding():
    windows = sub_videos(0, 25, chunk=10, pad=3)
    assert windows == [(0, 13, 0, 10), (7, 23, 10, 20), (17, 25, 20, 25)]


def test_short_range_is_one_window():
    assert sub_videos(5, 12, chunk=10, pad=3) == [(5, 12, 5, 12)]


def test_masks_tensor_roundtrip_is_binary():
    masks = moving_box_masks(2, 16, 16)
    assert set(torch.unique(masks_to_tensor(masks)).tolist()) <= {0.0, 1.0}
