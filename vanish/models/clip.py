"""open_clip scoring of object crops against text phrases.

The architecture comes from open_clip's built-in configs (e.g. `ViT-B-32`) or from a model-config
JSON file (a path ending in `.json`, open_clip's format); the weights from a pinned local file
(`.safetensors`, or a `torch.load(weights_only=True)` state dict) — never from a hub.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

import vanish.models.runtime  # noqa: F401 - offline environment before open_clip
from vanish.weights import WeightsError, spec_for, spec_label, verified_file

DEFAULT_TEMPLATES = ("a photo of {}.",)


def _architecture(model: str) -> str:
    """open_clip model name; a JSON path is registered under its file stem first."""
    import open_clip

    if model.endswith(".json"):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"open_clip model config {path} does not exist")
        open_clip.add_model_config(path)
        return path.stem
    if model not in open_clip.list_models():
        raise ValueError(
            f"prompt.clip.model '{model}' is not an open_clip architecture; give a name from "
            "open_clip.list_models() or the path of a model-config JSON"
        )
    return model


class ClipScorer:
    """Image and text embeddings of one open_clip model, loaded once, batched."""

    def __init__(
        self,
        model: str,
        weights_path: str | Path,
        weights_sha256: str | None,
        device: torch.device,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        batch: int = 32,
    ) -> None:
        import open_clip

        weights = spec_for("clip", weights_path, weights_sha256)
        path = verified_file(weights)
        name = _architecture(model)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # open_clip warns that no pretrained tag was given
        try:
            self.model = open_clip.create_model(name, pretrained=None, device="cpu")
        finally:
            root.setLevel(level)
        try:
            open_clip.load_checkpoint(self.model, str(path), weights_only=True)
        except pickle.UnpicklingError as error:
            raise WeightsError(
                f"{spec_label(weights)} ({path}) contain objects other than tensors; refusing "
                f"to unpickle them (torch.load weights_only=True): {error}"
            ) from error
        except (RuntimeError, KeyError, ValueError) as error:
            raise WeightsError(
                f"{spec_label(weights)} ({path}) do not fit the open_clip model '{model}': {error}"
            ) from error
        self.model.to(device).eval()
        self.tokenizer = open_clip.get_tokenizer(name)
        self.device = device
        self.templates = list(templates) or list(DEFAULT_TEMPLATES)
        self.batch = batch
        cfg = getattr(self.model.visual, "preprocess_cfg", {}) or {}
        size = cfg.get("size", getattr(self.model.visual, "image_size", 224))
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.mean = torch.tensor(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)).view(1, 3, 1, 1)
        self.std = torch.tensor(cfg.get("std", open_clip.OPENAI_DATASET_STD)).view(1, 3, 1, 1)

    @torch.inference_mode()
    def encode_text(self, phrases: Sequence[str]) -> np.ndarray:
        """`(phrases, dim)` unit vectors, each the mean over the prompt templates."""
        texts = [template.format(p) for p in phrases for template in self.templates]
        tokens = self.tokenizer(texts).to(self.device)
        features = self.model.encode_text(tokens).float()
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        features = features.view(len(phrases), len(self.templates), -1).mean(1)
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features.cpu().numpy()

    def _pixels(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        width, height = self.size[1], self.size[0]
        resized = [cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in crops]
        batch = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float() / 255.0
        return (batch - self.mean) / self.std

    @torch.inference_mode()
    def encode_images(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """`(crops, dim)` unit vectors of uint8 RGB crops (any size: resized to the model's)."""
        out = []
        for start in range(0, len(crops), self.batch):
            pixels = self._pixels(crops[start : start + self.batch]).to(self.device)
            features = self.model.encode_image(pixels).float()
            features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            out.append(features.cpu().numpy())
        if not out:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(out)
