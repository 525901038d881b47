"""Tiny random-weight prompt models, built from configs and saved like the published files.

For tests, benchmarks and dry runs without the published weights: a YOLOv8n built from its YAML
(saved as an ultralytics checkpoint), a small open_clip config, SAM with a tiny image encoder and
a tiny Grounding DINO, and SAM 2.1 with a tiny Hiera trunk (saved as the published SAM 2 files
are: `{"model": state_dict}`). `write_tiny_models` returns their `weights:` entries (`{path,
sha256}`, the config's form for an own file) and the prompt settings that fit them, so that they
load through the real loading code (pinned by sha256 like any other file).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vanish.models.runtime import import_ultralytics
from vanish.weights import sha256_file

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
TINY_SAM = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn": [1], "image_size": 256}
# Hiera: a global-attention block cannot open a stage (those pool), hence stages [1, 1, 2, 1].
TINY_SAM2 = {
    "embed_dim": 8,
    "num_heads": 1,
    "stages": [1, 1, 2, 1],
    "global_att_blocks": [3],
    "window_spec": [8, 4, 4, 4],
    "image_size": 128,
    "memory_layers": 1,
}
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "the", "and", "of"] + [
    "person",
    "dog",
    "cat",
    "car",
    "red",
    "blue",
    "ball",
    "bike",
    "tree",
    "box",
    "shadow",
]


def write_yolo(path: Path, eager_class: int | None = 0, yaml: str = "yolov8n.yaml") -> Path:
    """A random-weight YOLO detection checkpoint built from a model YAML.

    With `eager_class`, that class's score bias is raised (and the others lowered) so the random
    network reports confident boxes everywhere: useful to exercise tracking and the later stages.
    Ultralytics (if not imported yet) gets its config dir beside the file.
    """
    import_ultralytics(path.parent / "ultralytics")
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO(yaml)
    if eager_class is not None:
        head = model.model.model[-1]
        with torch.no_grad():
            for branch in head.cv3:
                branch[-1].bias.fill_(-10.0)
                branch[-1].bias[eager_class] = 3.0
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path


def write_clip(folder: Path, config: dict | str = TINY_CLIP) -> tuple[str, Path]:
    """A random-weight open_clip model: its architecture (the path of a written config JSON, or
    a built-in name) and its weights (state dict)."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(config, str):
        name = architecture = config
    else:
        path = folder / "tiny-clip.json"
        path.write_text(json.dumps(config))
        open_clip.add_model_config(path)
        name, architecture = path.stem, str(path)
    torch.manual_seed(0)
    model = open_clip.create_model(name, pretrained=None)
    weights = folder / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    return architecture, weights


def write_sam(path: Path, model: str | dict = TINY_SAM) -> Path:
    """SAM (a tiny image encoder unless `model` names another) with random weights."""
    from vanish.models.sam import build_sam

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_sam(model).state_dict(), path)
    return path


def write_sam2(path: Path, model: str | dict = TINY_SAM2) -> Path:
    """SAM 2.1 (a tiny Hiera trunk unless `model` names a published one) with random weights,
    in the published checkpoint layout."""
    from vanish.models.sam2_video import build_sam2

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": build_sam2(model).state_dict()}, path)
    return path


def write_grounding_dino(folder: Path, tiny: bool = True) -> Path:
    """A random Grounding DINO in Hugging Face layout: tiny (Swin + BERT towers of a few
    channels), or with `tiny=False` the published grounding-dino-tiny architecture (Swin-T,
    BERT-base; the tokenizer keeps the tiny vocabulary)."""
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    torch.manual_seed(0)
    if tiny:
        backbone = SwinConfig(
            embed_dim=16,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 2, 2],
            window_size=7,
            out_features=["stage2", "stage3", "stage4"],
        )
        text = BertConfig(
            vocab_size=len(TINY_VOCAB),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=256,
        )
        config = GroundingDinoConfig(
            backbone_config=backbone,
            text_config=text,
            d_model=32,
            encoder_layers=1,
            decoder_layers=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            num_queries=20,
            encoder_n_points=2,
            decoder_n_points=2,
        )
        size = {"shortest_edge": 160, "longest_edge": 256}
    else:
        config = GroundingDinoConfig()
        size = {"shortest_edge": 800, "longest_edge": 1333}
    model = GroundingDinoForObjectDetection(config)
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(TINY_VOCAB)}, do_lower_case=True)
    images = GroundingDinoImageProcessor(size=size)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    # Some transformers versions keep the image settings only in processor_config.json.
    if not (folder / "preprocessor_config.json").exists():
        images.save_pretrained(folder)
    return folder


def pinned(path: Path, hashed: Path | None = None) -> dict[str, str]:
    """A config `weights:` entry for an own file: the path and the sha256 of `hashed` (default:
    the path; a model folder is pinned by its weights file)."""
    return {"path": str(path), "sha256": sha256_file(hashed or path)}


def write_tiny_models(folder: str | Path, grounding_dino: bool = True) -> dict:
    """Write every tiny model under `folder`; return `weights` (role -> {path, sha256}, for the
    config's top-level `weights:`) and the `prompt:` settings that fit them (clip, sam, sam2,
    yolo)."""
    folder = Path(folder)
    yolo = write_yolo(folder / "tiny-yolo.pt")
    clip_model, clip_weights = write_clip(folder / "clip")
    sam = write_sam(folder / "tiny-sam.pt")
    sam2 = write_sam2(folder / "tiny-sam2.pt")
    weights = {
        "yolo": pinned(yolo),
        "clip": pinned(clip_weights),
        "sam": pinned(sam),
        "sam2": pinned(sam2),
    }
    if grounding_dino:
        gd = write_grounding_dino(folder / "tiny-grounding-dino")
        weights["grounding_dino"] = pinned(gd, gd / "model.safetensors")
    return {
        "weights": weights,
        "clip": {"model": clip_model},
        "sam": {"model": dict(TINY_SAM)},
        "sam2": {"model": dict(TINY_SAM2)},
        "yolo": {"imgsz": 160, "max_det": 5},
    }
