"""The ProPainter backend's stages against the pipeline goldens (tests/data/golden/README.md).

Stage by stage from the stored inputs (B: flow completion, C: image propagation, D: generator
windows + compositing), then the whole chain through the stage *files* (frames → masks → RAFT →
flow completion → propagation → generator), whose RAFT flows are also the stage-A golden.
Weights follow the golden rule and go through the real loading path (file + sha256). CPU, one
thread (the goldens were made at one thread).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import options

from vanish import io
from vanish.errors import InputError
from vanish.models.propainter import InpaintGenerator
from vanish.stages.complete import complete_flows, load_flow_completion, rfc_complete
from vanish.stages.flows import raft_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.propagate import propagate, propagate_window
from vanish.stages.transformer import (
    FeatureCache,
    FolderSource,
    SlidingWindowInpainter,
    TensorSource,
    WindowInputs,
    inpaint_clip,
    load_generator,
    predict_window,
    propainter_transformer,
)
from vanish.testing.rule_checkpoints import write_rule_checkpoints

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
FLOW_TOLERANCE = {"rtol": 1e-4, "atol": 1e-3}
SAMPLE = "golden"


def window_options(**changes: int) -> dict[str, int]:
    """The generator's window settings as the transformer stage passes them (schema defaults:
    the published inference script's)."""
    bound = options("transformer", **changes)
    return {key: bound[key] for key in ("neighbor_length", "ref_stride", "subvideo_length")}


def _golden(name: str) -> dict:
    return torch.load(GOLDEN / name, weights_only=True)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Rule weights (seed 0) saved as checkpoint files, with their sha256."""
    return write_rule_checkpoints(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return _golden("pipeline.pt")


def _assert_composite_close(ours: np.ndarray, reference: np.ndarray, masks: torch.Tensor) -> None:
    """Golden README §4: exact outside the dilated masks; inside ≤ 2 and ≤ 0.1 % values differ."""
    diff = np.abs(ours.astype(np.int16) - reference.astype(np.int16))
    hole = masks[0, :, 0].numpy().astype(bool)
    assert diff[~hole].max() == 0
    assert diff[hole].max() <= 2
    assert np.count_nonzero(diff) <= 0.001 * diff.size


def test_stage_b_flow_completion(weights: dict) -> None:
    raft = _golden("pipeline_flows_raft.pt")
    expected = _golden("pipeline_flows_completed.pt")
    masks = _golden("pipeline.pt")["masks_dilated"]  # flow masks = dilated masks (one knob)
    model = load_flow_completion(*weights["flow_completion"])
    length = options("complete_rfc")["subvideo_length"]
    done = complete_flows(model, raft["gt_flows_forward"], raft["gt_flows_backward"], masks, length)
    torch.testing.assert_close(done[0], expected["completed_flows_forward"], **FLOW_TOLERANCE)
    torch.testing.assert_close(done[1], expected["completed_flows_backward"], **FLOW_TOLERANCE)


def test_stage_b_file_windows_equal_in_memory(weights: dict, tmp_path: Path) -> None:
    """rfc_complete over files, several sub-videos: the in-memory arithmetic, bit for bit."""
    raft = _golden("pipeline_flows_raft.pt")
    holes = _golden("pipeline.pt")["masks_dilated"][:, :13]
    flows = raft["gt_flows_forward"][:, :12], raft["gt_flows_backward"][:, :12]
    writer = io.FlowWriter(tmp_path / "flows", "float32")
    writer.append(flows[0][0].numpy(), flows[1][0].numpy())
    writer.close(cuts=[])
    (tmp_path / "masks" / "proc").mkdir(parents=True)
    for index, hole in enumerate(holes[0, :, 0].numpy() > 0.5):
        io.write_mask(tmp_path / "masks" / "proc" / io.frame_name(index), hole)
    rfc_complete(
        tmp_path / "flows",
        tmp_path / "masks",
        tmp_path / "done",
        *weights["flow_completion"],
        **options("complete_rfc", subvideo_length=6),
    )
    model = load_flow_completion(*weights["flow_completion"])
    expected = complete_flows(model, *flows, holes, subvideo_length=6)
    forward, backward = io.FlowReader(tmp_path / "done").read(0, 12)
    assert torch.equal(torch.from_numpy(forward)[None], expected[0])
    assert torch.equal(torch.from_numpy(backward)[None], expected[1])


def test_stage_c_propagation(pipeline: dict) -> None:
    """The shared propagate stage's window function on the stored completed flows: exact."""
    flows = _golden("pipeline_flows_completed.pt")
    expected = _golden("pipeline_prop.pt")
    holes = pipeline["masks_dilated"][0, :, 0].numpy() > 0.5
    updated, left = propagate_window(
        pipeline["frames_uint8"].numpy(),
        holes,
        flows["completed_flows_forward"][0].numpy(),
        flows["completed_flows_backward"][0].numpy(),
        "nearest",
    )
    np.testing.assert_array_equal(left, expected["updated_masks"][0, :, 0].numpy() > 0.5)
    ours = torch.from_numpy(updated).permute(0, 3, 1, 2).float() / 255.0 * 2 - 1
    ours = ours.masked_fill(torch.from_numpy(left)[:, None], 0.0)
    torch.testing.assert_close(ours, expected["updated_frames"][0], rtol=0, atol=0)


@pytest.mark.slow
def test_stage_d_generator_and_compositing(weights: dict, pipeline: dict) -> None:
    prop = _golden("pipeline_prop.pt")
    flows = _golden("pipeline_flows_completed.pt")
    source = TensorSource(
        prop["updated_frames"],
        prop["updated_masks"],
        pipeline["masks_dilated"],
        flows["completed_flows_forward"],
        flows["completed_flows_backward"],
        pipeline["frames_uint8"],
    )
    comp = inpaint_clip(load_generator(*weights["propainter"]), source, **window_options())
    _assert_composite_close(comp, pipeline["comp_frames"].numpy(), pipeline["masks_dilated"])


@pytest.fixture(scope="module")
def stage_files(
    weights: dict, pipeline: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The golden clip through every stage function, as the workflow runs them."""
    root = tmp_path_factory.mktemp("pipeline")
    png_frames, png_masks = root / "input" / "frames", root / "input" / "masks"
    io.write_frame_folder(png_frames, pipeline["frames_uint8"].numpy())
    png_masks.mkdir(parents=True)
    for index, mask in enumerate(pipeline["masks_uint8"].numpy()):
        io.write_mask(png_masks / io.frame_name(index), mask > 0)
    out = {name: root / name for name in ("frames", "masks", "flows", "completed", "propagated")}
    out["inpainted"] = root / "inpainted"
    extract_frames(SAMPLE, png_frames, out["frames"], **options("frames"))
    masks_from_files(
        SAMPLE, png_masks, out["frames"], out["masks"], **options("masks_from_files", dilation=4)
    )
    raft_flows(
        out["frames"],
        out["masks"],
        out["flows"],
        *weights["raft"],
        **options("flows_raft", iterations=20),
    )
    rfc_complete(
        out["flows"],
        out["masks"],
        out["completed"],
        *weights["flow_completion"],
        **options("complete_rfc"),
    )
    propagate(
        out["frames"],
        out["masks"],
        out["completed"],
        out["propagated"],
        keyframes="",
        sample="golden",
        **options("propagate", backend="propainter"),
    )
    propainter_transformer(
        out["frames"],
        out["masks"],
        out["completed"],
        out["propagated"],
        out["inpainted"],
        *weights["propainter"],
        keyframes="",
        **options("transformer"),
    )
    return out


@pytest.mark.slow
def test_masks_stage_reproduces_dilated_masks(stage_files: dict, pipeline: dict) -> None:
    ours = io.read_masks(stage_files["masks"] / "proc")
    np.testing.assert_array_equal(ours, pipeline["masks_dilated"][0, :, 0].numpy() > 0.5)


@pytest.mark.slow
def test_stage_a_raft_chunked_flows(stage_files: dict) -> None:
    """RAFT through the stage (chunks [0, 12) and [11, 20) at width 160) → the golden flows."""
    expected = _golden("pipeline_flows_raft.pt")
    reader = io.FlowReader(stage_files["flows"])
    assert [length for _, length in reader.meta["chunks"]] == [11, 8]
    forward, backward = reader.read(0, reader.count)
    torch.testing.assert_close(
        torch.from_numpy(forward), expected["gt_flows_forward"][0], **FLOW_TOLERANCE
    )
    torch.testing.assert_close(
        torch.from_numpy(backward), expected["gt_flows_backward"][0], **FLOW_TOLERANCE
    )


@pytest.mark.slow
def test_end_to_end_through_stage_files(stage_files: dict, pipeline: dict) -> None:
    ours = io.read_frames(stage_files["inpainted"])
    _assert_composite_close(ours, pipeline["comp_frames"].numpy(), pipeline["masks_dilated"])


@pytest.mark.slow
def test_completed_flows_through_stage_files(stage_files: dict) -> None:
    """Stage B fed with our own RAFT flows: still within the golden's flow tolerance."""
    expected = _golden("pipeline_flows_completed.pt")
    forward, backward = io.FlowReader(stage_files["completed"]).read(0, 19)
    torch.testing.assert_close(
        torch.from_numpy(forward), expected["completed_flows_forward"][0], **FLOW_TOLERANCE
    )
    torch.testing.assert_close(
        torch.from_numpy(backward), expected["completed_flows_backward"][0], **FLOW_TOLERANCE
    )


class _Zeros(torch.nn.Module):
    """Stand-in generator: right output shape, no compute (for the memory-bound tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, frames, flows, masks_in, masks_updated, num_local, *args, **kwargs):
        return torch.zeros_like(frames[:, : int(num_local)])

    def encode(self, frames, masks_in, masks_updated) -> torch.Tensor:
        return torch.zeros(*frames.shape[:2], 1, 1, 1)


def _tiny_stage_folders(root: Path, count: int) -> dict[str, Path]:
    """Hand-made frames/masks/flows/propagated folders of a 16x16 clip."""
    rng = np.random.default_rng(count)
    frames = rng.integers(0, 256, (count, 16, 16, 3), dtype=np.uint8)
    holes = np.zeros((count, 16, 16), bool)
    holes[:, 4:9, 5:11] = True
    folders = {name: root / name for name in ("frames", "masks", "flows", "propagated")}
    io.write_frame_folder(folders["frames"] / "proc", frames)
    io.write_frame_folder(folders["propagated"] / "frames", frames)
    for folder in (folders["masks"] / "proc", folders["propagated"] / "masks"):
        folder.mkdir(parents=True)
        for index, hole in enumerate(holes):
            io.write_mask(folder / io.frame_name(index), hole)
    writer = io.FlowWriter(folders["flows"], "float16")
    for start, stop in io.iter_chunks(count - 1, 16):
        zeros = np.zeros((stop - start, 2, 16, 16), np.float32)
        writer.append(zeros, zeros)
    writer.close(cuts=[])
    return folders


@pytest.mark.parametrize("subvideo_length", [80, 20])
def test_frames_held_do_not_grow_with_clip_length(tmp_path: Path, subvideo_length: int) -> None:
    peaks = []
    for count in (100, 300):
        folders = _tiny_stage_folders(tmp_path / f"clip{count}", count)
        source = FolderSource(
            folders["frames"], folders["masks"], folders["flows"], folders["propagated"]
        )
        windows = window_options(subvideo_length=subvideo_length)
        inpainter = SlidingWindowInpainter(_Zeros(), source, **windows)
        written = [index for index, _ in inpainter]
        assert written == list(range(count))  # every frame, once, in order
        peaks.append((source.peak_frames, inpainter.peak_pending))
    assert peaks[0] == peaks[1]
    assert peaks[0][1] <= 11  # composites pending: at most one window of local frames


def test_each_frame_is_encoded_once_while_windows_hold_it(tmp_path: Path) -> None:
    """30 frames: the 6 windows hold 70 frames, 30 distinct, each kept from window to window."""
    folders = _tiny_stage_folders(tmp_path, 30)
    source = FolderSource(
        folders["frames"], folders["masks"], folders["flows"], folders["propagated"]
    )
    inpainter = SlidingWindowInpainter(_Zeros(), source, **window_options())
    assert sum(len(local) + len(refs) for local, refs in inpainter.windows) == 70
    list(inpainter)
    assert inpainter.features.encoded == 30


def test_shared_encoder_features_give_the_window_outputs() -> None:
    """Windows predicted with features carried over equal windows encoded from scratch."""
    torch.manual_seed(0)
    model = InpaintGenerator().eval()
    count, size = 8, (64, 64)
    frames = torch.rand(1, count, 3, *size) * 2 - 1
    holes = torch.zeros(1, count, 1, *size)
    holes[..., 20:40, 24:44] = 1
    flows = torch.randn(1, count - 1, 2, *size)
    source = TensorSource(frames, holes, holes, flows, -flows, np.zeros((count, *size, 3)))
    windows = [([0, 1, 2, 3, 4], [6]), ([2, 3, 4, 5, 6], [0]), ([4, 5, 6, 7], [0, 2])]
    cache = FeatureCache()
    for local, refs in windows:
        inputs = source.window(local, refs)
        shared = predict_window(model, inputs, len(local), cache, local + refs)
        alone = predict_window(model, inputs, len(local))
        np.testing.assert_allclose(shared, alone, rtol=0, atol=1e-3)
    assert cache.encoded == count


def test_window_inputs_zero_unfilled_hole_pixels(tmp_path: Path) -> None:
    """Propagated PNGs hold mid-grey in unfilled holes; the generator must see 0.0 there."""
    folders = _tiny_stage_folders(tmp_path, 4)
    source = FolderSource(
        folders["frames"], folders["masks"], folders["flows"], folders["propagated"]
    )
    inputs: WindowInputs = source.window([0, 1, 2], [3])
    hole = inputs.masks_updated.expand_as(inputs.frames).bool()
    assert inputs.frames.shape == (1, 4, 3, 16, 16)
    assert torch.all(inputs.frames[hole] == 0)
    assert torch.all(inputs.frames[~hole] != 0)
    assert inputs.flows_forward.shape == (1, 2, 2, 16, 16)


def test_small_clip_is_rejected_with_clear_error(tmp_path: Path) -> None:
    frames = np.zeros((3, 120, 216, 3), np.uint8)
    io.write_frame_folder(tmp_path / "png", frames)
    extract_frames("tiny", tmp_path / "png", tmp_path / "frames", **options("frames"))
    missing = tmp_path / "no-weights.pth"  # the clip is refused before any weights are read
    with pytest.raises(InputError, match=r"sample 'tiny'.*120.*below 128.*Fix:"):
        raft_flows(
            tmp_path / "frames",
            tmp_path / "masks",
            tmp_path / "flows",
            missing,
            None,
            **options("flows_raft"),
        )
    assert not (tmp_path / "flows").exists()
