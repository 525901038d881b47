"""ProPainter InpaintGenerator: checkpoint layout, rule weights and golden equivalence.

The goldens were produced by the official code under the deterministic weight rule of
`tests/data/golden/README.md`; weights go through the real loading path (torch.save, then
`torch.load(weights_only=True)` and strict `load_state_dict`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from vanish.models.propainter import InpaintGenerator
from vanish.testing.manifest import read_manifest, rule_weights, state_dict_layout

DATA = Path(__file__).parent / "data"
MANIFEST = DATA / "reference" / "propainter_inpaint_generator.tsv"
GOLDEN = DATA / "golden"
RULE_SHA256 = "1747856908a078c035925bf65a9791c0ec943274959287fb2dc65ee7eeff14ff"
FORWARD_ATOL = 2e-4


def _load_rule_generator(seed: int, tmp_path: Path) -> InpaintGenerator:
    """Generator with rule weights, loaded like a published checkpoint file."""
    net = InpaintGenerator()
    path = tmp_path / f"generator_seed{seed}.pth"
    torch.save(rule_weights(read_manifest(MANIFEST), seed=seed), path)
    state = torch.load(path, weights_only=True)
    # The rule gives no value for the int64 index buffers: keep the module's own.
    own = net.state_dict()
    state.update({k: v for k, v in own.items() if v.dtype == torch.int64})
    net.load_state_dict(state, strict=True)
    return net.eval()


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> InpaintGenerator:
    return _load_rule_generator(0, tmp_path_factory.mktemp("weights"))


def _golden(name: str) -> dict:
    return torch.load(GOLDEN / name, weights_only=True)


def _run_forward(net: InpaintGenerator, case: dict) -> torch.Tensor:
    with torch.inference_mode():
        return net(
            case["masked_frames"],
            (case["flows_forward"], case["flows_backward"]),
            case["masks_in"],
            case["masks_updated"],
            case["num_local_frames"],
        )


def test_state_dict_layout_matches_manifest() -> None:
    assert state_dict_layout(InpaintGenerator().state_dict()) == read_manifest(MANIFEST)


def test_valid_ind_rolled_buffers_match_specification() -> None:
    ranges = ((4, 8), (13, 49), (54, 58), (63, 116), (121, 125), (130, 166), (171, 175))
    expected = torch.cat([torch.arange(lo, hi + 1) for lo, hi in ranges])
    buffers = [v for k, v in InpaintGenerator().state_dict().items() if "valid_ind_rolled" in k]
    assert len(buffers) == 8
    for buffer in buffers:
        assert torch.equal(buffer, expected)


def test_rule_weights_fingerprint_after_loading(generator: InpaintGenerator) -> None:
    digest = hashlib.sha256()
    for tensor in generator.state_dict().values():
        if tensor.dtype == torch.float32:
            digest.update(tensor.contiguous().numpy().astype("<f4").tobytes())
    assert digest.hexdigest() == RULE_SHA256


def test_img_propagation_matches_golden_exactly(generator: InpaintGenerator) -> None:
    case = _golden("inpaint_prop.pt")
    frames, masks = generator.img_propagation(
        case["masked_frames"], (case["flows_forward"], case["flows_backward"]), case["masks"]
    )
    assert_close(frames, case["prop_frames"], rtol=0, atol=0)
    assert_close(masks, case["updated_masks"], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["inpaint_forward.pt", "inpaint_forward_small.pt"])
def test_forward_matches_golden(generator: InpaintGenerator, name: str) -> None:
    case = _golden(name)
    assert_close(_run_forward(generator, case), case["output"], rtol=0, atol=FORWARD_ATOL)


def test_forward_other_size_and_seed_is_bounded(tmp_path: Path) -> None:
    net = _load_rule_generator(3, tmp_path)
    gen = torch.Generator().manual_seed(3)
    local, total, height, width = 4, 5, 96, 160
    masks = torch.zeros(1, total, 1, height, width)
    masks[..., 20:60, 30:90] = 1.0
    case = {
        "masked_frames": (torch.rand(1, total, 3, height, width, generator=gen) * 2 - 1)
        * (1 - masks),
        "flows_forward": torch.randn(1, local - 1, 2, height, width, generator=gen) * 3,
        "flows_backward": torch.randn(1, local - 1, 2, height, width, generator=gen) * 3,
        "masks_in": masks,
        "masks_updated": masks,
        "num_local_frames": local,
    }
    out = _run_forward(net, case)
    assert out.shape == (1, local, 3, height, width)
    assert torch.isfinite(out).all()
    assert out.abs().max() < 1.0


def test_forward_leaves_inputs_unchanged(generator: InpaintGenerator) -> None:
    case = _golden("inpaint_forward_small.pt")
    before = {key: value.clone() for key, value in case.items() if torch.is_tensor(value)}
    _run_forward(generator, case)
    for key, value in before.items():
        assert torch.equal(case[key], value), key
