"""The prompt models, tiny and random, built from configs, saved and reloaded through the real
loading code (pinned sha256, safe unpickling, no network), and each prompt stage's files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import (
    moving_box_masks,
    options,
    panning_clip,
    write_clip_folder,
    write_mask_folder,
)

from vanish import io
from vanish.models.runtime import OFFLINE_ENV
from vanish.stages.detect import detect_objects
from vanish.stages.frames import extract_frames
from vanish.stages.masks import masks_from_files
from vanish.stages.prompt_masks import masks_from_prompt
from vanish.stages.select import select_objects
from vanish.testing.tiny import write_tiny_models
from vanish.weights import (
    DOWNLOAD_COMMAND,
    MissingWeightsError,
    WeightChecksumError,
    WeightsError,
    sha256_file,
)

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("no_network")  # tests/conftest.py


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """Tiny random-weight models on disk and the `prompt:` config section that loads them."""
    folder = tmp_path_factory.mktemp("tiny-models")
    os.environ["YOLO_CONFIG_DIR"] = str(folder / "ultralytics")
    return write_tiny_models(folder)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> dict:
    """A 6-frame 64x96 clip with moving-box masks, decoded at a smaller processing size."""
    root = tmp_path_factory.mktemp("clip")
    frames = panning_clip(6, 64, 96, seed=3)
    masks = moving_box_masks(6, 64, 96)
    video = write_clip_folder(root / "video", frames)
    mask_dir = write_mask_folder(root / "masks_in", masks)
    extract_frames("s1", video, root / "frames", **options("frames", max_side=48))
    return {"root": root, "frames": root / "frames", "mask_dir": mask_dir, "video": frames}


def pinned(tiny: dict, role: str) -> tuple[str, str]:
    """A tiny model's `weights_path` and `weights_sha256`, as the workflow passes them."""
    entry = tiny["weights"][role]
    return entry["path"], entry["sha256"]


def test_offline_environment_is_set(tiny):
    for key in ("YOLO_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        assert os.environ.get(key) == OFFLINE_ENV[key]
    assert os.environ["ULTRALYTICS_SAFE_LOAD"] == "1"
    fonts = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    assert not fonts.exists() or (fonts / "Arial.ttf").is_file()


def test_yolo_tracks_keep_their_ids(tiny):
    from vanish.models.detector import YoloTracker

    tracker = YoloTracker(*pinned(tiny, "yolo"), CPU, imgsz=160, max_det=3)
    frames = list(panning_clip(5, 64, 96))
    per_frame = tracker.track(frames[:3]) + tracker.track(frames[3:])  # two batches, one video
    assert len(per_frame) == 5
    assert all(rows.shape[1] == 7 for rows in per_frame)
    ids = [set(rows[:, 4].astype(int)) for rows in per_frame]
    assert ids[0] and ids[0] & ids[-1]  # the same objects keep their ids across batches
    boxes = np.concatenate(per_frame)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 96).all()
    fonts = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    assert (fonts / "Arial.ttf").is_file()  # ultralytics never needs to fetch its font


def test_grounding_dino_detects_the_phrases_and_tracks(tiny):
    from vanish.models.detector import GroundingDinoTracker

    tracker = GroundingDinoTracker(
        *pinned(tiny, "grounding_dino"),
        ["a dog", "red car"],
        CPU,
        box_threshold=0.0,
        text_threshold=0.0,
        max_det=4,
    )
    assert tracker.spans == [[1, 2], [4, 5]]  # "[CLS] a dog . red car . [SEP]"
    frames = [panning_clip(1, 64, 96, seed=1)[0]] * 3  # a still scene
    raw = tracker.detect(frames[:1])[0]
    assert raw.shape[1] == 6 and set(raw[:, 5].astype(int)) <= {0, 1}
    tracked = tracker.track(frames)
    assert tracked[-1].shape[1] == 7 and len(tracked[-1])


def test_phrase_spans_keep_unknown_words():
    from vanish.models.detector import caption, phrase_spans

    assert caption(["A Zebra", "St. Bernard"]) == "a zebra . st  bernard ."
    # [CLS] a [UNK] . [UNK] [UNK] . [SEP] [PAD]: unknown words still belong to their phrase
    ids = [2, 6, 1, 5, 1, 1, 5, 3, 0]
    assert phrase_spans(ids, separator=5, special={0, 2, 3}) == [[1, 2], [4, 5]]


def test_clip_embeddings(tiny):
    from vanish.models.clip import ClipScorer

    scorer = ClipScorer(tiny["clip"]["model"], *pinned(tiny, "clip"), CPU, batch=2)
    text = scorer.encode_text(["a dog", "a car"])
    images = scorer.encode_images(list(panning_clip(3, 40, 30)))
    assert text.shape == (2, 32) and images.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)


def test_sam_batches_like_single_frames(tiny):
    from vanish.models.sam import SamSegmenter

    sam = SamSegmenter(*pinned(tiny, "sam"), CPU, model=tiny["sam"]["model"], batch=2)
    frames = list(panning_clip(3, 48, 64))
    batched = sam.embed(frames)
    single = sam.embed(frames[2:])[0]
    torch.testing.assert_close(batched[2].features, single.features, atol=1e-4, rtol=1e-4)
    masks = sam.segment(batched[0], boxes=np.array([[4, 4, 30, 30], [20, 10, 60, 40]]))
    assert masks.shape == (2, 48, 64) and masks.dtype == bool
    with_point = sam.segment(
        batched[0],
        boxes=np.array([[4, 4, 30, 30]]),
        points=np.array([[[10, 10]]]),
        labels=np.ones((1, 1)),
    )
    assert with_point.shape == (1, 48, 64)


def test_missing_and_unpinned_weights_are_clear(tiny, tmp_path):
    """The prompt models fail like every other network: role, file, expected path, the fix."""
    from vanish.models.clip import ClipScorer
    from vanish.models.detector import GroundingDinoTracker
    from vanish.models.sam import SamSegmenter

    model = tiny["sam"]["model"]
    missing = tmp_path / "nope.pth"
    with pytest.raises(MissingWeightsError) as info:
        SamSegmenter(missing, "0" * 64, CPU, model=model)
    message = str(info.value)
    assert "'sam'" in message and str(missing) in message and DOWNLOAD_COMMAND in message
    sam_path, sam_sha = pinned(tiny, "sam")
    with pytest.raises(WeightChecksumError, match=sam_sha) as info:
        SamSegmenter(sam_path, None, CPU, model=model)
    assert f"weights: {{sam: {{path: {sam_path}, sha256: {sam_sha}}}}}" in str(info.value)
    clip_path, clip_sha = pinned(tiny, "clip")
    with pytest.raises(WeightChecksumError, match="mismatch") as info:
        ClipScorer(tiny["clip"]["model"], clip_path, "1" * 64, CPU)
    assert "1" * 64 in str(info.value) and clip_sha in str(info.value)
    gd_path, gd_sha = pinned(tiny, "grounding_dino")
    with pytest.raises(MissingWeightsError, match=r"'grounding_dino'.*no-folder/config\.json"):
        GroundingDinoTracker(tmp_path / "no-folder", gd_sha, ["a dog"], CPU)
    with pytest.raises(WeightChecksumError, match="grounding_dino"):
        GroundingDinoTracker(gd_path, "2" * 64, ["a dog"], CPU)


class Payload:
    """An object whose unpickling would run a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["yolo", "sam", "sam2", "clip"])
def test_a_checkpoint_carrying_code_is_refused_not_run(tiny, tmp_path, name):
    from vanish.models.clip import ClipScorer
    from vanish.models.detector import YoloTracker
    from vanish.models.sam import SamSegmenter
    from vanish.models.sam2_video import Sam2Video

    marker = tmp_path / "executed"
    path = tmp_path / f"evil-{name}.pt"
    torch.save({"model": Payload(marker), "state_dict": Payload(marker)}, path)
    evil = (path, sha256_file(path))
    load = {
        "yolo": lambda: YoloTracker(*evil, CPU),
        "sam": lambda: SamSegmenter(*evil, CPU, model=tiny["sam"]["model"]),
        "sam2": lambda: Sam2Video(*evil, CPU, tiny["sam2"]["model"]),
        "clip": lambda: ClipScorer(tiny["clip"]["model"], *evil, CPU),
    }[name]
    with pytest.raises(WeightsError):
        load()
    assert not marker.exists()


def test_stage_files(tiny, clip_dir, tmp_path):
    """detect → select → masks_from_prompt on a resized clip: well-formed files, and the mask
    folder laid out exactly as masks_from_files lays it out."""
    detections = detect_objects(
        "s1",
        clip_dir["frames"],
        tmp_path / "detections.parquet",
        prompt="a person",
        weights_path=tiny["weights"]["yolo"]["path"],
        weights_sha256=tiny["weights"]["yolo"]["sha256"],
        **options(
            "detect",
            detector="yolo",
            device="cpu",
            batch=4,
            yolo={"imgsz": 160, "max_det": 3},
            ultralytics_dir=os.environ["YOLO_CONFIG_DIR"],
        ),
    )
    table, meta = io.read_detections(detections)
    assert list(table.columns) == list(io.DETECTION_COLUMNS)
    assert {str(t) for t in table.dtypes} >= {"int32", "float32"}
    assert table["frame"].between(0, 5).all() and len(table)
    assert meta["width"] == 96 and meta["height"] == 64 and meta["frame_count"] == 6
    assert (table["x2"] <= 96).all() and (table["y2"] <= 64).all()  # input-size pixels

    record = select_objects(
        "s1",
        clip_dir["frames"],
        detections,
        tmp_path / "selection.json",
        "a person; a dog",
        weights_path=tiny["weights"]["clip"]["path"],
        weights_sha256=tiny["weights"]["clip"]["sha256"],
        **options(
            "select",
            device="cpu",
            clip=tiny["clip"],
            select_options={"threshold": -1.0, "min_track_frames": 2, "frames_per_track": 3},
        ),
    )
    saved = io.read_json(tmp_path / "selection.json")
    assert saved["outcome"] == "selected" and len(saved["selected_tracks"]) >= 2
    assert saved["phrases"] == ["a person", "a dog"]
    scored = [t for t in saved["tracks"] if t["track"] not in saved["short_tracks"]]
    assert all(set(t["scores"]) == {"a person", "a dog"} for t in scored)
    assert record == saved

    out = masks_from_prompt(
        "s1",
        clip_dir["frames"],
        detections,
        tmp_path / "selection.json",
        tmp_path / "masks",
        weights_path=tiny["weights"]["sam"]["path"],
        weights_sha256=tiny["weights"]["sam"]["sha256"],
        **options(
            "masks_from_prompt",
            dilation=2,
            device="cpu",
            segmenter="sam",
            sam=tiny["sam"],
            batch=4,
            mask_options={"shadow": True},
        ),
    )
    reference = masks_from_files(
        "s1",
        clip_dir["mask_dir"],
        clip_dir["frames"],
        tmp_path / "ref",
        **options("masks_from_files"),
    )
    layout = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert layout == sorted(str(p.relative_to(reference)) for p in reference.rglob("*"))
    assert io.read_masks(out / "full").shape == (6, 64, 96)
    assert io.read_masks(out / "proc").shape == (6, 32, 48)
    summary = io.read_json(out / "summary.json")
    assert summary["empty"] is False and summary["dilation"] == 2


def test_no_match_gives_empty_masks_without_loading_sam(clip_dir, tmp_path):
    io.write_json(tmp_path / "selection.json", {"outcome": "no_match", "selected_tracks": []})
    out = masks_from_prompt(
        "s1",
        clip_dir["frames"],
        tmp_path / "unused.parquet",
        tmp_path / "selection.json",
        tmp_path / "masks",
        weights_path=tmp_path / "absent.pth",
        weights_sha256=None,
        **options("masks_from_prompt"),
    )
    assert not io.read_masks(out / "proc").any() and not io.read_masks(out / "full").any()
    assert io.read_json(out / "summary.json")["empty"] is True
