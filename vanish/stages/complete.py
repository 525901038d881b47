"""Stage `complete`: fill the flow fields inside the holes.

Classical backend: harmonic (Laplace) interpolation from the hole boundary, per flow field. A
forward flow k lives on frame k's grid and takes frame k's hole; a backward flow k lives on frame
k+1's grid and takes frame k+1's hole. Output has the flow folder format of the `flows` stage.

ProPainter backend: the recurrent flow completion network (docs/architecture.md §5.3, §5.6.3),
run on sub-videos of `subvideo_length` flows with 5 flows of context on each side.

Flows link computed frames (repeats skipped), so their holes are `io.computed_hole_paths`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vanish import io
from vanish.atomic import atomic_dir
from vanish.convert import flows_to_tensor, masks_to_tensor
from vanish.device import model_placement, place
from vanish.masks import dilate
from vanish.models.classical import harmonic_fill
from vanish.models.flow_completion import RecurrentFlowCompleteNet
from vanish.weights import load_state_dict, spec_for
from vanish.windows import flow_completion_windows

WRITE_CHUNK = 16  # flows per output file: later stages read a few flows without loading 80


def classical_complete(
    flows_dir: str | Path,
    masks_dir: str | Path,
    out_dir: str | Path,
    margin: int = 3,
    chunk: int = 16,
) -> Path:
    """Harmonically complete every flow of `flows_dir` inside the holes of `masks_dir`.

    The hole is widened by `margin` pixels first: DIS smooths the flow across the hole border,
    so the flow just outside a hole is contaminated and would bias the interpolation. `margin`
    and `chunk` (flows per read and written file) are internal constants, not config settings.
    """
    reader = io.FlowReader(flows_dir)
    hole_paths = io.computed_hole_paths(masks_dir)
    with atomic_dir(out_dir) as tmp:
        writer = io.FlowWriter(tmp, reader.meta["dtype"])
        for start, stop in io.iter_chunks(reader.count, chunk):
            forward, backward = reader.read(start, stop)
            read = io.read_mask_paths(hole_paths[start : stop + 1])
            holes = [dilate(h, margin) for h in read]
            complete_chunk(forward, backward, holes)
            writer.append(forward, backward)
        writer.close(cuts=reader.cuts, method=f"{reader.meta.get('method', '?')}+harmonic")
    return Path(out_dir)


def complete_chunk(forward: np.ndarray, backward: np.ndarray, holes: list[np.ndarray]) -> None:
    """Harmonically fill, in place, n forward and backward flows (n, 2, H, W) inside the holes
    of their n+1 frames. Forward flow k and backward flow k-1 both live on frame k's grid and
    take its hole, so they are solved together: one sparse factorisation per frame, not two."""
    count = len(forward)
    for frame, hole in enumerate(holes):
        on_grid = [(forward, frame)] if frame < count else []
        on_grid += [(backward, frame - 1)] if frame > 0 else []
        filled = harmonic_fill(np.concatenate([flows[k] for flows, k in on_grid]), hole)
        for (flows, k), part in zip(on_grid, np.split(filled, len(on_grid)), strict=True):
            flows[k] = part


def load_flow_completion(path: str | Path, sha256: str | None) -> RecurrentFlowCompleteNet:
    """The flow completion net from a verified checkpoint, strictly loaded, in eval mode."""
    model = RecurrentFlowCompleteNet()
    model.load_state_dict(load_state_dict(spec_for("flow_completion", path, sha256)), strict=True)
    return model.eval()


def complete_window(
    model: RecurrentFlowCompleteNet,
    forward: torch.Tensor,
    backward: torch.Tensor,
    masks: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Completed flows (1, N, 2, H, W) of one sub-video; `masks` are its N+1 frames' holes.

    Pure: runs `forward_bidirect_flow` + `combine_flow` on the model's device and dtype and
    returns float32 CPU tensors.
    """
    device, dtype = model_placement(model)
    flows = (forward.to(device, dtype), backward.to(device, dtype))
    masks = masks.to(device, dtype)
    with torch.no_grad():
        preds, _ = model.forward_bidirect_flow(flows, masks)
        done = model.combine_flow(flows, preds, masks)
    return done[0].float().cpu(), done[1].float().cpu()


def complete_flows(
    model: RecurrentFlowCompleteNet,
    forward: torch.Tensor,
    backward: torch.Tensor,
    masks: torch.Tensor,
    subvideo_length: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-clip flow completion in memory (the stage's arithmetic, for tests and notebooks).

    forward/backward (1, N, 2, H, W), masks (1, N+1, 1, H, W); windows as in §5.6.3.
    """
    parts_fwd, parts_bwd = [], []
    for window in flow_completion_windows(forward.shape[1], subvideo_length):
        span = slice(window.start, window.stop)
        done_fwd, done_bwd = complete_window(
            model, forward[:, span], backward[:, span], masks[:, window.start : window.stop + 1]
        )
        parts_fwd.append(done_fwd[:, window.keep])
        parts_bwd.append(done_bwd[:, window.keep])
    return torch.cat(parts_fwd, dim=1), torch.cat(parts_bwd, dim=1)


def rfc_complete(
    flows_dir: str | Path,
    masks_dir: str | Path,
    out_dir: str | Path,
    weights_path: str | Path,
    weights_sha256: str | None,
    subvideo_length: int,
    device: str,
    precision: str,
) -> Path:
    """Complete the flows of `flows_dir` inside the holes of `masks_dir` with the RFC network.

    Reads one sub-video of flows (and its frames' masks) at a time, so memory is bounded by
    `subvideo_length`, not by the clip; the kept flows are written in small files.
    """
    reader = io.FlowReader(flows_dir)
    hole_paths = io.computed_hole_paths(masks_dir)
    model = place(load_flow_completion(weights_path, weights_sha256), device, precision)
    with atomic_dir(out_dir) as tmp:
        writer = io.FlowWriter(tmp, reader.meta["dtype"])
        for window in flow_completion_windows(reader.count, subvideo_length):
            forward, backward = reader.read(window.start, window.stop)
            holes = io.read_mask_paths(hole_paths[window.start : window.stop + 1])
            done_fwd, done_bwd = complete_window(
                model, flows_to_tensor(forward), flows_to_tensor(backward), masks_to_tensor(holes)
            )
            keep_fwd, keep_bwd = done_fwd[0, window.keep].numpy(), done_bwd[0, window.keep].numpy()
            for start, stop in io.iter_chunks(len(keep_fwd), WRITE_CHUNK):
                writer.append(keep_fwd[start:stop], keep_bwd[start:stop])
        writer.close(cuts=reader.cuts, method=f"{reader.meta.get('method', '?')}+rfc")
    return Path(out_dir)
