"""Stage `masks_from_prompt`: SAM or SAM 2 masks of the selected tracks → the mask stage folder.

`segmenter: sam2` (`prompt.segmenter`): SAM 2 is prompted with each selected track's box on its
best-scored frames and propagates the masks through the clip, forward and backward, re-prompting
from the tracker's box where mask and box disagree (`vanish.reprompt`); the masks are then gated,
completed and shadow-extended per object as below (the shadow without SAM's refinement).

`segmenter: sam`: for every frame, the boxes of the tracks chosen in `selection.json` (linearly
interpolated over frames where the tracker lost the object) prompt SAM; the object masks are
united, optionally extended with each object's cast shadow (`vanish.shadow`), then dilated and
written by `vanish.masks.write_masks` exactly as the file-mask path writes them (same folder
layout and summary), so every later stage is unchanged. A selection without tracks (no match,
`passthrough` policy) gives empty masks: the video passes through unchanged. SAM and SAM 2 see
the distinct frames only (the frames stage's pixel repeats, `vanish.repeats`), with boxes
interpolated over them as if the repeats were not there; a repeat gets its source's mask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vanish import io
from vanish.atomic import atomic_dir
from vanish.boxes import box_area, clip_box, context_box, interpolate_series, track_series
from vanish.masks import write_masks
from vanish.repeats import computed, repeats_of
from vanish.shadow import ShadowParams, extend_with_shadow

log = logging.getLogger("vanish")


def frame_boxes(
    table,
    tracks: list[int],
    frame_count: int,
    width: int,
    height: int,
    max_gap: int | None,
    extend: int,
) -> list[np.ndarray]:
    """Per frame, the `(n, 4)` boxes of the selected tracks (interpolated, clipped, non-empty)."""
    series = []
    for track in tracks:
        rows = table[table["track"] == track]
        raw = track_series(
            rows["frame"].to_numpy(), rows[["x1", "y1", "x2", "y2"]].to_numpy(), frame_count
        )
        series.append(interpolate_series(raw, max_gap, extend))
    out = []
    for frame in range(frame_count):
        boxes = []
        for s in series:
            if np.isnan(s[frame]).any():
                continue
            box = clip_box(s[frame], width, height)
            if box_area(box) > 0:
                boxes.append(box)
        out.append(np.array(boxes, np.float64).reshape(-1, 4))
    return out


def track_boxes(
    table, track: int, frame_count: int, width: int, height: int, max_gap, extend: int
) -> np.ndarray:
    """`(F, 4)` one track's boxes, interpolated and clipped; NaN where it has none (or an empty
    one)."""
    rows = table[table["track"] == track]
    raw = track_series(
        rows["frame"].to_numpy(), rows[["x1", "y1", "x2", "y2"]].to_numpy(), frame_count
    )
    series = interpolate_series(raw, max_gap, extend)
    for frame in np.flatnonzero(~np.isnan(series).any(axis=1)):
        box = clip_box(series[frame], width, height)
        series[frame] = box if box_area(box) > 0 else np.nan
    return series


def _box_region(box: np.ndarray, margin: float | None, shape: tuple[int, int]) -> np.ndarray:
    region = np.zeros(shape, bool)
    grown = clip_box(context_box(box, margin or 0.0, square=False), shape[1], shape[0])
    x1, y1 = int(np.floor(grown[0])), int(np.floor(grown[1]))
    x2, y2 = int(np.ceil(grown[2])), int(np.ceil(grown[3]))
    region[y1:y2, x1:x2] = True
    return region


def object_masks(
    segmenter, embedding, frame: np.ndarray, boxes: np.ndarray, options: Mapping
) -> np.ndarray:
    """Union of the frame's object masks (each gated to its box, shadow-extended if asked).

    `options`: the complete config section `prompt.masks`.
    """
    shape = frame.shape[:2]
    union = np.zeros(shape, bool)
    if len(boxes) == 0:
        return union
    masks = segmenter.segment(embedding, boxes=boxes)

    def refine(box: np.ndarray, point: np.ndarray) -> np.ndarray:
        return segmenter.segment(
            embedding, boxes=box[None], points=point[None, None], labels=np.ones((1, 1))
        )[0]

    for box, mask in zip(boxes, masks, strict=True):
        union |= finish_mask(frame, mask, box, options, refine)
    return union


def _shadow_params(options: Mapping) -> ShadowParams:
    return ShadowParams(
        darkness=float(options["shadow_darkness"]),
        reach=float(options["shadow_reach"]),
        max_ratio=float(options["shadow_max_ratio"]),
    )


def finish_mask(
    frame: np.ndarray | None, mask: np.ndarray, box: np.ndarray | None, options: Mapping, refine
) -> np.ndarray:
    """One object's mask gated to its box (grown by `box_margin`), the box where the mask is
    empty (`fallback_box`), then extended with its shadow; without a box (SAM 2 following the
    object where the tracker has none) only the shadow applies. `frame` is needed for shadows."""
    shape = mask.shape
    if box is not None:
        if options["box_margin"] is not None:
            mask = mask & _box_region(box, options["box_margin"], shape)
        if options["fallback_box"] and not mask.any():
            mask = _box_region(box, 0.0, shape)
    if options["shadow"]:
        mask = extend_with_shadow(
            frame,
            mask,
            _shadow_params(options),
            refine if options["shadow_refine"] else None,
        )
    return mask


def distinct_rows(table, sources: list[int]):
    """The detections of the distinct frames, renumbered 0, 1, … in their order (so boxes are
    interpolated over the distinct frames, as for the clip without its repeats)."""
    distinct = computed(sources)
    position = {index: k for k, index in enumerate(distinct)}
    rows = table[table["frame"].isin(distinct)].copy()
    rows["frame"] = rows["frame"].map(position).astype(table["frame"].dtype)
    return rows


def _masks(
    sample: str,
    paths: list[Path],
    sources: list[int],
    boxes: list[np.ndarray],
    segmenter,
    batch: int,
    options: Mapping,
) -> Iterator[np.ndarray]:
    """Every frame's mask in order; `boxes[k]`: those of distinct frame k, the only frames SAM
    sees (a repeat's mask is its source's)."""
    distinct, repeats = computed(sources), repeats_of(sources)
    with tqdm(total=len(distinct), desc=f"{sample} masks", unit="frame") as progress:
        for start, stop in io.iter_chunks(len(distinct), max(1, batch)):
            frames = [io.read_rgb(paths[i]) for i in distinct[start:stop]]
            busy = [i for i in range(len(frames)) if len(boxes[start + i])]
            embeddings = dict(zip(busy, segmenter.embed([frames[i] for i in busy]), strict=True))
            for i, frame in enumerate(frames):
                if i in embeddings:
                    mask = object_masks(segmenter, embeddings[i], frame, boxes[start + i], options)
                else:
                    mask = np.zeros(frame.shape[:2], bool)
                for _ in range(1 + len(repeats[distinct[start + i]])):
                    yield mask
                progress.update(1)


def _sam2_masks(
    sample: str,
    paths: list[Path],
    sources: list[int],
    rows,
    chosen: list[int],
    size: tuple[int, int],
    video,
    sam2: Mapping,
    options: Mapping,
) -> Iterator[np.ndarray]:
    """Every frame's mask in order, from SAM 2 tracking the chosen tracks over the distinct
    frames (`rows`: their detections, renumbered); a repeat's mask is its source's."""
    from vanish.reprompt import RepromptOptions, track_objects, unpack

    distinct, repeats = computed(sources), repeats_of(sources)
    count, (height, width) = len(distinct), size
    raw = {t: track_boxes(rows, t, count, width, height, 0, 0) for t in chosen}
    gates = {
        t: track_boxes(rows, t, count, width, height, options["max_gap"], int(options["extend"]))
        for t in chosen
    }
    scores = {t: _confidences(rows, t, count, raw[t]) for t in chosen}
    state = video.session([paths[i] for i in distinct], io.read_rgb, size)
    result, prompted = track_objects(video, state, raw, scores, RepromptOptions.from_section(sam2))
    log.info("%s: SAM 2 prompts per track (frames) %s", sample, prompted)
    for k, index in enumerate(tqdm(distinct, desc=f"{sample} masks", unit="frame")):
        ids, masks = (result[k][0], unpack(result[k][1])) if k in result else ([], [])
        found = dict(zip(ids, masks, strict=True))
        frame = io.read_rgb(paths[index]) if options["shadow"] else None
        union = np.zeros(size, bool)
        for track in chosen:
            box = None if np.isnan(gates[track][k]).any() else gates[track][k]
            mask = found.get(track, np.zeros(size, bool))
            union |= finish_mask(frame, mask, box, options, None)
        for _ in range(1 + len(repeats[index])):
            yield union


def _confidences(rows, track: int, count: int, boxes: np.ndarray) -> np.ndarray:
    """`(F,)` the track's detection confidence, NaN where it has no (usable) box."""
    mine = rows[rows["track"] == track]
    scores = np.full(count, np.nan)
    frames = mine["frame"].to_numpy().astype(np.int64)
    inside = (frames >= 0) & (frames < count)
    scores[frames[inside]] = mine["confidence"].to_numpy()[inside]
    scores[np.isnan(boxes).any(axis=1)] = np.nan
    return scores


def masks_from_prompt(
    sample: str,
    frames_dir: str | Path,
    detections: str | Path,
    selection: str | Path,
    out_dir: str | Path,
    dilation: int,
    weights_path: str | Path | None,
    weights_sha256: str | None,
    device: str,
    segmenter: str,
    sam: Mapping,
    sam2: Mapping,
    batch: int,
    mask_options: Mapping,
    roi: Mapping | None,
) -> Path:
    """Write the mask stage folder of a prompt sample.

    `segmenter`: `sam` (per frame) or `sam2` (video propagation). `weights_path`/`weights_sha256`:
    that segmenter's weights file and its pin (loaded only when some track is selected). `sam`,
    `sam2`, `mask_options`: the complete config sections `prompt.sam`, `prompt.sam2` and
    `prompt.masks`; `batch`: frames per SAM image-encoder pass (`prompt.sam.batch`); `roi`:
    regions of interest (`vanish.masks.write_masks`; None: whole frames).
    """
    options = mask_options
    frames_dir = Path(frames_dir)
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    chosen = [int(t) for t in io.read_selection(selection).get("selected_tracks", [])]
    paths = io.list_images(io.original_frames_dir(frames_dir))
    sources = io.frame_repeats(frames_dir)
    with atomic_dir(out_dir) as tmp:
        if not chosen:
            log.info("%s: no selected object; empty masks (video passes through)", sample)
            empty = (np.zeros((meta.height, meta.width), bool) for _ in paths)
            write_masks(empty, meta, tmp, dilation, frame_sources=sources, roi=roi,
                        frames_dir=frames_dir)  # fmt: skip
            return Path(out_dir)
        from vanish.models.runtime import select_device

        if weights_path is None:
            raise ValueError(f"masks_from_prompt needs weights_path: the {segmenter} weights")
        table, _ = io.read_detections(detections)
        rows = distinct_rows(table, sources)
        if segmenter == "sam2":
            from vanish.models.sam2_video import Sam2Video

            video = Sam2Video(weights_path, weights_sha256, select_device(device), sam2["model"])
            size = (meta.height, meta.width)
            masks = _sam2_masks(sample, paths, sources, rows, chosen, size, video, sam2, options)
            summary = write_masks(masks, meta, tmp, dilation, frame_sources=sources, roi=roi,
                                  frames_dir=frames_dir)  # fmt: skip
            log.info("%s: tracks %s, mean hole coverage %.4f", sample, chosen, summary["coverage"])
            return Path(out_dir)
        from vanish.models.sam import SamSegmenter

        boxes = frame_boxes(
            rows,
            chosen,
            len(computed(sources)),
            meta.width,
            meta.height,
            options["max_gap"],
            int(options["extend"]),
        )
        sam_model = SamSegmenter(
            weights_path,
            weights_sha256,
            select_device(device),
            model=sam["model"],
            batch=int(batch),
        )
        summary = write_masks(
            _masks(sample, paths, sources, boxes, sam_model, batch, options),
            meta,
            tmp,
            dilation,
            frame_sources=sources,
            roi=roi,
            frames_dir=frames_dir,
        )
        log.info("%s: tracks %s, mean hole coverage %.4f", sample, chosen, summary["coverage"])
    return Path(out_dir)
