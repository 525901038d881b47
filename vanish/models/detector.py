"""Object detectors with tracking: ultralytics YOLO (built-in tracker) or Grounding DINO.

Both wrappers take batches of RGB frames of one video, in order, and return per frame an array of
rows `[x1, y1, x2, y2, track, confidence, class_id]` (input-frame pixels) of the objects the
tracker follows. YOLO uses ultralytics' own `model.track(persist=True)`; Grounding DINO
(zero-shot, prompted with the prompt's phrases, through `transformers`) feeds its detections to
the same ultralytics tracker classes, so both give the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vanish.models.runtime import import_ultralytics
from vanish.weights import WeightsError, spec_for, spec_label, verified_file, verified_folder

DETECTORS = ("yolo", "grounding_dino")
TRACKERS = ("bytetrack", "botsort")
GROUNDING_DINO_REQUIRED = ("config.json", "model.safetensors", "tokenizer_config.json")
EMPTY = np.zeros((0, 7), np.float64)


def tracker_yaml(tracker: str) -> str:
    """An ultralytics tracker config: a built-in name (bytetrack, botsort) or a YAML path."""
    if tracker.endswith((".yaml", ".yml")):
        return tracker
    if tracker not in TRACKERS:
        raise ValueError(
            f"prompt.tracker must be one of {TRACKERS} or a YAML file, got {tracker!r}"
        )
    return f"{tracker}.yaml"


def ultralytics_device(device: torch.device) -> str:
    """torch device → ultralytics' device string ('cpu', '0', …)."""
    if device.type == "cuda":
        return str(device.index or 0)
    return device.type


def _bgr(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(frame[..., ::-1]) for frame in frames]


class YoloTracker:
    """ultralytics YOLO with its built-in tracker over the frames of one video."""

    def __init__(
        self,
        weights_path: str | Path,
        weights_sha256: str | None,
        device: torch.device,
        imgsz: int = 640,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 100,
        classes: Sequence[int] | None = None,
        tracker: str = "bytetrack",
        half: bool = False,
        config_dir: str | Path | None = None,
    ) -> None:
        weights = spec_for("yolo", weights_path, weights_sha256)
        path = verified_file(weights)
        import_ultralytics(config_dir)
        import ultralytics.utils.torch_utils as torch_utils
        from ultralytics import YOLO

        # ultralytics resets torch to min(8, cores - 1) CPU threads: keep the job's own count.
        torch_utils.NUM_THREADS = torch.get_num_threads()

        try:
            self.model = YOLO(str(path), task="detect")
        except (TypeError, ModuleNotFoundError) as error:  # safe load refused the file
            raise WeightsError(
                f"{spec_label(weights)} ({path}) are not a loadable ultralytics detection "
                f"checkpoint with safe (weights_only) loading: {error}"
            ) from error
        self.names: dict[int, str] = {int(k): str(v) for k, v in self.model.names.items()}
        self.options = {
            "persist": True,
            "tracker": tracker_yaml(tracker),
            "imgsz": imgsz,
            "conf": conf,
            "iou": iou,
            "max_det": max_det,
            "classes": list(classes) if classes else None,
            "device": ultralytics_device(device),
            "half": half and device.type == "cuda",
            "verbose": False,
            "save": False,
        }

    def track(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Tracked boxes of the next frames of the video (call in frame order)."""
        if not frames:
            return []
        results = self.model.track(_bgr(frames), **self.options)
        out = []
        for result in results:
            boxes = result.boxes
            if boxes is None or boxes.id is None or len(boxes) == 0:
                out.append(EMPTY)
                continue
            data = boxes.data.cpu().numpy().astype(np.float64)  # x1 y1 x2 y2 id conf cls
            out.append(data[:, :7])
        return out


def phrase_spans(input_ids: Sequence[int], separator: int, special: set[int]) -> list[list[int]]:
    """Token positions of each `.`-terminated phrase of a Grounding DINO caption."""
    spans: list[list[int]] = []
    current: list[int] = []
    for position, token in enumerate(input_ids):
        if token in special:
            continue
        if token == separator:
            if current:
                spans.append(current)
            current = []
        else:
            current.append(position)
    if current:
        spans.append(current)
    return spans


def caption(phrases: Sequence[str]) -> str:
    """Grounding DINO's text input: lower-case phrases, each ended by ' .'."""
    return " ".join(f"{phrase.lower().replace('.', ' ').strip()} ." for phrase in phrases)


class GroundingDinoTracker:
    """Zero-shot Grounding DINO detections of the prompt's phrases, tracked by ultralytics."""

    def __init__(
        self,
        weights_path: str | Path,
        weights_sha256: str | None,
        phrases: Sequence[str],
        device: torch.device,
        box_threshold: float = 0.3,
        text_threshold: float = 0.25,
        nms_iou: float = 0.7,
        max_det: int = 100,
        tracker: str = "bytetrack",
        config_dir: str | Path | None = None,
    ) -> None:
        if not phrases:
            raise ValueError("Grounding DINO needs at least one phrase")
        weights = spec_for("grounding_dino", weights_path, weights_sha256)
        folder = verified_folder(weights, GROUNDING_DINO_REQUIRED)
        from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

        self.processor = GroundingDinoProcessor.from_pretrained(folder, local_files_only=True)
        self.model = GroundingDinoForObjectDetection.from_pretrained(
            folder, local_files_only=True, use_safetensors=True
        )
        self.model.to(device).eval()
        self.device = device
        self.phrases = list(phrases)
        self.names = dict(enumerate(self.phrases))
        self.text = caption(phrases)
        tokenizer = self.processor.tokenizer
        ids = tokenizer(self.text)["input_ids"]
        separator = tokenizer.convert_tokens_to_ids(".")
        special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
        self.spans = phrase_spans(ids, separator, special)
        if len(self.spans) != len(self.phrases):
            raise ValueError(
                f"Grounding DINO caption '{self.text}' tokenises into {len(self.spans)} phrases, "
                f"expected {len(self.phrases)}"
            )
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        self.nms_iou, self.max_det = nms_iou, max_det
        import_ultralytics(config_dir)
        from ultralytics.trackers.track import TRACKER_MAP
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        cfg = IterableSimpleNamespace(**YAML.load(check_yaml(tracker_yaml(tracker))))
        self.tracker = TRACKER_MAP[cfg.tracker_type](args=cfg)

    @torch.inference_mode()
    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Untracked detections per frame: rows `[x1, y1, x2, y2, confidence, phrase_id]`."""
        from PIL import Image
        from torchvision.ops import batched_nms

        images = [Image.fromarray(frame) for frame in frames]
        inputs = self.processor(
            images=images, text=[self.text] * len(images), return_tensors="pt"
        ).to(self.device)
        outputs = self.model(**inputs)
        probs = outputs.logits.sigmoid()  # (B, queries, text positions)
        per_phrase = torch.stack([probs[..., span].max(-1).values for span in self.spans], -1)
        conf, cls = per_phrase.max(-1)
        any_token = probs.max(-1).values
        cx, cy, w, h = outputs.pred_boxes.unbind(-1)
        corners = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        out = []
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            scale = corners.new_tensor([width, height, width, height])
            boxes = (corners[i] * scale).clamp(min=0)
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clamp(max=width)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clamp(max=height)
            keep = (any_token[i] >= self.box_threshold) & (conf[i] >= self.text_threshold)
            index = torch.nonzero(keep).flatten()
            index = index[batched_nms(boxes[index], conf[i][index], cls[i][index], self.nms_iou)]
            index = index[: self.max_det]
            rows = torch.cat(
                [boxes[index], conf[i][index, None], cls[i][index, None].to(boxes.dtype)], 1
            )
            out.append(rows.float().cpu().numpy().astype(np.float64))
        return out

    def track(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Tracked boxes of the next frames of the video (call in frame order)."""
        from ultralytics.engine.results import Boxes

        if not frames:
            return []
        out = []
        for frame, rows, bgr in zip(frames, self.detect(frames), _bgr(frames), strict=True):
            boxes = Boxes(torch.as_tensor(rows, dtype=torch.float32), frame.shape[:2]).numpy()
            tracks = self.tracker.update(boxes, bgr)
            if len(tracks) == 0:
                out.append(EMPTY)
                continue
            tracks = np.asarray(tracks, np.float64)
            out.append(tracks[:, [0, 1, 2, 3, 4, 5, 6]])
        return out
