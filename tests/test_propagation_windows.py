"""Image propagation of the propainter backend across several windows: a constant pan behind a
fixed hole, exact flows given, windows derived from `propainter.subvideo_length` as the
reference inference derives them (docs/architecture.md, orchestration)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import options, panning_clip, write_clip_folder, write_mask_folder

from vanish import io
from vanish.config import default_config
from vanish.convert import frames_to_tensor, masks_to_tensor, tensor_to_frames, tensor_to_masks
from vanish.models.propagation import image_propagation
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.propagate import propagate
from vanish.table import PropagateOptions

COUNT, HEIGHT, WIDTH = 40, 24, 64
HOLE = (slice(8, 16), slice(20, 44))  # 24 px wide: a pan of 1 px/frame needs up to 24 frames


def pan_flows(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact flows of a view panning right by 1 px/frame: content moves 1 px left per frame."""
    forward = np.zeros((count - 1, 2, HEIGHT, WIDTH), np.float32)
    forward[:, 0] = -1.0
    return forward, -forward


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("pan")
    frames = panning_clip(COUNT, HEIGHT, WIDTH, step=(0, 1))
    holes = np.zeros((COUNT, HEIGHT, WIDTH), bool)
    holes[:, HOLE[0], HOLE[1]] = True
    video = write_clip_folder(root / "in" / "frames", frames)
    mask_input = write_mask_folder(root / "in" / "masks", holes)
    extract_frames("pan", video, root / "frames", **options("frames"))
    masks_from_files(
        "pan",
        mask_input,
        root / "frames",
        root / "masks",
        **options("masks_from_files", dilation=0),
    )
    writer = io.FlowWriter(root / "flows", dtype="float32")
    writer.append(*pan_flows(COUNT))
    writer.close()
    return {"root": root, "frames": frames, "holes": holes}


def reference_windows(frames: np.ndarray, holes: np.ndarray, subvideo_length: int):
    """The reference inference's loop: windows of min(100, subvideo_length) frames every that
    many frames, each read with 10 frames of context per side, keeping its own frames."""
    length, pad, count = min(100, subvideo_length), 10, len(frames)
    forward, backward = (torch.from_numpy(f)[None] for f in pan_flows(count))
    frames_t, masks_t = frames_to_tensor(frames), masks_to_tensor(holes)
    out_frames, out_holes = [], []
    for start in range(0, count, length):
        lo, hi = max(0, start - pad), min(count, start + length + pad)
        window_frames, window_masks = frames_t[:, lo:hi], masks_t[:, lo:hi]
        prop, left = image_propagation(
            window_frames * (1 - window_masks),
            forward[:, lo : hi - 1],
            backward[:, lo : hi - 1],
            window_masks,
            "nearest",
        )
        updated = window_frames * (1 - window_masks) + prop * window_masks
        keep = slice(start - lo, min(count, start + length) - lo)
        out_frames.append(tensor_to_frames(updated)[keep])
        out_holes.append(tensor_to_masks(left)[keep])
    return np.concatenate(out_frames), np.concatenate(out_holes)


@pytest.mark.parametrize("subvideo_length", [3, 8, 16, 100])
def test_propagation_fills_across_windows_as_the_reference(clip, tmp_path, subvideo_length):
    config = default_config()
    config["backend"] = "propainter"
    config["propainter"]["subvideo_length"] = subvideo_length
    options = PropagateOptions.from_config(config)
    root = clip["root"]
    out = propagate(
        root / "frames", root / "masks", root / "flows", tmp_path / "p", keyframes="", sample="pan",
        **asdict(options),
    )  # fmt: skip

    result = io.read_frames(Path(out) / "frames")
    left = io.read_masks(Path(out) / "masks")
    expected, expected_left = reference_windows(clip["frames"], clip["holes"], subvideo_length)
    assert np.array_equal(left, expected_left)
    filled = clip["holes"] & ~left
    assert np.array_equal(result[filled], expected[filled])
    # the pan is exact, so every filled pixel is the true background
    assert np.array_equal(result[filled], clip["frames"][filled])
    assert filled.sum() > 0.5 * clip["holes"].sum()
    if subvideo_length < COUNT:  # several windows: a window sees at most length + 10 frames ahead
        assert left.any()


def test_classical_propagation_keeps_the_reference_check_under_a_fixed_hole(clip, tmp_path):
    root = clip["root"]
    settings = options("propagate", chunk=16, pad=2)
    assert settings["fb_tolerance"] > 1  # the default loosens it where holes move
    out = propagate(
        root / "frames", root / "masks", root / "flows", tmp_path / "p", keyframes="", sample="pan",
        **settings,
    )  # fmt: skip
    summary = io.read_propagation_summary(out)
    assert summary["steady_windows"] == 3  # 40 frames in windows of 16: every one judged steady
