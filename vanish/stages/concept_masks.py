"""Stage `masks_from_concepts`: SAM 3 text → instance masks over the video → the mask folder.

With `prompt.detector: sam3` one model detects, tracks and segments every instance of each
phrase of the prompt (open vocabulary), so detect → select → masks collapse into this one stage
(docs/architecture.md, stage table). It writes what those three write for the next stages: the
mask stage folder (`vanish.masks.write_masks`, the same layout and summary as every mask stage)
and `selection.json` in the select stage's format (`vanish.selection.report`): every instance
SAM 3 reported, its mean detection score for its phrase, which were kept and why. A plain
phrase keeps its best-scoring instance; an every-instance phrase keeps all at or above
`prompt.sam3.threshold` (`vanish.selection.parse_prompt`: `all: <phrase>`). No kept instance
under the `passthrough` policy gives empty masks (the video passes through); under `fail` the
sample fails, as in the select stage.

SAM 3 takes short noun phrases ("person", "red car"): it does not read relations or positions
("the person on the left"); such phrases are run as they are and flagged in `selection.json`
(`phrases_beyond_model`). SAM 3 sees the distinct frames only (`vanish.repeats`); a repeat gets
its source's mask.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vanish import io
from vanish.atomic import atomic_dir
from vanish.errors import InputError
from vanish.masks import write_masks
from vanish.repeats import computed, repeats_of
from vanish.selection import TrackInfo, apply_policy, parse_prompt, report, select

log = logging.getLogger("vanish")

# Words of relations and positions that a noun-phrase model does not read (reported, not used).
RELATIONS = re.compile(
    r"\b(left|right|behind|front|next|near|beside|between|above|below|under|over|holding|"
    r"wearing|carrying|riding|first|second|third|last|closest|farthest|biggest|smallest)\b",
    re.IGNORECASE,
)


@dataclass
class Instance:
    """One SAM 3 instance over the video: its phrase, per-frame scores and packed masks."""

    phrase: int
    frames: list[int] = field(default_factory=list)  # distinct-frame positions where it shows
    scores: list[float] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # position -> np.packbits mask


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The `[x1, y1, x2, y2]` pixel box of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def collect(frames: Iterator, removed: set[int] | None = None) -> dict[int, Instance]:
    """Every instance of `Sam3Video.track`'s frames, by id (masks bit-packed: a clip's instance
    masks are held until the selection over the whole video is known)."""
    instances: dict[int, Instance] = {}
    for position, found in enumerate(frames):
        for obj, phrase, score, mask in zip(
            found.ids, found.phrases, found.scores, found.masks, strict=True
        ):
            if not mask.any():
                continue
            item = instances.setdefault(int(obj), Instance(int(phrase)))
            item.frames.append(position)
            item.scores.append(float(score))
            item.boxes.append(mask_box(mask))
            item.masks[position] = np.packbits(mask)
    return instances


def track_info(obj: int, item: Instance, phrases: Sequence[str], distinct: list[int]):
    """The select stage's view of an instance (frames in the clip's numbering)."""
    frames = np.array([distinct[p] for p in item.frames], np.int64)
    label, confidence = phrases[item.phrase], float(np.mean(item.scores))
    return TrackInfo(obj, frames, item.boxes[0], item.boxes[-1], label, confidence)


def instance_scores(instances: Mapping[int, Instance], phrases: Sequence[str]) -> dict:
    """Per instance, its mean detection score for the phrase that found it (0 for the others:
    SAM 3 scores an instance against its own phrase only)."""
    scores = {}
    for obj, item in instances.items():
        row = np.zeros(len(phrases))
        row[item.phrase] = float(np.mean(item.scores))
        scores[obj] = row
    return scores


def _frame_masks(
    instances: Mapping[int, Instance],
    chosen: list[int],
    sources: list[int],
    shape: tuple[int, int],
) -> Iterator[np.ndarray]:
    """Every frame's union of the chosen instances' masks, repeats given their source's."""
    distinct, repeats = computed(sources), repeats_of(sources)
    size = shape[0] * shape[1]
    for position, index in enumerate(distinct):
        union = np.zeros(shape, bool)
        for obj in chosen:
            packed = instances[obj].masks.get(position)
            if packed is not None:
                union |= np.unpackbits(packed, count=size).reshape(shape).astype(bool)
        for _ in range(1 + len(repeats[index])):
            yield union


def _chunks(paths: list[Path], indexes: list[int], batch: int) -> Iterator[list[np.ndarray]]:
    for start, stop in io.iter_chunks(len(indexes), max(1, batch)):
        yield [io.read_rgb(paths[i]) for i in indexes[start:stop]]


def masks_from_concepts(
    sample: str,
    frames_dir: str | Path,
    out_dir: str | Path,
    selection: str | Path,
    prompt: str,
    dilation: int,
    weights_path: str | Path,
    weights_sha256: str | None,
    device: str,
    batch: int,
    sam3: Mapping,
    no_match: str,
    roi: Mapping | None,
) -> dict:
    """Segment the prompt's instances with SAM 3; write the mask folder and `selection.json`.

    `weights_path`/`weights_sha256`: the SAM 3 checkpoint folder and the sha256 of its
    model.safetensors. `sam3`: the config section `prompt.sam3`; `no_match`: the policy
    `prompt.select.no_match`; `batch`: frames decoded and preprocessed at once; `roi`: regions of
    interest (`vanish.masks.write_masks`; None: whole frames).
    """
    frames_dir = Path(frames_dir)
    parsed = parse_prompt(prompt)  # the sheet validated its syntax before any job
    phrases = list(parsed.phrases)
    if not phrases:
        raise InputError(
            sample, frames_dir, "the prompt is empty", "name the object(s) in the 'prompt' column"
        )
    from vanish.models.runtime import select_device
    from vanish.models.sam3 import Sam3Video

    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    paths = io.list_images(io.original_frames_dir(frames_dir))
    sources = io.frame_repeats(frames_dir)
    distinct = computed(sources)
    model = Sam3Video(weights_path, weights_sha256, select_device(device))
    found = collect(model.track(_chunks(paths, distinct, batch), phrases))
    instances = {obj: item for obj, item in found.items() if obj not in model.removed}
    infos = {obj: track_info(obj, item, phrases, distinct) for obj, item in instances.items()}
    threshold = float(sam3["threshold"])
    chosen = select(
        phrases,
        instance_scores(instances, phrases),
        None,  # no detector classes: an `all:` phrase keeps every instance scoring ≥ threshold
        threshold=threshold,
        top_k=1,
        link=False,  # SAM 3's tracker keeps identities itself
        every=parsed.every,
    )
    record = report(chosen, infos, no_match)
    record.update(
        sample=sample,
        prompt=prompt,
        detector="sam3",
        every_instance=parsed.every_instance,
        score="mean SAM 3 detection score over the frames where the instance shows",
        removed_in_hotstart=sorted(obj for obj in found if obj in model.removed),
        phrases_beyond_model=[p for p in phrases if RELATIONS.search(p)],
    )
    log.info(
        "%s: prompt %r -> outcome %s, instances %s of %d",
        sample,
        prompt,
        record["outcome"],
        record["selected_tracks"],
        len(instances),
    )
    apply_policy(chosen, no_match, sample, prompt)
    with atomic_dir(out_dir) as tmp:
        masks = _frame_masks(instances, chosen.tracks, sources, (meta.height, meta.width))
        write_masks(masks, meta, tmp, dilation, frame_sources=sources, roi=roi,
                    frames_dir=frames_dir)  # fmt: skip
    io.write_selection(selection, record)
    return record
