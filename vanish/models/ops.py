"""Operators shared by the ProPainter networks."""

from __future__ import annotations

import torch
from torchvision.ops import deform_conv2d

# torchvision's deformable convolution has no bfloat16 kernel (CPU or CUDA: "deformable_im2col
# not implemented for 'BFloat16'", seen on an H200 with torchvision 0.26): under bf16 it runs in
# float32 and its result is cast back, so `precision: bf16` works and costs only these layers.
NO_KERNEL_DTYPES = (torch.bfloat16,)


def modulated_deform_conv(
    x: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    mask: torch.Tensor,
    padding: int = 1,
) -> torch.Tensor:
    """3x3 modulated deformable convolution (stride 1, dilation 1) in the input's dtype."""
    if x.dtype not in NO_KERNEL_DTYPES:
        return deform_conv2d(x, offset, weight, bias, padding=padding, mask=mask)
    full = [t.float() if t is not None else None for t in (x, offset, weight, bias, mask)]
    x32, offset32, weight32, bias32, mask32 = full
    out = deform_conv2d(x32, offset32, weight32, bias32, padding=padding, mask=mask32)
    return out.to(x.dtype)
