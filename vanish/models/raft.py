"""RAFT optical flow (docs/architecture.md §5.2) on torchvision's `raft_large`.

torchvision's RAFT is bit-identical to the original RAFT that ProPainter vendors once the
`raft-things.pth` keys are renamed (key map TSV in `vanish/models/data`). Deviations from a
plain `raft_large(...)(...)[-1]`, all output-preserving (the last up to float rounding):

- `FinalFlowRAFT.forward` convex-upsamples only the last iteration's flow (torchvision upsamples all
  of them and ProPainter keeps only the last), saving 19 mask heads and upsamplings per call;
- `FinalFlowRAFT.bidirectional` encodes each frame once for both directions (the reference runs
  the feature encoder four times and the context encoder twice per frame);
- `FinalFlowRAFT.bidirectional` computes the context's share of the GRU gates once per pair
  instead of in each of the 20 updates (`ContextGRU`: a convolution is linear in its input
  channels, and the context never changes), a third less GRU compute;
- inputs below 128 px are rejected: the published RAFT returns NaN there, silently.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.optical_flow import RAFT, raft_large
from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

from vanish.weights import load_state_dict, spec_for

KEYMAP_FILE = "raft_things_to_torchvision_keymap.tsv"
DATAPARALLEL_PREFIX = "module."
MIN_SIZE = 128  # coarsest correlation level must stay >= 2 cells wide (8 px * 2**3 * 2)
SIZE_MULTIPLE = 8
DEFAULT_ITERATIONS = 20


@dataclass(frozen=True)
class KeyMapRow:
    """One original `raft-things.pth` key and its torchvision name (None: dropped alias)."""

    original: str
    torchvision: str | None
    shape: tuple[int, ...]


def _parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip("() ").split(",") if part.strip())


@functools.cache
def raft_keymap() -> tuple[KeyMapRow, ...]:
    """The key map, in original-checkpoint order, read once from the package data."""
    text = resources.files("vanish.models.data").joinpath(KEYMAP_FILE).read_text()
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("original_key\t"):
            continue
        original, target, shape = line.split("\t")[:3]
        rows.append(
            KeyMapRow(original, None if target.startswith("(") else target, _parse_shape(shape))
        )
    return tuple(rows)


def _original_keys() -> set[str]:
    return {row.original for row in raft_keymap()}


def _torchvision_keys() -> set[str]:
    return {row.torchvision for row in raft_keymap() if row.torchvision is not None}


def _strip_prefix(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop the `module.` prefix that DataParallel adds (raft-things.pth has it on every key)."""
    if state_dict and all(key.startswith(DATAPARALLEL_PREFIX) for key in state_dict):
        return {key[len(DATAPARALLEL_PREFIX) :]: value for key, value in state_dict.items()}
    return dict(state_dict)


def raft_layout(state_dict: dict[str, Tensor]) -> str:
    """'original' (raft-things.pth, with or without `module.`) or 'torchvision'.

    Decided by keys that exist in only one layout (the flow head keys are shared).
    """
    keys = set(_strip_prefix(state_dict))
    only_original = keys & (_original_keys() - _torchvision_keys())
    only_torchvision = keys & (_torchvision_keys() - _original_keys())
    if only_original and not only_torchvision:
        return "original"
    if only_torchvision and not only_original:
        return "torchvision"
    raise ValueError(
        "Cannot tell the RAFT checkpoint layout: expected keys of the original raft-things.pth "
        "(fnet.*, cnet.*, update_block.encoder.*) or of torchvision raft_large "
        f"(feature_encoder.*, context_encoder.*); got e.g. {sorted(keys)[:5]}"
    )


def convert_original_raft_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Return a torchvision `raft_large` state dict from either layout.

    Original keys are renamed by the key map; the 10 `cnet.layer{2,3}.0.norm3.*` keys are dropped
    (in the original module `norm3` *is* `downsample.1`, so they duplicate tensors kept under that
    name). A torchvision-layout dict passes through (minus a `module.` prefix).
    """
    state_dict = _strip_prefix(state_dict)
    if raft_layout(state_dict) == "torchvision":
        return state_dict
    mapping = {row.original: row.torchvision for row in raft_keymap()}
    unknown = sorted(set(state_dict) - set(mapping))
    if unknown:
        raise ValueError(f"Unknown keys in original-layout RAFT checkpoint: {unknown[:10]}")
    return {mapping[key]: value for key, value in state_dict.items() if mapping[key] is not None}


class FinalFlowRAFT(RAFT):
    """torchvision RAFT whose forward returns only the final, convex-upsampled flow (B, 2, H, W).

    The loop is torchvision 0.29.1's `RAFT.forward`, except that the mask predictor and the
    upsampling run after the last update only. Neither feeds back into the recurrence, so the
    result is bit-identical to `RAFT.forward(...)[-1]`.
    """

    @classmethod
    def from_raft(cls, model: RAFT) -> FinalFlowRAFT:
        """Wrap the sub-modules of a torchvision RAFT (state-dict keys stay the same)."""
        return cls(
            feature_encoder=model.feature_encoder,
            context_encoder=model.context_encoder,
            corr_block=model.corr_block,
            update_block=model.update_block,
            mask_predictor=model.mask_predictor,
        )

    def forward(self, image1: Tensor, image2: Tensor, num_flow_updates: int = 12) -> Tensor:
        _check_updates(num_flow_updates)
        _, _, h, w = image1.shape
        if (h, w) != image2.shape[-2:]:
            raise ValueError(f"input images differ in size: ({h}, {w}) != {image2.shape[-2:]}")
        if h % 8 or w % 8:
            raise ValueError(f"input image H and W must be divisible by 8, got {h}x{w}")

        fmaps = self.feature_encoder(torch.cat([image1, image2], dim=0))
        fmap1, fmap2 = torch.chunk(fmaps, chunks=2, dim=0)
        hidden_state, context = self._context(image1)
        return self._refine(fmap1, fmap2, hidden_state, context, num_flow_updates)

    def bidirectional(self, frames: Tensor, num_flow_updates: int = 12) -> tuple[Tensor, Tensor]:
        """Flows i→i+1 and i+1→i of consecutive frames (T, 3, H, W), each (T-1, 2, H, W).

        Equal to `forward(frames[:-1], frames[1:])` and `forward(frames[1:], frames[:-1])`, but
        each frame's features and context are computed once instead of four and two times (both
        encoders work per image: instance norm, and batch norm in eval mode). Only the batch
        composition of the convolutions changes, which moves results by float rounding.
        """
        _check_updates(num_flow_updates)
        check_raft_input(frames)
        fmaps = self.feature_encoder(frames)
        hidden_state, context = self._context(frames)
        gru = ContextGRU.build(self.update_block.recurrent_block, context)
        forward = self._refine(
            fmaps[:-1], fmaps[1:], hidden_state[:-1], context[:-1], num_flow_updates,
            gru.select(slice(None, -1)),
        )  # fmt: skip
        backward = self._refine(
            fmaps[1:], fmaps[:-1], hidden_state[1:], context[1:], num_flow_updates,
            gru.select(slice(1, None)),
        )  # fmt: skip
        return forward, backward

    def _context(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Initial hidden state and context features of the first image of each pair."""
        context_out = self.context_encoder(images)
        hidden_size = self.update_block.hidden_state_size
        hidden_state, context = torch.split(
            context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1
        )
        return torch.tanh(hidden_state), F.relu(context)

    def _refine(
        self,
        fmap1: Tensor,
        fmap2: Tensor,
        hidden_state: Tensor,
        context: Tensor,
        num_flow_updates: int,
        gru: ContextGRU | None = None,
    ) -> Tensor:
        """The recurrent updates from encoded pairs, and the final convex upsampling.

        With `gru` (the pairs' `ContextGRU`) the updates use the context's precomputed share of
        the gates; without, torchvision's update block as it is.
        """
        self.corr_block.build_pyramid(fmap1, fmap2)
        batch_size, _, h8, w8 = fmap1.shape
        coords0 = make_coords_grid(batch_size, h8, w8).to(fmap1.device)
        coords1 = make_coords_grid(batch_size, h8, w8).to(fmap1.device)
        block = self.update_block
        for _ in range(num_flow_updates):
            coords1 = coords1.detach()
            corr_features = self.corr_block.index_pyramid(centroids_coords=coords1)
            flow = coords1 - coords0
            if gru is None:
                hidden_state, delta_flow = block(hidden_state, context, corr_features, flow)
            else:
                hidden_state = gru(hidden_state, block.motion_encoder(flow, corr_features))
                delta_flow = block.flow_head(hidden_state)
            coords1 = coords1 + delta_flow

        up_mask = None if self.mask_predictor is None else self.mask_predictor(hidden_state)
        return upsample_flow(flow=(coords1 - coords0), up_mask=up_mask)


class ContextGRU:
    """RAFT's two ConvGRUs with the context's share of every gate computed once.

    A ConvGRU gate is conv([h, context, motion]); the convolution is linear in its input
    channels, so it equals conv_context(context) + conv([h, motion]) with the weights split by
    channel (zero padding splits alike). The context is the same in all updates of a pair, so
    its share (one third of the gates' input channels) is computed once per pair, and z and r,
    which read the same input, run as one convolution. Same arithmetic up to float rounding
    (the sums are taken in another order).
    """

    def __init__(self, parts: list[tuple]) -> None:
        self.parts = parts  # per GRU: (weights of z|r and q without context, padding, shares)

    @classmethod
    def build(cls, block: nn.Module, context: Tensor) -> ContextGRU:
        """From torchvision's recurrent block and the context features (N, C, h, w)."""
        hidden, split = block.hidden_size, context.shape[1]

        def own(conv: nn.Conv2d) -> Tensor:  # the weights of h and motion, without the context
            return torch.cat((conv.weight[:, :hidden], conv.weight[:, hidden + split :]), dim=1)

        def ctx(conv: nn.Conv2d) -> Tensor:
            return conv.weight[:, hidden : hidden + split]

        parts = []
        for gru in (block.convgru1, block.convgru2):
            z, r, q, padding = gru.convz, gru.convr, gru.convq, gru.convz.padding
            zr_ctx = F.conv2d(
                context, torch.cat((ctx(z), ctx(r))), torch.cat((z.bias, r.bias)), padding=padding
            )
            q_ctx = F.conv2d(context, ctx(q), q.bias, padding=padding)
            parts.append((torch.cat((own(z), own(r))), own(q), padding, zr_ctx, q_ctx))
        return cls(parts)

    def select(self, rows: slice) -> ContextGRU:
        """The same GRUs for the pairs of batch rows `rows`."""
        return ContextGRU([(zr, q, p, zc[rows], qc[rows]) for zr, q, p, zc, qc in self.parts])

    def __call__(self, h: Tensor, motion: Tensor) -> Tensor:
        """The recurrent block's update of hidden state `h` from the motion features."""
        for w_zr, w_q, padding, zr_ctx, q_ctx in self.parts:
            zr = F.conv2d(torch.cat((h, motion), dim=1), w_zr, padding=padding) + zr_ctx
            z, r = torch.sigmoid(zr).split(h.shape[1], dim=1)
            q = F.conv2d(torch.cat((r * h, motion), dim=1), w_q, padding=padding) + q_ctx
            h = (1 - z) * h + z * torch.tanh(q)
        return h


def _check_updates(num_flow_updates: int) -> None:
    if num_flow_updates < 1:
        raise ValueError(f"num_flow_updates must be >= 1, got {num_flow_updates}")


def build_raft() -> FinalFlowRAFT:
    """An uninitialised RAFT-large (torchvision architecture) in eval mode."""
    return FinalFlowRAFT.from_raft(raft_large(weights=None, progress=False)).eval()


def load_raft(path: str | Path, sha256: str | None) -> FinalFlowRAFT:
    """RAFT-large from a verified checkpoint in either layout, strictly loaded, in eval mode."""
    state_dict = convert_original_raft_state_dict(load_state_dict(spec_for("raft", path, sha256)))
    model = build_raft()
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def chunk_length_for_width(width: int) -> int:
    """Frames per RAFT call (docs/architecture.md §5.6.2): bounds memory, as the reference does."""
    if width <= 640:
        return 12
    if width <= 720:
        return 8
    if width <= 1280:
        return 4
    return 2


def chunk_bounds(num_frames: int, chunk_length: int) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of the RAFT calls; consecutive chunks share one frame.

    The overlap makes each boundary pair computed exactly once, so the flows concatenate to T-1.
    """
    if chunk_length < 2:
        raise ValueError(f"chunk_length must be >= 2, got {chunk_length}")
    if num_frames <= chunk_length:
        return [(0, num_frames)]
    return [
        (max(0, start - 1), min(num_frames, start + chunk_length))
        for start in range(0, num_frames, chunk_length)
    ]


def check_raft_input(frames: Tensor) -> None:
    """Reject inputs RAFT cannot handle, before spending time on them."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
    num_frames, _, height, width = frames.shape
    if num_frames < 2:
        raise ValueError(f"RAFT needs at least 2 frames, got {num_frames}")
    if min(height, width) < MIN_SIZE or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise ValueError(
            f"RAFT needs frames of at least {MIN_SIZE}x{MIN_SIZE} px with H and W multiples of "
            f"{SIZE_MULTIPLE}; got {height}x{width} (HxW). Smaller inputs make the published RAFT "
            "return NaN flows; resize or pad the clip."
        )


def compute_bidirectional_flows(
    frames: Tensor,
    model: FinalFlowRAFT,
    iterations: int = DEFAULT_ITERATIONS,
    chunk_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Forward flows i→i+1 and backward flows i+1→i, each (T-1, 2, H, W), of frames in [-1, 1].

    `frames` is (T, 3, H, W) float32; chunks are moved to the model's device and the flows are
    returned there. `chunk_length` defaults to the width rule of docs/architecture.md §5.6.2.
    """
    check_raft_input(frames)
    if chunk_length is None:
        chunk_length = chunk_length_for_width(frames.shape[-1])
    device = next(model.parameters()).device
    forwards, backwards = [], []
    # no_grad, not inference_mode: inference tensors cannot be updated in place by later stages.
    with torch.no_grad():
        for start, end in chunk_bounds(frames.shape[0], chunk_length):
            chunk = frames[start:end].to(device=device, dtype=torch.float32)
            forward, backward = model.bidirectional(chunk, num_flow_updates=iterations)
            forwards.append(forward)
            backwards.append(backward)
    return torch.cat(forwards), torch.cat(backwards)
