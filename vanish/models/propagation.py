"""Flow warping, the forward-backward consistency check and ProPainter's image propagation.

Image propagation has no weights: it is shared by the classical backend and the ProPainter
generator (`InpaintGenerator.img_propagation`). Every operation follows the reference arithmetic
(grid normalisation, strict thresholds, nearest rounding) so that results match bit for bit.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

FB_ALPHA1 = 0.01
FB_ALPHA2 = 0.5
BINARY_THRESHOLD = 0.1


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp `x` (n, c, h, w) by `flow` (n, 2, h, w) living on the output grid.

    Output pixel (i, j) samples `x` at column j + flow[0], row i + flow[1]; outside is zero. The
    grid is built and normalised exactly as the reference does so that `nearest` rounds alike.
    """
    _, _, height, width = x.shape
    coords = _pixel_grid(height, width, x.device, x.dtype) + flow.permute(0, 2, 3, 1)
    norm_x = 2.0 * coords[..., 0] / max(width - 1, 1) - 1.0
    norm_y = 2.0 * coords[..., 1] / max(height - 1, 1) - 1.0
    grid = torch.stack((norm_x, norm_y), dim=-1)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=True)


@functools.lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(1, h, w, 2) pixel coordinates (column, row): the same for every warp of a clip."""
    rows, cols = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    return torch.stack((cols, rows), dim=-1).to(dtype).unsqueeze(0)


def fb_consistency(flow_prop: torch.Tensor, flow_check: torch.Tensor) -> torch.Tensor:
    """1 where `flow_prop` and the opposite flow `flow_check` agree (n, 1, h, w), else 0."""
    warped = warp(flow_check, flow_prop)
    diff = ((flow_prop + warped) ** 2).sum(dim=1, keepdim=True)
    bound = FB_ALPHA1 * (
        (flow_prop**2).sum(dim=1, keepdim=True) + (warped**2).sum(dim=1, keepdim=True)
    )
    return (diff < bound + FB_ALPHA2).to(flow_prop.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    """1 where x > 0.1, else 0 (a new tensor; inputs are never modified)."""
    return (x > BINARY_THRESHOLD).to(x.dtype)


def propagation_step(
    source: torch.Tensor,
    source_mask: torch.Tensor,
    current: torch.Tensor,
    current_mask: torch.Tensor,
    flow_prop: torch.Tensor,
    flow_check: torch.Tensor,
    interpolation: str = "nearest",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill `current`'s holes from the neighbour `source` warped by `flow_prop`.

    A hole pixel is filled where the flows are consistent and the source pixel is known (its
    bilinearly warped mask ≤ 0.1). Returns the new frame and the holes left.
    """
    valid = fb_consistency(flow_prop, flow_check)
    if interpolation == "bilinear":  # one resampling for both (channels are independent)
        both = warp(torch.cat((source, source_mask), dim=1), flow_prop)
        warped, warped_mask = both[:, :-1], both[:, -1:]
    else:
        warped, warped_mask = warp(source, flow_prop, interpolation), warp(source_mask, flow_prop)
    source_hole = binarize(warped_mask)
    fill = binarize(current_mask * valid * (1 - source_hole))
    frame = fill * warped + (1 - fill) * current
    mask = binarize(current_mask * (1 - valid * (1 - source_hole)))
    return frame, mask


def _sweep(
    frames: list[torch.Tensor],
    masks: list[torch.Tensor],
    flows_prop: torch.Tensor,
    flows_check: torch.Tensor,
    backward: bool,
    interpolation: str,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One propagation sweep; returns per-frame results in chronological order.

    Backward sweep: frame k pulls from k+1 with flows_prop[k]. Forward sweep: frame k pulls from
    k-1 with flows_prop[k-1]. The first frame of a sweep is taken as is.
    """
    count = len(frames)
    order = range(count - 1, -1, -1) if backward else range(count)
    out_frames: list[torch.Tensor] = [frames[0]] * count
    out_masks: list[torch.Tensor] = [masks[0]] * count
    prev_frame, prev_mask = frames[order[0]], masks[order[0]]
    for k in order:
        if k != order[0]:
            flow_index = k if backward else k - 1
            prev_frame, prev_mask = propagation_step(
                prev_frame,
                prev_mask,
                frames[k],
                masks[k],
                flows_prop[:, flow_index],
                flows_check[:, flow_index],
                interpolation,
            )
        out_frames[k], out_masks[k] = prev_frame, prev_mask
    return out_frames, out_masks


def image_propagation(
    masked_frames: torch.Tensor,
    flows_forward: torch.Tensor,
    flows_backward: torch.Tensor,
    masks: torch.Tensor,
    interpolation: str = "nearest",
) -> tuple[torch.Tensor, torch.Tensor]:
    """ProPainter's training-free dual-sweep image propagation.

    masked_frames (B, T, C, H, W), masks (B, T, 1, H, W) with 1 = hole, flows (B, T-1, 2, H, W)
    where forward[k] maps frame k to k+1 and backward[k] maps frame k+1 to k. A backward sweep
    (last frame to first, pulling from k+1 with forward[k]) is followed by a forward sweep over
    its results (pulling from k-1 with backward[k-1]). A hole pixel takes the warped neighbour only
    where the flows are consistent and the source is known. Returns the forward sweep's frames
    and the holes left.
    """
    count = masked_frames.shape[1]
    frames = [masked_frames[:, k] for k in range(count)]
    mask_list = [masks[:, k] for k in range(count)]
    back_frames, back_masks = _sweep(
        frames, mask_list, flows_forward, flows_backward, True, interpolation
    )
    fwd_frames, fwd_masks = _sweep(
        back_frames, back_masks, flows_backward, flows_forward, False, interpolation
    )
    return torch.stack(fwd_frames, dim=1), torch.stack(fwd_masks, dim=1)
