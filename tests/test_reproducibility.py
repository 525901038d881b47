"""Determinism (byte-identical results) and provenance records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from synthetic import (
    moving_box_masks,
    options,
    panning_clip,
    write_clip_folder,
    write_mask_folder,
)

from vanish import io
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.propagate import propagate
from vanish.stages.provenance import sha256_path, write_provenance


def classical_run(video: Path, masks: Path, work: Path) -> Path:
    frames = extract_frames("d", video, work / "frames", **options("frames"))
    mask_dir = masks_from_files("d", masks, frames, work / "masks", **options("masks_from_files"))
    flows = classical_flows(frames, mask_dir, work / "flows", **options("flows_classical"))
    completed = classical_complete(flows, mask_dir, work / "completed")
    prop = propagate(
        frames, mask_dir, completed, work / "prop", keyframes="", sample="d",
        **options("propagate"),
    )  # fmt: skip
    return classical_fill(
        frames, mask_dir, completed, prop, work / "inpainted", keyframes="",
        **options("fill_classical"),
    )  # fmt: skip


def folder_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_inputs_give_byte_identical_frames(tmp_path):
    video = write_clip_folder(tmp_path / "in", panning_clip(8, 64, 96))
    masks = write_mask_folder(tmp_path / "m", moving_box_masks(8, 64, 96))
    first = classical_run(video, masks, tmp_path / "run1")
    second = classical_run(video, masks, tmp_path / "run2")
    assert folder_digest(first) == folder_digest(second)


def test_empty_masks_pass_the_video_through_unchanged(tmp_path):
    frames = panning_clip(4, 48, 64)
    video = write_clip_folder(tmp_path / "in", frames)
    masks = write_mask_folder(tmp_path / "m", np.zeros((4, 48, 64), bool))
    out = classical_run(video, masks, tmp_path / "run")
    np.testing.assert_array_equal(io.read_frames(out), frames)


def test_folder_hash_depends_on_names_and_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"1")
    before = sha256_path(tmp_path / "a")
    (tmp_path / "a" / "x.png").write_bytes(b"2")
    assert sha256_path(tmp_path / "a") != before


def test_provenance_records_inputs_weights_versions_and_commit(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video")
    weight = tmp_path / "w.pth"
    weight.write_bytes(b"weights")
    out = write_provenance(
        "s",
        {"video": str(video), "ground_truth": ""},
        {"raft": str(weight)},
        output=tmp_path / "provenance.json",
        threads=1,
        **options("provenance"),
    )
    record = io.read_json(out)
    assert record["inputs"]["video"]["sha256"] == hashlib.sha256(b"video").hexdigest()
    assert "ground_truth" not in record["inputs"]
    assert record["weights"]["raft"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert record["packages"]["torch"].startswith("2.14.1")
    assert record["config"]["backend"] == "classical" and record["seed"] == 0
    assert record["workflow"]["commit"] is None or len(record["workflow"]["commit"]) == 40
    assert record["ffmpeg"].startswith("ffmpeg version")
