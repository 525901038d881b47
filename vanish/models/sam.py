"""Segment Anything (Meta's `segment_anything` package), prompted with boxes, batched over frames.

The network is built from its architecture parameters (the published `vit_h`, `vit_l`, `vit_b`,
or a mapping for another image encoder, e.g. a tiny one for tests) and its weights are loaded from
a pinned state dict with `torch.load(weights_only=True)` (`vanish.weights.load_state_dict`), never
through the package's own unrestricted `torch.load`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from vanish.weights import WeightsError, load_state_dict, spec_for, spec_label

PRESETS: dict[str, dict] = {
    "vit_h": {"embed_dim": 1280, "depth": 32, "num_heads": 16, "global_attn": [7, 15, 23, 31]},
    "vit_l": {"embed_dim": 1024, "depth": 24, "num_heads": 16, "global_attn": [5, 11, 17, 23]},
    "vit_b": {"embed_dim": 768, "depth": 12, "num_heads": 12, "global_attn": [2, 5, 8, 11]},
}
ENCODER_KEYS = {"embed_dim", "depth", "num_heads", "global_attn", "image_size", "window_size"}


def encoder_config(model: str | Mapping[str, object]) -> dict:
    """Image-encoder parameters of a preset name or of an explicit mapping."""
    if isinstance(model, str):
        if model not in PRESETS:
            raise ValueError(f"prompt.sam.model must be one of {sorted(PRESETS)} or a mapping")
        return {"image_size": 1024, "window_size": 14, **PRESETS[model]}
    unknown = set(model) - ENCODER_KEYS
    missing = {"embed_dim", "depth", "num_heads", "global_attn"} - set(model)
    if unknown or missing:
        raise ValueError(
            f"prompt.sam.model mapping: unknown keys {sorted(unknown)}, missing {sorted(missing)}"
        )
    return {"image_size": 1024, "window_size": 14, **model}


def build_sam(model: str | Mapping[str, object] = "vit_h") -> torch.nn.Module:
    """SAM with random weights: the published prompt encoder and mask decoder, any image encoder.

    Mirrors `segment_anything.build_sam._build_sam` with the encoder size, image size and window
    made parameters (the published models use 1024 and 14).
    """
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    cfg = encoder_config(model)
    prompt_dim, patch = 256, 16
    image_size = int(cfg["image_size"])
    grid = image_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=int(cfg["depth"]),
            embed_dim=int(cfg["embed_dim"]),
            img_size=image_size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=int(cfg["num_heads"]),
            patch_size=patch,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(int(i) for i in cfg["global_attn"]),
            window_size=int(cfg["window_size"]),
            out_chans=prompt_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=prompt_dim, mlp_dim=2048, num_heads=8
            ),
            transformer_dim=prompt_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


@dataclass
class Embedding:
    """One frame's image embedding and the sizes needed to map prompts and masks."""

    features: torch.Tensor  # (1, 256, grid, grid)
    input_size: tuple[int, int]  # (h, w) after the longest-side resize
    original_size: tuple[int, int]  # (h, w) of the frame


class SamSegmenter:
    """SAM loaded once; `embed` batches frames through the image encoder, `segment` decodes."""

    def __init__(
        self,
        weights_path: str | Path,
        weights_sha256: str | None,
        device: torch.device,
        model: str | Mapping[str, object] = "vit_h",
        batch: int = 4,
    ) -> None:
        from segment_anything.utils.transforms import ResizeLongestSide

        weights = spec_for("sam", weights_path, weights_sha256)
        state = load_state_dict(weights)
        self.sam = build_sam(model)
        try:
            self.sam.load_state_dict(state)
        except RuntimeError as error:
            raise WeightsError(
                f"{spec_label(weights)} ({weights.path}) do not fit the SAM model "
                f"{model!r}: {error}"
            ) from error
        self.sam.to(device).eval()
        self.device = device
        self.batch = batch
        self.transform = ResizeLongestSide(self.sam.image_encoder.img_size)

    @torch.inference_mode()
    def embed(self, frames: Sequence[np.ndarray]) -> list[Embedding]:
        """Image embeddings of uint8 RGB frames, `batch` frames per encoder pass."""
        out: list[Embedding] = []
        for start in range(0, len(frames), self.batch):
            chunk = frames[start : start + self.batch]
            tensors, sizes = [], []
            for frame in chunk:
                resized = self.transform.apply_image(frame)
                tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1)
                tensors.append(self.sam.preprocess(tensor[None].float()))
                sizes.append(tuple(resized.shape[:2]))
            features = self.sam.image_encoder(torch.cat(tensors))
            for i, frame in enumerate(chunk):
                out.append(Embedding(features[i : i + 1], sizes[i], tuple(frame.shape[:2])))
        return out

    @torch.inference_mode()
    def segment(
        self,
        embedding: Embedding,
        boxes: np.ndarray | None = None,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """Bool masks `(n, H, W)` for n boxes (each optionally with one point) of one frame.

        `boxes`: `(n, 4)` xyxy pixels; `points`: `(n, k, 2)` xy pixels with `labels` `(n, k)`
        (1 = object, 0 = background). At least one of the two is needed.
        """
        box_t = point_t = None
        if boxes is not None:
            box_t = self.transform.apply_boxes_torch(
                torch.as_tensor(np.asarray(boxes, np.float32), device=self.device),
                embedding.original_size,
            )
        if points is not None:
            coords = self.transform.apply_coords_torch(
                torch.as_tensor(np.asarray(points, np.float32), device=self.device),
                embedding.original_size,
            )
            point_t = (coords, torch.as_tensor(np.asarray(labels), device=self.device))
        if box_t is None and point_t is None:
            raise ValueError("SAM needs boxes or points")
        sparse, dense = self.sam.prompt_encoder(points=point_t, boxes=box_t, masks=None)
        low_res, _ = self.sam.mask_decoder(
            image_embeddings=embedding.features,
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        masks = self.sam.postprocess_masks(low_res, embedding.input_size, embedding.original_size)
        return (masks[:, 0] > self.sam.mask_threshold).cpu().numpy()
