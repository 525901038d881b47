"""Shared network operators (vanish/models/ops.py)."""

from __future__ import annotations

import torch

from vanish.models.ops import modulated_deform_conv


def test_deformable_convolution_runs_in_bfloat16_like_float32() -> None:
    generator = torch.Generator().manual_seed(0)
    x, offset = torch.randn(1, 8, 6, 7, generator=generator), torch.randn(1, 18, 6, 7) * 2
    weight, bias = torch.randn(4, 8, 3, 3, generator=generator), torch.randn(4)
    mask = torch.rand(1, 9, 6, 7, generator=generator)
    full = modulated_deform_conv(x, offset, weight, bias, mask)
    half = [t.bfloat16() for t in (x, offset, weight, bias, mask)]
    result = modulated_deform_conv(*half)
    assert result.dtype == torch.bfloat16
    assert torch.allclose(result.float(), full, atol=0.1 * full.abs().max().item())
