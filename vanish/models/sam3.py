"""SAM 3 ("Segment Anything with Concepts") over one video, through `transformers`.

A noun phrase prompts SAM 3's detector on every frame; its tracker keeps each found instance's
identity over the video. `Sam3Video.track` feeds the frames in order (the library's video
session, the frames added as they are decoded so only the current one is held at model size)
and returns, per frame, every instance's id, phrase, detection score and mask at the frame's
size. The checkpoint is a Hugging Face folder (`config.json`, `model.safetensors`, tokenizer and
processor files), verified by sha256 (`vanish.weights`) and loaded with `local_files_only`:
SAM 3's weights are gated, so the project never fetches them.

The library runs SAM 3's detection NMS and its mask hole filling through a compiled kernel it
fetches from the Hugging Face hub (`kernels-community/cv-utils`); offline it skips both, which
leaves duplicate detections of one object. `LocalCvUtils` does the same two operations on the
CPU (greedy NMS over the mask IoU matrix, OpenCV connected components) and stands in when that
kernel is not available locally.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import vanish.models.runtime  # noqa: F401  (offline environment before transformers loads)
from vanish.weights import SAM3_FILES, WeightsError, spec_for, spec_label, verified_folder

log = logging.getLogger("vanish")


@dataclass(frozen=True)
class FrameInstances:
    """SAM 3's instances on one frame: ids, phrase index, detection score, `(n, H, W)` masks."""

    ids: np.ndarray
    phrases: np.ndarray
    scores: np.ndarray
    masks: np.ndarray


class LocalCvUtils:
    """The two operations of the hub kernel `kernels-community/cv-utils` that SAM 3 calls."""

    @staticmethod
    def generic_nms(
        ious: torch.Tensor, probs: torch.Tensor, iou_threshold: float, use_iou_matrix: bool = True
    ) -> torch.Tensor:
        """Indices kept by greedy NMS: best score first, dropping any IoU above the threshold."""
        order = torch.argsort(probs, descending=True).tolist()
        overlaps = (ious > iou_threshold).cpu().numpy()
        kept: list[int] = []
        for i in order:
            if not any(overlaps[i, k] for k in kept):
                kept.append(i)
        return torch.tensor(sorted(kept), dtype=torch.int64, device=probs.device)

    @staticmethod
    def cc_2d(mask: torch.Tensor, get_counts: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """8-connected components of `(N, 1, H, W)` binary masks: labels and, per pixel, the
        area of its component."""
        import cv2

        binary = mask.cpu().numpy().astype(np.uint8)
        labels = np.zeros(binary.shape, np.int32)
        counts = np.zeros(binary.shape, np.int32)
        for n in range(binary.shape[0]):
            count, label, stats, _ = cv2.connectedComponentsWithStats(binary[n, 0], connectivity=8)
            areas = stats[:, cv2.CC_STAT_AREA].astype(np.int32)
            areas[0] = 0  # the background label
            labels[n, 0], counts[n, 0] = label, areas[label]
        return torch.from_numpy(labels).to(mask.device), torch.from_numpy(counts).to(mask.device)


def use_local_cv_utils() -> None:
    """Give SAM 3's post-processing `LocalCvUtils` when the hub kernel is not available
    locally (the environment is offline: the library looks in its cache only)."""
    from transformers.models.sam3_video import modeling_sam3_video as video

    if not hasattr(video, "_load_cv_utils_kernel_once"):
        return  # another transformers version: its own post-processing is used
    video._load_cv_utils_kernel_once()
    if not video.cv_utils_kernel:
        video.cv_utils_kernel = LocalCvUtils()


def load_sam3(folder: str | Path, device: torch.device):
    """The video model and processor of a verified SAM 3 folder, offline."""
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    model = Sam3VideoModel.from_pretrained(folder, local_files_only=True)
    processor = Sam3VideoProcessor.from_pretrained(folder, local_files_only=True)
    use_local_cv_utils()
    return model.to(device).eval(), processor


class Sam3Video:
    """SAM 3's detector + tracker over the frames of one video, prompted by noun phrases."""

    def __init__(
        self, weights_path: str | Path, weights_sha256: str | None, device: torch.device
    ) -> None:
        spec = spec_for("sam3", weights_path, weights_sha256)
        folder = verified_folder(spec, SAM3_FILES)
        try:
            self.model, self.processor = load_sam3(folder, device)
        except (OSError, ValueError, KeyError) as error:
            raise WeightsError(
                f"{spec_label(spec)} ({folder}) are not a loadable SAM 3 video checkpoint "
                f"(Hugging Face folder of facebook/sam3: config.json, model.safetensors, tokenizer "
                f"and processor files): {error}"
            ) from error
        self.device = device
        self.removed: set[int] = set()  # instance ids dropped in hot-start (after `track`)

    def _pixels(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """Frames at the model's input size and normalisation, as the video processor makes
        them for a whole video: `(T, 3, S, S)`."""
        video = np.stack(frames)
        out = self.processor.video_processor(videos=[video], return_tensors="pt")
        return out.pixel_values_videos[0]

    @torch.inference_mode()
    def track(
        self, chunks: Iterable[Sequence[np.ndarray]], phrases: Sequence[str]
    ) -> Iterator[FrameInstances]:
        """Per frame (fed in chunks, in order), the instances SAM 3 outputs for `phrases`.

        Instances the tracker removes in its hot-start period (duplicates, unconfirmed ones) may
        have appeared on earlier frames: `removed` lists them once the video is done, and callers
        drop them, as the library's own video iterator hides them.
        """
        session = self.processor.init_video_session(inference_device=self.device)
        self.processor.add_text_prompt(session, list(phrases))
        phrase_of = {text: i for i, text in enumerate(phrases)}
        index = 0
        for chunk in chunks:
            height, width = chunk[0].shape[:2]
            for pixels in self._pixels(chunk):
                session.add_new_frame(pixels, index)
                out = self.model(inference_session=session, frame_idx=index)
                session.hotstart_removed_obj_ids.update(out.removed_obj_ids)
                post = self.processor.postprocess_outputs(
                    session, out, original_sizes=[[height, width]]
                )
                session.processed_frames.pop(index - 1, None)  # only the current frame is read
                ids = post["object_ids"].cpu().numpy().astype(np.int64)
                prompt_ids = [session.obj_id_to_prompt_id[int(i)] for i in ids]
                yield FrameInstances(
                    ids,
                    np.array([phrase_of[session.prompts[p]] for p in prompt_ids], np.int64),
                    post["scores"].float().cpu().numpy().astype(np.float64),
                    post["masks"].cpu().numpy().astype(bool),
                )
                index += 1
        self.removed = {int(i) for i in session.hotstart_removed_obj_ids}
