"""prompt.detector sam3: a tiny random SAM 3 saved in Hugging Face layout and reloaded through
the real loading code (pinned sha256, local files only, no network), the one stage that turns
the prompt into masks and selection.json, its place in the stage table, and the weights errors.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import options, panning_clip, write_clip_folder

from vanish import io, plan, table
from vanish.config import default_config
from vanish.pipeline import import_function
from vanish.stages.frames import extract_frames
from vanish.testing.tiny import TINY_SAM3_SIZE, pinned, write_sam3
from vanish.weights import MissingWeightsError, WeightChecksumError, sha256_file

CPU = torch.device("cpu")
ROW = {"video": "in/v.mp4", "masks": "", "prompt": "a person and a dog", "ground_truth": ""}


pytestmark = pytest.mark.usefixtures("no_network")  # tests/conftest.py


@pytest.fixture(scope="module")
def sam3(tmp_path_factory) -> dict[str, str]:
    """The tiny SAM 3 folder's `weights:` entry (path, sha256 of model.safetensors)."""
    folder = write_sam3(tmp_path_factory.mktemp("sam3") / "tiny-sam3")
    return pinned(folder, folder / "model.safetensors")


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory) -> Path:
    """A 3-frame 40x56 clip decoded by the frames stage (input size kept)."""
    root = tmp_path_factory.mktemp("clip")
    video = write_clip_folder(root / "video", panning_clip(3, 40, 56, seed=4))
    extract_frames("s1", video, root / "frames", **options("frames"))
    return root / "frames"


def concept_options(**changes) -> dict:
    return options("masks_from_concepts", device="cpu", batch=2, **changes)


def test_tiny_sam3_reloads_offline_and_tracks_instances(sam3):
    from vanish.models.sam3 import Sam3Video

    model = Sam3Video(sam3["path"], sam3["sha256"], CPU)
    assert model.model.config.detector_config.image_size == TINY_SAM3_SIZE
    frames = list(panning_clip(2, 40, 56, seed=1))
    out = list(model.track([frames], ["a person", "a dog"]))
    assert len(out) == 2
    first = out[0]
    assert len(first.ids) > 0 and first.masks.shape == (len(first.ids), 40, 56)
    assert set(first.phrases.tolist()) == {0, 1}
    assert ((first.scores > 0) & (first.scores <= 1)).all()


def test_stage_writes_masks_and_explains_the_selection(sam3, frames_dir, tmp_path):
    from vanish.stages.concept_masks import masks_from_concepts

    out, selection = tmp_path / "masks", tmp_path / "selection.json"
    record = masks_from_concepts(
        "s1", frames_dir, out, selection, "a person and a dog",
        weights_path=sam3["path"], weights_sha256=sam3["sha256"], **concept_options(),
    )  # fmt: skip
    meta = io.read_clip_meta(io.clip_meta_path(frames_dir))
    written = io.list_images(out / "proc")
    assert len(written) == meta.frame_count == 3
    assert io.read_mask(written[0]).shape == (meta.proc_height, meta.proc_width)
    assert io.read_json(selection) == record
    assert record["detector"] == "sam3" and record["outcome"] == "selected"
    # a plain phrase keeps exactly its best-scoring instance
    for entry in record["per_phrase"]:
        assert len(entry["tracks"]) == 1 and entry["tracks"][0] == entry["best_track"]
    kept = [t for t in record["tracks"] if t["selected"]]
    assert len(kept) == 2 and len(record["tracks"]) > 2  # the others are listed, not kept
    assert all(0 < t["scores"][t["phrase"]] <= 1 for t in kept)
    assert not io.read_json(out / "summary.json")["empty"]


def test_an_unreachable_threshold_passes_the_video_through(sam3, frames_dir, tmp_path):
    from vanish.stages.concept_masks import masks_from_concepts

    record = masks_from_concepts(
        "s1", frames_dir, tmp_path / "masks", tmp_path / "selection.json", "a person",
        weights_path=sam3["path"], weights_sha256=sam3["sha256"],
        **concept_options(sam3={"threshold": 1.0}),
    )  # fmt: skip
    assert record["outcome"] == "no_match" and record["passthrough"] is True
    assert "threshold 1" in record["reason"]
    assert io.read_json(tmp_path / "masks" / "summary.json")["empty"] is True


def test_every_instance_keeps_all_above_the_threshold_and_a_plain_phrase_one():
    """The stage's selection: SAM 3 instances carry no detector class, so `all:` keeps every
    instance scoring at least the threshold and a plain phrase its best one."""
    from vanish.selection import parse_prompt, select

    scores = {1: np.array([0.9]), 2: np.array([0.6]), 3: np.array([0.3])}
    for prompt, kept in (("all: person", [1, 2]), ("person", [1])):
        parsed = parse_prompt(prompt)
        chosen = select(list(parsed.phrases), scores, None, 0.5, 1, link=False, every=parsed.every)
        assert sorted(chosen.tracks) == kept


def test_relations_are_reported_as_beyond_the_model():
    from vanish.stages.concept_masks import RELATIONS

    assert RELATIONS.search("the person on the left")
    assert not RELATIONS.search("a red car")


def test_missing_sam3_weights_name_the_folder_and_the_gated_licence(tmp_path):
    from vanish.models.sam3 import Sam3Video

    missing = tmp_path / "sam3"
    with pytest.raises(MissingWeightsError) as info:
        Sam3Video(missing, None, CPU)
    message = str(info.value)
    assert "'sam3'" in message and str(missing / "config.json") in message
    assert "gated" in message and "huggingface.co/facebook/sam3" in message
    assert f"weights: {{sam3: {{path: {missing}, sha256:" in message


def test_tampered_or_unpinned_sam3_weights_are_refused(sam3, tmp_path):
    from vanish.models.sam3 import Sam3Video

    copy = Path(shutil.copytree(sam3["path"], tmp_path / "copy"))
    with pytest.raises(WeightChecksumError, match="no sha256 pinned") as info:
        Sam3Video(copy, None, CPU)
    assert sam3["sha256"] in str(info.value)  # the actual hash, to pin after checking it
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightChecksumError, match="mismatch") as info:
        Sam3Video(copy, sam3["sha256"], CPU)
    assert sha256_file(copy / "model.safetensors") in str(info.value)
    assert "gated" in str(info.value)


def test_a_sam3_sample_runs_one_mask_stage_instead_of_detect_select_sam():
    config = default_config()
    config["prompt"]["detector"] = "sam3"
    sample = plan.Sample("s1", ROW, "results", "classical", "sam3")
    assert sample.masks == table.CONCEPT
    names = [entry["name"] for entry in plan.video_calls(config, sample)]
    assert "masks_from_concepts" in names
    assert not {"detect", "select", "masks_from_prompt"} & set(names)
    assert plan.used_weights(config, sample) == {"sam3": "resources/weights/sam3"}
    calls = {entry["name"]: entry["call"] for entry in plan.video_calls(config, sample)}
    assert calls["metrics"]["selection"] == "results/s1/selection.json"
    call = calls["masks_from_concepts"]
    parameters = inspect.signature(import_function(table.BY_NAME["masks_from_concepts"].function))
    assert set(call) <= set(parameters.parameters)
    # the other detectors keep their three stages
    assert plan.Sample("s1", ROW, "results", "classical", "yolo").masks == table.PROMPT


def test_every_sample_kind_declares_the_same_shared_outputs():
    shared = table.shared_outputs("classical")
    assert "masks" in shared and "selection" not in shared
    assert set(shared) <= set(table.produced("classical", table.CONCEPT))
    assert np.array_equal(  # the concept stage writes the prompt path's files, same names
        sorted(table.produced("classical", table.CONCEPT)),
        sorted(n for n in table.produced("classical", table.PROMPT) if n != "detections"),
    )


def test_local_nms_keeps_the_best_of_overlapping_detections():
    from vanish.models.sam3 import LocalCvUtils

    ious = torch.tensor([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 1.0]])
    kept = LocalCvUtils.generic_nms(ious, torch.tensor([0.7, 0.9, 0.5]), 0.1)
    assert kept.tolist() == [1, 2]


def test_local_connected_components_give_each_pixel_its_component_area():
    from vanish.models.sam3 import LocalCvUtils

    mask = torch.zeros(1, 1, 6, 6, dtype=torch.uint8)
    mask[0, 0, :2, :2] = 1  # 4 pixels
    mask[0, 0, 4:, 3:] = 1  # 6 pixels
    labels, counts = LocalCvUtils.cc_2d(mask)
    assert counts[0, 0, 0, 0] == 4 and counts[0, 0, 5, 5] == 6 and counts[0, 0, 3, 0] == 0
    assert labels[0, 0, 0, 0] != labels[0, 0, 5, 5]
