"""SAM 2 video propagation seeded from tracks: where to prompt, and where to prompt again.

The tracker gives each selected object a box on the frames where it was detected (with a
confidence). SAM 2 is prompted with the object's box on its best-scored frames (`seed_frames`),
propagates forward and backward through the clip, and its mask is then compared with the
tracker's box on every detected frame: where the mask's bounding box and the tracker's box overlap
less than a threshold (IoU; an empty mask counts 0), the mask has drifted to something else or
lost the object, so the tracker's box is added as a prompt there (`disagreeing_frames`: the worst
frame of each run of disagreeing frames, the worst runs first) and the clip is propagated again.

`track_objects` runs this against any object with SAM 2's session/add_box/propagate methods
(`vanish.models.sam2_video.Sam2Video`, or a stub in tests); everything else here is numpy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RepromptOptions:
    """The config section `prompt.sam2` less the model: how many seeds, when to re-prompt."""

    seeds: int
    reprompt_iou: float
    reprompt_rounds: int
    max_reprompts: int

    @classmethod
    def from_section(cls, section: Mapping) -> RepromptOptions:
        return cls(
            int(section["seeds"]),
            float(section["reprompt_iou"]),
            int(section["reprompt_rounds"]),
            int(section["max_reprompts"]),
        )


class VideoSegmenter(Protocol):
    def add_box(self, state: dict, frame: int, obj: int, box: np.ndarray) -> None: ...

    def propagate(
        self, state: dict, start: int, reverse: bool
    ) -> Iterator[tuple[int, list[int], np.ndarray]]: ...


def seed_frames(scores: np.ndarray, count: int) -> list[int]:
    """Up to `count` frames of highest score (NaN = not detected), in frame order.

    Greedy by score (ties: the earlier frame), each at least `span // (2 * count)` frames from
    those already chosen, so that the seeds spread over the track rather than bunch on one
    stretch of high confidence.
    """
    detected = np.flatnonzero(~np.isnan(scores))
    if not len(detected):
        return []
    gap = max(1, int(detected[-1] - detected[0] + 1) // (2 * count))
    order = sorted(detected, key=lambda f: (-scores[f], f))
    chosen: list[int] = []
    for frame in order:
        if len(chosen) == count:
            break
        if all(abs(int(frame) - c) >= gap for c in chosen):
            chosen.append(int(frame))
    return sorted(chosen)


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """The xyxy pixel box around a bool mask (pixel edges), None if it is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


def box_iou(a: np.ndarray | None, b: np.ndarray) -> float:
    """IoU of two xyxy boxes; 0 when `a` is None (an empty mask)."""
    if a is None:
        return 0.0
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def disagreeing_frames(
    ious: Mapping[int, float], threshold: float, prompted: set[int], limit: int
) -> list[int]:
    """Frames to re-prompt: `ious` maps each frame with a tracker box to its mask/box IoU.

    Frames below `threshold` (and not prompted already) form runs of consecutive frames; each
    run contributes its worst frame (lowest IoU, then earliest), and the `limit` worst runs are
    returned in frame order. One prompt per run is enough: propagating from it fixes its
    neighbours, and the next round catches what it did not.
    """
    bad = sorted(f for f, iou in ious.items() if iou < threshold and f not in prompted)
    runs: list[list[int]] = []
    for frame in bad:
        if runs and frame == runs[-1][-1] + 1:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    worst = [min(run, key=lambda f: (ious[f], f)) for run in runs]
    return sorted(sorted(worst, key=lambda f: (ious[f], f))[:limit])


def _pack(masks: np.ndarray) -> tuple[np.ndarray, int]:
    return np.packbits(masks, axis=-1), masks.shape[-1]


def unpack(packed: tuple[np.ndarray, int]) -> np.ndarray:
    """The bool masks `(n, H, W)` of a stored frame."""
    bits, width = packed
    return np.unpackbits(bits, axis=-1, count=width).astype(bool)


def propagate_both_ways(
    video: VideoSegmenter, state: dict, start: int
) -> dict[int, tuple[list[int], tuple[np.ndarray, int]]]:
    """Every frame's (object ids, packed masks): forward from `start`, then backward from it."""
    out = {}
    for reverse in (False, True):
        for frame, ids, masks in video.propagate(state, start, reverse):
            out[frame] = (ids, _pack(masks))
    return out


def _ious(
    result: Mapping[int, tuple[list[int], tuple[np.ndarray, int]]], obj: int, boxes: np.ndarray
) -> dict[int, float]:
    ious = {}
    for frame in np.flatnonzero(~np.isnan(boxes).any(axis=1)):
        ids, packed = result[int(frame)]
        mask = unpack(packed)[ids.index(obj)]
        ious[int(frame)] = box_iou(mask_box(mask), boxes[frame])
    return ious


def track_objects(
    video: VideoSegmenter,
    state: dict,
    boxes: Mapping[int, np.ndarray],
    scores: Mapping[int, np.ndarray],
    options: RepromptOptions,
) -> tuple[dict[int, tuple[list[int], tuple[np.ndarray, int]]], dict[int, list[int]]]:
    """Seed, propagate, re-prompt where mask and tracker box disagree, propagate again.

    `boxes[obj]`: `(F, 4)` the tracker's xyxy boxes (NaN where not detected); `scores[obj]`:
    `(F,)` their confidences. Returns every frame's (object ids, packed masks) and, per object,
    the frames it was prompted on (seeds first, then each round's re-prompts).
    """
    prompted: dict[int, list[int]] = {}
    for obj in boxes:
        prompted[obj] = seed_frames(scores[obj], options.seeds)
        for frame in prompted[obj]:
            video.add_box(state, frame, obj, boxes[obj][frame])
    prompted = {obj: frames for obj, frames in prompted.items() if frames}
    if not prompted:
        return {}, {}
    start = min(min(frames) for frames in prompted.values())
    result = propagate_both_ways(video, state, start)
    for _ in range(options.reprompt_rounds):
        added = False
        for obj, frames in prompted.items():
            ious = _ious(result, obj, boxes[obj])
            again = disagreeing_frames(
                ious, options.reprompt_iou, set(frames), options.max_reprompts
            )
            for frame in again:
                video.add_box(state, frame, obj, boxes[obj][frame])
            frames.extend(again)
            added = added or bool(again)
        if not added:
            break
        result = propagate_both_ways(video, state, start)
    return result, prompted
