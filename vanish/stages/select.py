"""Stage `select`: which tracks the prompt names → `selection.json`.

open_clip embeds crops of every track (`frames_per_track` frames spread over the track, each box
grown by `margin` of context and made square) and the prompt's phrases; each track's per-crop
cosine similarities are aggregated into one score per phrase and `vanish.selection` chooses.

`selection.json` records every track's score per phrase and `why` it was kept or not (so a user
can see why a track was or was not chosen), the chosen tracks per phrase (with `every_instance`
for `all:` phrases, which keep every track of their class, `vanish.selection.every_instance`)
and the outcome: `outcome` is `selected`, `partial` or
`no_match`; with `no_match` and the `passthrough` policy the masks are empty and the video passes
through unchanged; with the `fail` policy an unmatched phrase fails the sample.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from vanish import io
from vanish.boxes import context_box, crop
from vanish.errors import InputError
from vanish.selection import (
    TrackInfo,
    aggregate,
    apply_policy,
    evenly_spaced,
    parse_prompt,
    report,
    select,
)

log = logging.getLogger("vanish")


def track_infos(table: pd.DataFrame) -> dict[int, TrackInfo]:
    """Frames, end boxes, label and mean confidence of every track in a detections table."""
    infos = {}
    for track, rows in table.sort_values("frame").groupby("track", sort=True):
        boxes = rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)
        labels = rows["class"].astype(str)
        infos[int(track)] = TrackInfo(
            int(track),
            rows["frame"].to_numpy(np.int64),
            boxes[0],
            boxes[-1],
            str(labels.mode().iloc[0]),
            float(rows["confidence"].mean()),
        )
    return infos


def sample_crops(
    table: pd.DataFrame,
    tracks: list[int],
    frames_dir: Path,
    per_track: int,
    margin: float,
) -> tuple[list[np.ndarray], list[int]]:
    """Context crops of `per_track` frames of each track, and the track of each crop."""
    wanted: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for track in tracks:
        rows = table[table["track"] == track].sort_values("frame")
        for _, row in evenly_spaced(list(rows.iterrows()), per_track):
            box = np.array([row.x1, row.y1, row.x2, row.y2], np.float64)
            wanted[int(row.frame)].append((track, box))
    paths = io.list_images(frames_dir)
    crops, owners = [], []
    for frame in tqdm(sorted(wanted), desc="select crops", unit="frame"):
        image = io.read_rgb(paths[frame])
        fill = tuple(int(v) for v in image.reshape(-1, 3).mean(0))
        for track, box in wanted[frame]:
            patch = crop(image, context_box(box, margin), fill=0)
            if patch.size == 0:
                continue
            outside = crop(np.ones(image.shape[:2], bool), context_box(box, margin), fill=0)
            patch[~outside] = fill
            crops.append(patch)
            owners.append(track)
    return crops, owners


def score_tracks(
    crops_by_track: Mapping[int, np.ndarray], text: np.ndarray, method: str
) -> dict[int, np.ndarray]:
    """Aggregated phrase scores per track from unit image embeddings `(crops, dim)` per track."""
    return {
        track: aggregate(embeddings @ text.T, method)
        for track, embeddings in crops_by_track.items()
        if len(embeddings)
    }


def select_objects(
    sample: str,
    frames_dir: str | Path,
    detections: str | Path,
    out_path: str | Path,
    prompt: str,
    weights_path: str | Path | None,
    weights_sha256: str | None,
    device: str,
    clip: Mapping,
    select_options: Mapping,
) -> dict:
    """Score every track against the prompt, choose, apply the no-match policy, write JSON.

    `weights_path`/`weights_sha256`: the open_clip weights file and its pin (loaded only when
    some track is long enough to score). `clip`, `select_options`: the complete config sections
    `prompt.clip` and `prompt.select`.
    """
    options = select_options
    parsed = parse_prompt(prompt)  # the sheet was validated: a malformed prompt never gets here
    phrases = list(parsed.phrases)
    if not phrases:
        raise InputError(
            sample, detections, "the prompt is empty", "name the object(s) in the 'prompt' column"
        )
    table, meta = io.read_detections(detections)
    infos = track_infos(table)
    short = sorted(t for t, i in infos.items() if len(i.frames) < options["min_track_frames"])
    candidates = sorted(t for t in infos if t not in short)
    scores: dict[int, np.ndarray] = {}
    if candidates:
        from vanish.models.clip import ClipScorer
        from vanish.models.runtime import select_device

        if weights_path is None:
            raise ValueError("select_objects needs weights_path: the open_clip weights")
        scorer = ClipScorer(
            str(clip["model"]),
            weights_path,
            weights_sha256,
            select_device(device),
            templates=clip["templates"],
            batch=int(clip["batch"]),
        )
        crops, owners = sample_crops(
            table,
            candidates,
            io.original_frames_dir(frames_dir),
            int(options["frames_per_track"]),
            float(options["margin"]),
        )
        text = scorer.encode_text(phrases)
        images = scorer.encode_images(crops)
        by_track = {t: images[[i for i, o in enumerate(owners) if o == t]] for t in candidates}
        scores = score_tracks(by_track, text, options["aggregate"])
    selection = select(
        phrases,
        scores,
        infos,
        threshold=float(options["threshold"]),
        top_k=int(options["top_k"]),
        link=bool(options["link_fragments"]),
        every=parsed.every,
    )
    record = report(selection, infos, options["no_match"])
    record.update(
        sample=sample,
        prompt=prompt,
        detector=meta.get("detector"),
        clip_model=clip["model"],
        frames_per_track=int(options["frames_per_track"]),
        margin=float(options["margin"]),
        aggregate=options["aggregate"],
        min_track_frames=int(options["min_track_frames"]),
        short_tracks=[int(t) for t in short],
    )
    log.info(
        "%s: prompt %r -> outcome %s, tracks %s (%s)",
        sample,
        prompt,
        record["outcome"],
        record["selected_tracks"],
        record["reason"] or "ok",
    )
    apply_policy(selection, options["no_match"], sample, prompt)
    io.write_selection(out_path, record)
    return record
