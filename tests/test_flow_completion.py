"""Tests of the recurrent flow completion network (docs/architecture.md §5.3, golden `rfc.pt`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from vanish.models.flow_completion import RecurrentFlowCompleteNet
from vanish.testing.manifest import read_manifest, rule_weights, state_dict_layout

DATA = Path(__file__).parent / "data"
MANIFEST = DATA / "reference" / "recurrent_flow_completion.tsv"
GOLDEN = DATA / "golden" / "rfc.pt"
RFC_FINGERPRINT = "f6a8a41ce108478724978abbb115472aed2fc2a43bf475f96a686befc3879d73"
GOLDEN_TOLERANCE = {"rtol": 1e-4, "atol": 2e-5}


def _rule_model(seed: int) -> RecurrentFlowCompleteNet:
    """Eval-mode network filled with the golden weight rule (offset heads non-zero)."""
    model = RecurrentFlowCompleteNet().eval()
    model.load_state_dict(rule_weights(read_manifest(MANIFEST), seed=seed), strict=True)
    return model


def _random_inputs(
    seed: int, steps: int, height: int, width: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Flows of ±20 px and binary masks (N+1 frames) for behaviour tests."""
    generator = torch.Generator().manual_seed(seed)
    shape = (1, steps, 2, height, width)
    flows = tuple(20 * torch.randn(shape, generator=generator) for _ in range(2))
    masks = (torch.rand((1, steps + 1, 1, height, width), generator=generator) > 0.7).float()
    return flows, masks


def _reverse(x: torch.Tensor) -> torch.Tensor:
    """Reverse the time axis of a (B, T, C, H, W) tensor."""
    return torch.flip(x, dims=(1,))


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(GOLDEN, weights_only=True)


@pytest.fixture(scope="module")
def golden_outputs(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the golden case through the real loading path: torch.save, then weights_only load."""
    path = tmp_path_factory.mktemp("weights") / "recurrent_flow_completion.pth"
    torch.save(rule_weights(read_manifest(MANIFEST), seed=0), path)
    model = RecurrentFlowCompleteNet().eval()
    model.load_state_dict(torch.load(path, weights_only=True), strict=True)
    flows = (golden["flows_forward"], golden["flows_backward"])
    with torch.no_grad():  # 1 thread, as the goldens (set for every test in conftest.py)
        preds, edges = model.forward_bidirect_flow(flows, golden["masks"])
        completed = model.combine_flow(flows, preds, golden["masks"])
    return {"preds": preds, "edges": edges, "completed": completed}


def test_state_dict_layout_matches_manifest() -> None:
    layout = state_dict_layout(RecurrentFlowCompleteNet().state_dict())
    assert layout == read_manifest(MANIFEST)


def test_rule_weight_fingerprint() -> None:
    rows = read_manifest(MANIFEST)
    weights = rule_weights(rows, seed=0)
    digest = hashlib.sha256()
    for row in rows:
        if row.dtype == "float32":
            digest.update(weights[row.name].numpy().astype("<f4").tobytes())
    assert digest.hexdigest() == RFC_FINGERPRINT


def test_golden_predicted_flows(golden: dict, golden_outputs: dict) -> None:
    pred_fwd, pred_bwd = golden_outputs["preds"]
    torch.testing.assert_close(pred_fwd, golden["pred_flows_forward"], **GOLDEN_TOLERANCE)
    torch.testing.assert_close(pred_bwd, golden["pred_flows_backward"], **GOLDEN_TOLERANCE)


def test_golden_completed_flows(golden: dict, golden_outputs: dict) -> None:
    done_fwd, done_bwd = golden_outputs["completed"]
    torch.testing.assert_close(done_fwd, golden["completed_flows_forward"], **GOLDEN_TOLERANCE)
    torch.testing.assert_close(done_bwd, golden["completed_flows_backward"], **GOLDEN_TOLERANCE)


def test_eval_mode_returns_no_edges(golden_outputs: dict) -> None:
    assert golden_outputs["edges"] == (None, None)


def test_combine_flow_keeps_input_outside_holes_and_prediction_inside() -> None:
    flows, masks = _random_inputs(seed=2, steps=3, height=16, width=24)
    preds = tuple(torch.randn_like(flow) for flow in flows)
    completed = RecurrentFlowCompleteNet().combine_flow(flows, preds, masks)
    for flow, pred, done, mask in zip(
        flows, preds, completed, (masks[:, :-1], masks[:, 1:]), strict=True
    ):
        hole = mask.expand_as(flow).bool()
        assert torch.equal(done[~hole], flow[~hole])
        assert torch.equal(done[hole], pred[hole])


def test_output_shapes_for_another_size() -> None:
    flows, masks = _random_inputs(seed=1, steps=3, height=64, width=128)
    with torch.no_grad():
        (pred_fwd, pred_bwd), _ = _rule_model(seed=1).forward_bidirect_flow(flows, masks)
    assert pred_fwd.shape == pred_bwd.shape == (1, 3, 2, 64, 128)
    assert torch.isfinite(pred_fwd).all() and torch.isfinite(pred_bwd).all()


def test_backward_direction_is_time_reversed_forward() -> None:
    """Reversing time swaps the roles of forward and backward flows (and their masks)."""
    (flows_fwd, flows_bwd), masks = _random_inputs(seed=3, steps=4, height=32, width=40)
    model = _rule_model(seed=1)
    with torch.no_grad():
        (pred_fwd, pred_bwd), _ = model.forward_bidirect_flow((flows_fwd, flows_bwd), masks)
        swapped = (_reverse(flows_bwd), _reverse(flows_fwd))
        (rev_fwd, rev_bwd), _ = model.forward_bidirect_flow(swapped, _reverse(masks))
    torch.testing.assert_close(rev_fwd, _reverse(pred_bwd), rtol=0, atol=1e-6)
    torch.testing.assert_close(rev_bwd, _reverse(pred_fwd), rtol=0, atol=1e-6)


def test_inputs_are_not_modified() -> None:
    flows, masks = _random_inputs(seed=4, steps=3, height=16, width=16)
    originals = [tensor.clone() for tensor in (*flows, masks)]
    model = _rule_model(seed=1)
    with torch.no_grad():
        preds, _ = model.forward_bidirect_flow(flows, masks)
        model.combine_flow(flows, preds, masks)
    for tensor, original in zip((*flows, masks), originals, strict=True):
        assert torch.equal(tensor, original)


def test_training_mode_returns_edges_in_unit_range() -> None:
    flows, masks = _random_inputs(seed=5, steps=2, height=16, width=16)
    model = _rule_model(seed=1).train()
    with torch.no_grad():
        _, (edges_fwd, edges_bwd) = model.forward_bidirect_flow(flows, masks)
    for edges in (edges_fwd, edges_bwd):
        assert edges.shape == (1, 2, 1, 16, 16)
        assert ((edges >= 0) & (edges <= 1)).all()


def test_rejects_size_not_multiple_of_eight() -> None:
    flows, masks = _random_inputs(seed=6, steps=2, height=20, width=16)
    with pytest.raises(ValueError, match="multiple of 8"):
        RecurrentFlowCompleteNet().eval()(flows[0], masks[:, :-1])
