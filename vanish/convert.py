"""Conversions between stage files (uint8 frames, bool masks, numpy flows) and model tensors."""

from __future__ import annotations

import numpy as np
import torch


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (1, T, 3, H, W) float32 in [-1, 1] (divide first, then ×2−1)."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    return (tensor / 255.0 * 2 - 1).unsqueeze(0)


def masks_to_tensor(masks: np.ndarray) -> torch.Tensor:
    """(T, H, W) bool → (1, T, 1, H, W) float32 {0, 1}, 1 = hole."""
    return torch.from_numpy(np.ascontiguousarray(masks)).float()[None, :, None]


def flows_to_tensor(flows: np.ndarray) -> torch.Tensor:
    """(N, 2, H, W) → (1, N, 2, H, W) float32."""
    return torch.from_numpy(np.ascontiguousarray(flows, dtype=np.float32)).unsqueeze(0)


def tensor_to_frames(tensor: torch.Tensor) -> np.ndarray:
    """(1, T, 3, H, W) in [-1, 1] → (T, H, W, 3) uint8, rounded (lossless for copied pixels)."""
    values = ((tensor[0].clamp(-1, 1) + 1) / 2 * 255).round()
    return values.permute(0, 2, 3, 1).to(torch.uint8).numpy()


def tensor_to_masks(tensor: torch.Tensor) -> np.ndarray:
    """(1, T, 1, H, W) float → (T, H, W) bool."""
    return tensor[0, :, 0].numpy() > 0.5
