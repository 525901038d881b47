"""RAFT: key map, golden flows under rule weights, final-iteration forward, chunking."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torchvision.models.optical_flow import RAFT

from vanish.models.raft import (
    FinalFlowRAFT,
    build_raft,
    chunk_bounds,
    chunk_length_for_width,
    compute_bidirectional_flows,
    convert_original_raft_state_dict,
    load_raft,
    raft_keymap,
    raft_layout,
)
from vanish.testing.manifest import read_manifest, rule_weights
from vanish.testing.rule_checkpoints import rule_state_dict
from vanish.weights import sha256_file

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"
GOLDEN = DATA / "golden"
TORCHVISION_MANIFEST = REFERENCE / "raft_large_torchvision.tsv"
RAFT_FINGERPRINT = "6d8b8f3d7c8913b15fd1db13cea18f4b0ed62e285eee3895724ba0d01997853b"


def _layout(rows) -> list[tuple[str, tuple[int, ...]]]:
    return [(row.name, tuple(row.shape)) for row in rows]


def _original_shaped_state_dict(prefix: str) -> dict[str, torch.Tensor]:
    """Zeros in the original layout (shapes from the manifest), each key with `prefix`."""
    rows = read_manifest(REFERENCE / "raft_things_original.tsv")
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    return {prefix + row.name: torch.zeros(row.shape, dtype=dtypes[row.dtype]) for row in rows}


def _rule_state_dict() -> dict[str, torch.Tensor]:
    """Rule weights (seed 0) plus the model's own int64 buffers, in torchvision layout."""
    return rule_state_dict("raft", seed=0)


def _to_original_checkpoint(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Invert the key map as raft-things.pth is laid out: norm3 aliases, `module.` prefix."""
    checkpoint = {}
    for row in raft_keymap():
        source = row.torchvision
        if source is None:  # cnet.layer{2,3}.0.norm3.* share the downsample.1 tensors
            alias = row.original.replace(".norm3.", ".downsample.1.")
            source = next(r.torchvision for r in raft_keymap() if r.original == alias)
        checkpoint["module." + row.original] = state_dict[source]
    return checkpoint


@pytest.fixture(scope="module")
def rule_model(tmp_path_factory: pytest.TempPathFactory) -> FinalFlowRAFT:
    path = tmp_path_factory.mktemp("weights") / "raft-things.pth"
    torch.save(_to_original_checkpoint(_rule_state_dict()), path)
    return load_raft(path, sha256_file(path))


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_keymap_converts_original_layout_to_torchvision(prefix: str) -> None:
    converted = convert_original_raft_state_dict(_original_shaped_state_dict(prefix))
    expected = _layout(read_manifest(TORCHVISION_MANIFEST))
    got = {name: tuple(tensor.shape) for name, tensor in converted.items()}
    assert sorted(got.items()) == sorted(expected)


def test_keymap_drops_norm3_aliases() -> None:
    dropped = [row.original for row in raft_keymap() if row.torchvision is None]
    assert len(dropped) == 10
    assert all(".0.norm3." in key and key.startswith("cnet.layer") for key in dropped)


def test_layout_detection_accepts_both_layouts() -> None:
    assert raft_layout(_original_shaped_state_dict("module.")) == "original"
    assert raft_layout(build_raft().state_dict()) == "torchvision"
    torchvision_sd = build_raft().state_dict()
    assert convert_original_raft_state_dict(torchvision_sd).keys() == torchvision_sd.keys()


def test_rule_weights_fingerprint() -> None:
    weights = rule_weights(read_manifest(TORCHVISION_MANIFEST), seed=0)
    digest = hashlib.sha256()
    for tensor in weights.values():  # dict order = manifest order
        digest.update(tensor.contiguous().numpy().astype("<f4").tobytes())
    assert digest.hexdigest() == RAFT_FINGERPRINT


def test_golden_flows_through_original_checkpoint(rule_model: FinalFlowRAFT) -> None:
    golden = torch.load(GOLDEN / "raft.pt", weights_only=True)
    forward, backward = compute_bidirectional_flows(golden["frames"][0], rule_model, 20)
    torch.testing.assert_close(forward, golden["flows_forward"][0], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(backward, golden["flows_backward"][0], rtol=1e-4, atol=1e-3)


def test_final_iteration_forward_equals_torchvision(rule_model: FinalFlowRAFT) -> None:
    generator = torch.Generator().manual_seed(1)
    image1, image2 = torch.rand(2, 1, 3, 128, 128, generator=generator) * 2 - 1
    with torch.inference_mode():
        ours = rule_model(image1, image2, num_flow_updates=4)
        reference = RAFT.forward(rule_model, image1, image2, num_flow_updates=4)[-1]
    assert torch.equal(ours, reference)


def test_shared_encoders_equal_one_call_per_direction(rule_model: FinalFlowRAFT) -> None:
    frames = torch.rand(4, 3, 128, 136, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        forward, backward = rule_model.bidirectional(frames, num_flow_updates=3)
        expected_forward = rule_model(frames[:-1], frames[1:], num_flow_updates=3)
        expected_backward = rule_model(frames[1:], frames[:-1], num_flow_updates=3)
    torch.testing.assert_close(forward, expected_forward, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(backward, expected_backward, rtol=1e-5, atol=1e-5)


def test_chunk_length_from_width() -> None:
    widths = [432, 640, 641, 720, 721, 1280, 1281, 3840]
    assert [chunk_length_for_width(w) for w in widths] == [12, 12, 8, 8, 4, 4, 2, 2]


def test_chunk_bounds_overlap_by_one_frame() -> None:
    assert chunk_bounds(20, 12) == [(0, 12), (11, 20)]
    assert chunk_bounds(12, 12) == [(0, 12)]
    assert chunk_bounds(5, 2) == [(0, 2), (1, 4), (3, 5)]
    assert chunk_bounds(25, 12) == [(0, 12), (11, 24), (23, 25)]


def test_chunked_flows_equal_unchunked(rule_model: FinalFlowRAFT) -> None:
    frames = torch.rand(5, 3, 128, 128, generator=torch.Generator().manual_seed(2)) * 2 - 1
    whole = compute_bidirectional_flows(frames, rule_model, iterations=2, chunk_length=5)
    chunked = compute_bidirectional_flows(frames, rule_model, iterations=2, chunk_length=2)
    assert chunked[0].shape == (4, 2, 128, 128)
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(120, 216), (128, 124), (128, 132)])
def test_too_small_or_unaligned_input_raises(rule_model: FinalFlowRAFT, size) -> None:
    frames = torch.zeros(2, 3, *size)
    with pytest.raises(ValueError, match="at least 128x128"):
        compute_bidirectional_flows(frames, rule_model, iterations=1)
