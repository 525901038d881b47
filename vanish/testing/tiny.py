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


TINY_SAM3_SIZE = 112  # input side: 8x8 patches of 14 px
# SAM 3's tracker reads 64-channel memories (fixed in the library) and splits wider object pointers
# into them: its width is a multiple above that.
WIDTH = 128


def _sam3_config(size: int) -> dict:
    """Sam3VideoConfig arguments of a SAM 3 a few channels wide, at input side `size`."""
    grid = size // 14
    vit = {
        "model_type": "sam3_vit_model", "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": size,
        "window_size": 4, "global_attn_indexes": [1], "pretrain_image_size": size,
    }  # fmt: skip
    vision = {
        "backbone_config": vit,
        "fpn_hidden_size": WIDTH,
        "backbone_feature_sizes": [[4 * grid] * 2, [2 * grid] * 2, [grid] * 2],
    }
    text = {
        "model_type": "clip_text_model", "vocab_size": len(TINY_VOCAB) + 2, "hidden_size": 32,
        "intermediate_size": 64, "projection_dim": 32, "num_hidden_layers": 1,
        "num_attention_heads": 2, "max_position_embeddings": 32, "bos_token_id": 0,
        "eos_token_id": 1, "pad_token_id": 1,
    }  # fmt: skip
    small = {
        "hidden_size": WIDTH, "num_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
    }  # fmt: skip
    detector = {
        "vision_config": vision, "text_config": text, "geometry_encoder_config": small,
        "detr_encoder_config": small, "detr_decoder_config": {**small, "num_queries": 4},
        "mask_decoder_config": {"hidden_size": WIDTH, "num_attention_heads": 2},
    }  # fmt: skip
    tracker = {
        "vision_config": vision, "image_size": size,
        "prompt_encoder_config": {"hidden_size": WIDTH, "image_size": size, "patch_size": 14},
        "mask_decoder_config": {
            "hidden_size": WIDTH, "mlp_dim": 64, "num_attention_heads": 2,
            "iou_head_hidden_dim": 32,
        },
        "memory_attention_hidden_size": WIDTH, "memory_attention_num_layers": 1,
        "memory_attention_feed_forward_hidden_size": 64, "memory_encoder_hidden_size": WIDTH,
        "memory_encoder_output_channels": 64, "mask_downsampler_embed_dim": WIDTH,
        "memory_fuser_embed_dim": WIDTH, "memory_fuser_intermediate_dim": 64,
    }  # fmt: skip
    # random masks never overlap the tracker's, so every frame's detections would be new objects:
    # cap them, and skip the hot-start pruning that would then remove them all; random masks are
    # speckled, which hole filling and sprinkle removal (fill_hole_area) would erase
    return {
        "detector_config": detector, "tracker_config": tracker, "low_res_mask_size": 4 * grid,
        "max_num_objects": 4, "hotstart_delay": 0, "fill_hole_area": 0,
    }  # fmt: skip


def _eager_sam3(model, logit: float = 2.5, spread: float = 0.7) -> None:
    """Make a random SAM 3 find objects: its presence token says "present" and the queries
    score about `logit` ± `spread` (logits, alike for every phrase), as the biased YOLO head
    does for the tests of the other detectors. The query scores are
    scale · Σ(query_proj(q)) with q layer-normed (|q|² ≈ width), hence the weights' scale."""
    detector = model.detector_model
    scoring, presence = detector.dot_product_scoring, detector.detr_decoder.presence_head
    with torch.no_grad():
        last = [m for m in presence.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.fill_(8.0)
        unit = scoring.scale * scoring.query_proj.out_features
        scoring.text_proj.weight.zero_()
        scoring.text_proj.bias.fill_(1.0)  # every phrase alike: the logit is sum(query_proj)
        scoring.query_proj.weight.normal_(0.0, spread / unit)
        scoring.query_proj.bias.fill_(logit / unit)


def write_sam3(
    folder: Path, tiny: bool = True, eager: bool = True, max_objects: int | None = None
) -> Path:
    """A random SAM 3 video checkpoint in Hugging Face layout, as `Sam3VideoModel` and
    `Sam3VideoProcessor` save it: tiny (a few channels, input side 112), or with `tiny=False`
    the published architecture (`Sam3VideoConfig` defaults, input side 1008; the tokenizer
    keeps the tiny vocabulary). `eager`: biased to report instances (see `_eager_sam3`);
    `max_objects`: the tracker's object cap (config `max_num_objects`; the tiny model's is 4),
    so that an eager published model tracks that many instances, not one per query."""
    from transformers import CLIPTokenizer, Sam3VideoConfig, Sam3VideoModel, Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import (
        Sam2VideoVideoProcessor,
    )
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

    torch.manual_seed(0)
    size = TINY_SAM3_SIZE if tiny else 1008
    config = Sam3VideoConfig(**_sam3_config(size)) if tiny else Sam3VideoConfig()
    if max_objects is not None:
        config.max_num_objects = max_objects
    model = Sam3VideoModel(config)
    if eager and tiny:
        _eager_sam3(model)
    elif eager:  # the published model's 200 queries: a few above the detection threshold
        _eager_sam3(model, logit=-3.0, spread=1.5)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({f"{word}</w>": i + 2 for i, word in enumerate(TINY_VOCAB)})
    processor = Sam3VideoProcessor(
        image_processor=Sam3ImageProcessor(size={"height": size, "width": size}),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[]),
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
