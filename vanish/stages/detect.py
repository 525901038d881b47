"""Stage `detect`: tracked object boxes of every frame → `detections.parquet`.

One row per (frame, tracked object): `frame` (int, 0-based), `track` (int id, stable over the
video), `class` (detector class name, or the prompt phrase for Grounding DINO), `class_id`,
`confidence`, and the box `x1, y1, x2, y2` in pixels of the input-size frames
(`io.original_frames_dir`). The file's schema metadata records the detector, its settings, the
class names and the frame size. The format is `vanish.io`'s (`write_detections`,
`read_detections`). The tracker sees the distinct frames only (the frames stage's pixel repeats,
`vanish.repeats`); a repeated frame gets its source's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vanish import io
from vanish.errors import InputError
from vanish.repeats import computed
from vanish.selection import split_prompt

log = logging.getLogger("vanish")


def build_detector(
    detector: str,
    phrases: Sequence[str],
    weights_path: str | Path,
    weights_sha256: str | None,
    device: str,
    tracker: str,
    yolo: Mapping,
    grounding_dino: Mapping,
    ultralytics_dir: str,
):
    """The configured detector+tracker, loaded once for the job, from the weights file (YOLO)
    or folder (Grounding DINO) at `weights_path`, pinned by `weights_sha256`.

    `yolo`, `grounding_dino`: the complete config sections `prompt.yolo`, `prompt.grounding_dino`.
    """
    from vanish.models.detector import GroundingDinoTracker, YoloTracker
    from vanish.models.runtime import select_device

    torch_device = select_device(device)
    if detector == "yolo":
        return YoloTracker(
            weights_path,
            weights_sha256,
            torch_device,
            imgsz=int(yolo["imgsz"]),
            conf=float(yolo["conf"]),
            iou=float(yolo["iou"]),
            max_det=int(yolo["max_det"]),
            classes=yolo["classes"],
            tracker=tracker,
            half=bool(yolo["half"]),
            config_dir=ultralytics_dir,
        )
    if detector == "grounding_dino":
        return GroundingDinoTracker(
            weights_path,
            weights_sha256,
            phrases,
            torch_device,
            box_threshold=float(grounding_dino["box_threshold"]),
            text_threshold=float(grounding_dino["text_threshold"]),
            nms_iou=float(grounding_dino["nms_iou"]),
            max_det=int(grounding_dino["max_det"]),
            tracker=tracker,
            config_dir=ultralytics_dir,
        )
    raise ValueError(f"prompt.detector must be yolo or grounding_dino, got {detector!r}")


def detect_objects(
    sample: str,
    frames_dir: str | Path,
    out_path: str | Path,
    prompt: str,
    detector: str,
    weights_path: str | Path,
    weights_sha256: str | None,
    device: str,
    batch: int,
    tracker: str,
    yolo: Mapping,
    grounding_dino: Mapping,
    ultralytics_dir: str,
) -> Path:
    """Detect and track objects in every frame of a clip; write `detections.parquet`.

    `weights_path` is the chosen detector's weights (file or folder), `weights_sha256` its pin.
    """
    frames_dir = Path(frames_dir)
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    phrases = split_prompt(prompt)
    if detector == "grounding_dino" and not phrases:
        raise InputError(
            sample, frames_dir, "the prompt is empty", "name the object(s) in the 'prompt' column"
        )
    model = build_detector(
        detector,
        phrases,
        weights_path,
        weights_sha256,
        device,
        tracker,
        yolo,
        grounding_dino,
        ultralytics_dir,
    )
    paths = io.list_images(io.original_frames_dir(frames_dir))
    sources = io.frame_repeats(frames_dir)
    distinct = computed(sources)
    tracked: dict[int, np.ndarray] = {}
    with tqdm(total=len(distinct), desc=f"{sample} detect", unit="frame") as progress:
        for start, stop in io.iter_chunks(len(distinct), max(1, batch)):
            frames = [io.read_rgb(paths[i]) for i in distinct[start:stop]]
            tracked.update(zip(distinct[start:stop], model.track(frames), strict=True))
            progress.update(stop - start)
    table = io.detections_table([tracked[source] for source in sources], model.names)
    metadata = {
        "sample": sample,
        "detector": detector,
        "tracker": tracker,
        "prompt": prompt,
        "phrases": phrases,
        "names": {str(k): v for k, v in model.names.items()},
        "frame_count": len(paths),
        "width": meta.width,
        "height": meta.height,
        "settings": dict(yolo if detector == "yolo" else grounding_dino),
    }
    io.write_detections(out_path, table, metadata)
    log.info(
        "%s: %d detections in %d tracks over %d frames",
        sample,
        len(table),
        table["track"].nunique(),
        len(paths),
    )
    return Path(out_path)
