"""Stage `fill` of the ProPainter backend: the sliding-window transformer generator.

docs/architecture.md §5.6.5-§5.6.7: windows of ≤ 2·⌊neighbor_length/2⌋+1 consecutive *local* frames
plus sparse *reference* frames go through `InpaintGenerator`; each local frame's prediction is
truncated to uint8 inside the dilated hole, and a frame seen by several windows keeps a running
pairwise 0.5/0.5 average in window order, re-truncated each time. The generator sees the propagated
frames (unfilled hole pixels = 0.0), the dilated masks and the holes left after propagation.

Streaming: each window's frames are read from the stage folders (frames held from the previous
window are reused, all others dropped), and a composite is handed to `Compositor` (which writes
it at the input's own resolution, replacing only hole pixels) as soon as no later window has that
frame as a local frame. Memory is therefore bounded by the window, not by the clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from vanish import io
from vanish.atomic import atomic_dir
from vanish.composite import Compositor
from vanish.convert import flows_to_tensor, frames_to_tensor, masks_to_tensor
from vanish.device import model_placement, place
from vanish.models.propainter import InpaintGenerator
from vanish.weights import load_state_dict, spec_for
from vanish.windows import generator_windows, release_schedule


@dataclass
class WindowInputs:
    """Generator inputs of one window, frames in `local + refs` order (batch axis first)."""

    frames: torch.Tensor  # (1, n, 3, H, W) propagated frames in [-1, 1], 0 in unfilled holes
    masks_in: torch.Tensor  # (1, n, 1, H, W) dilated holes
    masks_updated: torch.Tensor  # (1, n, 1, H, W) holes left after image propagation
    flows_forward: torch.Tensor  # (1, Lt-1, 2, H, W) completed flows between local frames
    flows_backward: torch.Tensor


class ClipSource(Protocol):
    """Where the generator stage gets its inputs: stage folders, or tensors in the tests."""

    num_frames: int

    def window(self, local: list[int], refs: list[int]) -> WindowInputs:
        """Inputs of the window with these local and reference frames."""
        ...

    def original(self, index: int) -> np.ndarray:
        """Processing-size input frame (H, W, 3) uint8, for compositing."""
        ...

    def hole(self, index: int) -> np.ndarray:
        """Dilated hole of a frame as uint8 {0, 1} (H, W, 1), for compositing."""
        ...


def load_generator(path: str | Path, sha256: str | None) -> InpaintGenerator:
    """The generator from a verified checkpoint, strictly loaded, in eval mode."""
    model = InpaintGenerator()
    model.load_state_dict(load_state_dict(spec_for("propainter", path, sha256)), strict=True)
    return model.eval()


def predict_window(
    model: InpaintGenerator,
    inputs: WindowInputs,
    num_local: int,
    features: FeatureCache | None = None,
    indices: list[int] | None = None,
) -> np.ndarray:
    """Generator output of the local frames as (Lt, H, W, 3) float32 in [0, 255].

    Pure (no file I/O). (out + 1) / 2 is formed on the model's device in fp32 and the ×255 on
    the CPU in float32, as the reference does, so that the later truncation matches it.
    `features` with the window's frame `indices`: encoder features of frames an earlier window
    already encoded are reused (the same numbers, computed once).
    """
    device, dtype = model_placement(model)
    with torch.no_grad():
        frames = inputs.frames.to(device, dtype)
        masks_in = inputs.masks_in.to(device, dtype)
        masks_updated = inputs.masks_updated.to(device, dtype)
        feats = None
        if features is not None and indices is not None:
            feats = features.window(model, indices, frames, masks_in, masks_updated)
        out = model(
            frames,
            (inputs.flows_forward.to(device, dtype), inputs.flows_backward.to(device, dtype)),
            masks_in,
            masks_updated,
            num_local,
            feats=feats,
        )
        scaled = (out.float() + 1) / 2
    return scaled[0].cpu().permute(0, 2, 3, 1).numpy() * 255


class FeatureCache:
    """Encoder features of the frames of the current window, kept for the next one.

    The generator's encoder works on each frame alone, and consecutive windows share half their
    local frames and most references (30 frames: 70 frame encodings in 6 windows, 30 distinct),
    so each frame is encoded once while it stays in the window. Features of frames the window
    no longer holds are dropped: memory stays bounded by the window.
    """

    def __init__(self) -> None:
        self.features: dict[int, torch.Tensor] = {}
        self.encoded = 0  # frames encoded so far (a test counts them)

    def window(
        self,
        model: InpaintGenerator,
        indices: list[int],
        frames: torch.Tensor,
        masks_in: torch.Tensor,
        masks_updated: torch.Tensor,
    ) -> torch.Tensor:
        """Features (1, n, C, h, w) of the window's frames (batch of one, `indices` order)."""
        new = [k for k, index in enumerate(indices) if index not in self.features]
        kept = {index: self.features[index] for index in indices if index in self.features}
        if new:
            pick = torch.tensor(new, device=frames.device)
            fresh = model.encode(
                frames.index_select(1, pick),
                masks_in.index_select(1, pick),
                masks_updated.index_select(1, pick),
            )[0]
            kept.update({indices[k]: fresh[n] for n, k in enumerate(new)})
            self.encoded += len(new)
        self.features = kept
        return torch.stack([kept[index] for index in indices])[None]


def composite_prediction(
    prediction: np.ndarray, original: np.ndarray, hole: np.ndarray
) -> np.ndarray:
    """uint8 frame: the truncated prediction inside the hole, the input frame outside (§5.6.7)."""
    return prediction.astype(np.uint8) * hole + original * (1 - hole)


def blend(previous: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The reference's pairwise running average of two window results, truncated to uint8."""
    return (previous.astype(np.float32) * 0.5 + new.astype(np.float32) * 0.5).astype(np.uint8)


class SlidingWindowInpainter:
    """Runs the generator window by window and yields each frame's composite once it is final.

    `peak_pending` records the most composites held at once (bounded by the window length).
    """

    def __init__(
        self,
        model: InpaintGenerator,
        source: ClipSource,
        neighbor_length: int,
        ref_stride: int,
        subvideo_length: int,
    ) -> None:
        self.model, self.source = model, source
        self.windows = generator_windows(
            source.num_frames, neighbor_length, ref_stride, subvideo_length
        )
        self.releases = release_schedule(self.windows, source.num_frames)
        self.peak_pending = 0
        self.features = FeatureCache()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        pending: dict[int, np.ndarray] = {}
        for (local, refs), release in zip(self.windows, self.releases, strict=True):
            inputs = self.source.window(local, refs)
            prediction = predict_window(self.model, inputs, len(local), self.features, local + refs)
            for offset, index in enumerate(local):
                image = composite_prediction(
                    prediction[offset], self.source.original(index), self.source.hole(index)
                )
                pending[index] = blend(pending[index], image) if index in pending else image
            self.peak_pending = max(self.peak_pending, len(pending))
            for index in release:
                yield index, pending.pop(index)


class TensorSource:
    """A clip held in memory (the golden tests): reference-layout tensors and uint8 frames."""

    def __init__(
        self,
        updated_frames: torch.Tensor,
        updated_masks: torch.Tensor,
        masks_dilated: torch.Tensor,
        flows_forward: torch.Tensor,
        flows_backward: torch.Tensor,
        original_frames: np.ndarray | torch.Tensor,
    ) -> None:
        self.frames, self.masks_in = updated_frames, masks_dilated
        self.masks_updated = updated_masks
        self.flows_forward, self.flows_backward = flows_forward, flows_backward
        self.originals = np.asarray(original_frames)  # (T, H, W, 3) uint8
        self.num_frames = updated_frames.shape[1]

    def window(self, local: list[int], refs: list[int]) -> WindowInputs:
        indices = local + refs
        flows = slice(local[0], local[-1])
        return WindowInputs(
            self.frames[:, indices],
            self.masks_in[:, indices],
            self.masks_updated[:, indices],
            self.flows_forward[:, flows],
            self.flows_backward[:, flows],
        )

    def original(self, index: int) -> np.ndarray:
        return self.originals[index]

    def hole(self, index: int) -> np.ndarray:
        return self.masks_in[0, index].permute(1, 2, 0).numpy().astype(np.uint8)


def inpaint_clip(
    model: InpaintGenerator,
    source: ClipSource,
    neighbor_length: int,
    ref_stride: int,
    subvideo_length: int,
) -> np.ndarray:
    """All composites (T, H, W, 3) uint8 of an in-memory clip, at processing size."""
    frames: list[np.ndarray | None] = [None] * source.num_frames
    for index, frame in SlidingWindowInpainter(
        model, source, neighbor_length, ref_stride, subvideo_length
    ):
        frames[index] = frame
    return np.stack(frames)


@dataclass
class _Frame:
    """Everything the stage holds per frame of the current window."""

    frame: torch.Tensor  # (3, H, W) in [-1, 1], unfilled hole pixels 0.0
    mask_in: torch.Tensor  # (1, H, W)
    mask_updated: torch.Tensor  # (1, H, W)
    original: np.ndarray  # (H, W, 3) uint8
    hole: np.ndarray  # (H, W, 1) uint8


class FolderSource:
    """The stage folders, read window by window; frames outside the current window are dropped.

    `peak_frames` records the most frames held at once (bounded by the window length).
    """

    def __init__(
        self,
        frames_dir: str | Path,
        masks_dir: str | Path,
        flows_dir: str | Path,
        propagated_dir: str | Path,
    ) -> None:
        self.source = io.ComputedFrames(frames_dir, masks_dir)
        self.hole_paths = io.computed_hole_paths(masks_dir)
        self.prop_paths = io.list_images(io.propagated_frames_dir(propagated_dir))
        self.left_paths = io.list_images(io.propagated_holes_dir(propagated_dir))
        self.flows = io.FlowReader(flows_dir)
        self.num_frames = len(self.prop_paths)
        counts = {len(self.source), len(self.hole_paths), len(self.left_paths)}
        if counts != {self.num_frames} or self.flows.count != self.num_frames - 1:
            raise ValueError(
                f"stage folders disagree: {len(self.source)} frames, {len(self.hole_paths)} "
                f"masks, {self.num_frames} propagated frames, {len(self.left_paths)} propagated "
                f"masks, {self.flows.count} flows; delete the results of this sample and rerun"
            )
        self.cache: dict[int, _Frame] = {}
        self.peak_frames = 0

    def _load(self, index: int) -> _Frame:
        hole = io.read_mask(self.hole_paths[index])
        left = io.read_mask(self.left_paths[index])
        frame = frames_to_tensor(io.read_rgb(self.prop_paths[index])[None])[0, 0]
        frame = frame.masked_fill(torch.from_numpy(left)[None], 0.0)
        return _Frame(
            frame,
            masks_to_tensor(hole[None])[0, 0],
            masks_to_tensor(left[None])[0, 0],
            self.source.read(index),
            hole[..., None].astype(np.uint8),
        )

    def window(self, local: list[int], refs: list[int]) -> WindowInputs:
        indices = local + refs
        self.cache = {i: self.cache[i] if i in self.cache else self._load(i) for i in indices}
        self.peak_frames = max(self.peak_frames, len(self.cache))
        forward, backward = self.flows.read(local[0], local[-1])
        items = [self.cache[i] for i in indices]
        return WindowInputs(
            torch.stack([item.frame for item in items])[None],
            torch.stack([item.mask_in for item in items])[None],
            torch.stack([item.mask_updated for item in items])[None],
            flows_to_tensor(forward),
            flows_to_tensor(backward),
        )

    def original(self, index: int) -> np.ndarray:
        return self.cache[index].original

    def hole(self, index: int) -> np.ndarray:
        return self.cache[index].hole


def propainter_transformer(
    frames_dir: str | Path,
    masks_dir: str | Path,
    flows_dir: str | Path,
    propagated_dir: str | Path,
    out_dir: str | Path,
    weights_path: str | Path,
    weights_sha256: str | None,
    neighbor_length: int,
    ref_stride: int,
    subvideo_length: int,
    device: str,
    precision: str,
    keyframes: str | Path,
) -> Path:
    """Fill the holes of `propagated_dir` with the generator and composite into `out_dir` (the
    user's `keyframes`, known pixels of the propagated frames, give their own pixels at their
    frames)."""
    source = FolderSource(frames_dir, masks_dir, flows_dir, propagated_dir)
    model = place(load_generator(weights_path, weights_sha256), device, precision)
    with atomic_dir(out_dir) as tmp:
        compositor = Compositor(frames_dir, masks_dir, tmp, keyframes)
        inpainter = SlidingWindowInpainter(
            model, source, neighbor_length, ref_stride, subvideo_length
        )
        for index, frame in inpainter:
            compositor.write(index, frame)
    return Path(out_dir)
