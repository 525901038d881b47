"""SAM 2 as the prompt path's segmenter: where it is prompted and re-prompted (pure logic, and a
mask-propagation stub where the semantics matter), the tiny random-weight model saved and
reloaded through the real loading path (shapes, frame order), its weights' errors, and the mask
stage with `segmenter: sam2` on a synthetic moving object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic import moving_box_masks, options, panning_clip, write_clip_folder

from vanish import io
from vanish.config import ConfigError, validate_config
from vanish.reprompt import (
    RepromptOptions,
    box_iou,
    disagreeing_frames,
    mask_box,
    seed_frames,
    track_objects,
    unpack,
)
from vanish.weights import (
    DOWNLOAD_COMMAND,
    REGISTRY,
    MissingWeightsError,
    WeightChecksumError,
    registry_names,
    sha256_file,
)

CPU = torch.device("cpu")
H, W, T = 48, 64, 8
SIZE = (12, 16)  # the object's (height, width)


pytestmark = pytest.mark.usefixtures("no_network")  # tests/conftest.py


def object_boxes(count: int = T, speed: int = 3) -> np.ndarray:
    """`(count, 4)` xyxy boxes of the moving object of `synthetic.moving_box_masks`."""
    return np.array([mask_box(m) for m in moving_box_masks(count, H, W, SIZE, speed)])


# ---- pure logic -------------------------------------------------------------------------------


def test_seeds_are_the_best_scored_frames_spread_over_the_track():
    scores = np.array([np.nan, 0.9, 0.95, 0.94, 0.5, 0.6, 0.8, np.nan, 0.7, 0.2])
    # span 9 (frames 1..9), 2 seeds: at least 9 // 4 = 2 frames apart, so 3 (0.94) is skipped
    assert seed_frames(scores, 2) == [2, 6]
    assert seed_frames(scores, 1) == [2]
    assert seed_frames(np.full(5, np.nan), 3) == []


def test_seed_ties_go_to_the_earlier_frame():
    assert seed_frames(np.array([0.5, 0.5, 0.5, 0.5]), 1) == [0]


def test_mask_box_and_iou():
    mask = np.zeros((10, 10), bool)
    mask[2:5, 3:7] = True
    assert mask_box(mask).tolist() == [3, 2, 7, 5]
    assert mask_box(np.zeros((4, 4), bool)) is None
    assert box_iou(np.array([0, 0, 4, 4.0]), np.array([2, 0, 6, 4.0])) == pytest.approx(8 / 24)
    assert box_iou(None, np.array([0, 0, 4, 4.0])) == 0.0


def test_each_run_of_disagreeing_frames_gives_its_worst_frame():
    ious = {0: 0.9, 1: 0.3, 2: 0.1, 3: 0.4, 4: 0.8, 5: 0.2, 6: 0.9, 8: 0.05}
    # runs below 0.5: [1, 2, 3] (worst 2), [5], [8] (8 is not adjacent to 6's run)
    assert disagreeing_frames(ious, 0.5, set(), limit=10) == [2, 5, 8]
    assert disagreeing_frames(ious, 0.5, set(), limit=2) == [2, 8]  # the two worst runs
    # 2 prompted already: it is not prompted again, and it splits its run in two
    assert disagreeing_frames(ious, 0.5, {2}, limit=10) == [1, 3, 5, 8]
    assert disagreeing_frames(ious, 0.05, set(), limit=10) == []


class StaleStub:
    """A mask-propagation stub: every frame gets the box mask of the nearest prompted frame of
    each object (the last prompt's mask, never moved), so a moving object drifts out of it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.prompts: dict[int, dict[int, np.ndarray]] = {}
        self.calls: list[tuple[int, bool]] = []

    def add_box(self, state, frame, obj, box):
        self.prompts.setdefault(obj, {})[frame] = np.asarray(box)

    def propagate(self, state, start, reverse):
        self.calls.append((start, reverse))
        # as SAM 2: both passes include the start frame; none goes backward from frame 0
        order = range(start, -1, -1) if reverse else range(start, self.count)
        ids = sorted(self.prompts)
        for frame in order if start or not reverse else []:
            masks = np.zeros((len(ids), H, W), bool)
            for i, obj in enumerate(ids):
                nearest = min(self.prompts[obj], key=lambda f: (abs(f - frame), f))
                x1, y1, x2, y2 = self.prompts[obj][nearest].astype(int)
                masks[i, y1:y2, x1:x2] = True
            yield frame, ids, masks


def stub_run(boxes: np.ndarray, scores: np.ndarray, rounds: int, limit: int = 8):
    stub = StaleStub(len(boxes))
    opts = RepromptOptions(seeds=1, reprompt_iou=0.5, reprompt_rounds=rounds, max_reprompts=limit)
    result, prompted = track_objects(stub, {}, {7: boxes}, {7: scores}, opts)
    return stub, result, prompted


def test_without_reprompts_a_stale_mask_drifts_off_the_moving_object():
    boxes, scores = object_boxes(), np.linspace(0.9, 0.2, T)  # best-scored: frame 0
    stub, result, prompted = stub_run(boxes, scores, rounds=0)
    assert prompted == {7: [0]} and stub.calls == [(0, False), (0, True)]
    ious = [box_iou(mask_box(unpack(result[f][1])[0]), boxes[f]) for f in range(T)]
    assert ious[0] == 1.0 and min(ious) < 0.5


def test_reprompts_from_the_tracker_box_where_mask_and_box_disagree():
    boxes, scores = object_boxes(), np.linspace(0.9, 0.2, T)
    stub, result, prompted = stub_run(boxes, scores, rounds=3)
    # width 16, 3 px a frame: IoU (16 - d) / (16 + d) is 13/19 one frame off, 10/22 two, 7/25
    # three, 0 from six on. Seed 0; round 1: the run 2..7 -> 6 (IoU 0, earlier than 7); round 2:
    # the run 2..4 (3 is three frames off 0 and 6) -> 3; round 3: nothing left to re-prompt.
    assert prompted == {7: [0, 6, 3]}
    assert stub.calls == [(0, False), (0, True)] * 3  # the seeds' pass and one per round
    for frame in range(T):
        mask = unpack(result[frame][1])[0]
        assert box_iou(mask_box(mask), boxes[frame]) >= 0.5


def test_the_reprompts_per_round_are_limited():
    boxes, scores = object_boxes(), np.linspace(0.9, 0.2, T)
    _, _, prompted = stub_run(boxes, scores, rounds=1, limit=1)
    assert prompted == {7: [0, 6]}


def test_frames_without_a_tracker_box_are_not_judged():
    boxes, scores = object_boxes(), np.linspace(0.9, 0.2, T)
    boxes[2:] = np.nan  # tracker lost the object after frame 1
    scores[2:] = np.nan
    _, result, prompted = stub_run(boxes, scores, rounds=2)
    assert prompted == {7: [0]} and sorted(result) == list(range(T))


def test_a_track_without_detections_is_not_prompted():
    stub = StaleStub(4)
    opts = RepromptOptions(seeds=2, reprompt_iou=0.5, reprompt_rounds=1, max_reprompts=2)
    empty = np.full((4, 4), np.nan)
    result, prompted = track_objects(stub, {}, {1: empty}, {1: np.full(4, np.nan)}, opts)
    assert (result, prompted, stub.calls) == ({}, {}, [])


# ---- the tiny random-weight model through the real loading path -------------------------------


@pytest.fixture(scope="module")
def tiny_sam2(tmp_path_factory) -> tuple[Path, str]:
    from vanish.testing.tiny import write_sam2

    path = write_sam2(tmp_path_factory.mktemp("sam2") / "tiny-sam2.pt")
    return path, sha256_file(path)


def test_the_checkpoint_has_the_published_layout(tiny_sam2):
    saved = torch.load(tiny_sam2[0], map_location="cpu", weights_only=True)
    assert (
        list(saved) == ["model"] and "image_encoder.trunk.patch_embed.proj.weight" in saved["model"]
    )


def test_tiny_model_propagates_forward_then_backward(tiny_sam2):
    from vanish.models.sam2_video import Sam2Video
    from vanish.testing.tiny import TINY_SAM2

    video = Sam2Video(*tiny_sam2, CPU, TINY_SAM2)
    frames = panning_clip(5, H, W, seed=4)
    state = video.session(list(range(5)), lambda i: frames[i], (H, W))
    boxes = object_boxes(5)
    video.add_box(state, 2, 11, boxes[2])
    video.add_box(state, 2, 4, boxes[2] + [0, 0, 8, 8])
    seen = [(f, ids, m.shape, m.dtype) for f, ids, m in video.propagate(state, 2, False)]
    assert seen == [(f, [11, 4], (2, H, W), np.bool_) for f in (2, 3, 4)]
    back = [f for f, _, _ in video.propagate(state, 2, True)]
    assert back == [2, 1, 0]


def test_tiny_model_reprompt_adds_a_conditioning_frame(tiny_sam2):
    from vanish.models.sam2_video import Sam2Video
    from vanish.testing.tiny import TINY_SAM2

    video = Sam2Video(*tiny_sam2, CPU, TINY_SAM2)
    frames = panning_clip(4, H, W, seed=5)
    state = video.session(list(range(4)), lambda i: frames[i], (H, W))
    video.add_box(state, 0, 1, object_boxes(4)[0])
    list(video.propagate(state, 0, False))
    video.add_box(state, 3, 1, object_boxes(4)[3])  # a correction on a tracked frame
    list(video.propagate(state, 0, False))
    assert sorted(state["output_dict_per_obj"][0]["cond_frame_outputs"]) == [0, 3]


def test_missing_sam2_weights_name_the_file_and_the_fix(tmp_path):
    from vanish.models.sam2_video import Sam2Video

    missing = tmp_path / "sam2.1_hiera_large.pt"
    with pytest.raises(MissingWeightsError) as info:
        Sam2Video(missing, REGISTRY["sam2.1_hiera_large"].sha256, CPU, "hiera_l")
    message = str(info.value)
    assert "'sam2' (sam2.1_hiera_large)" in message and str(missing) in message
    assert DOWNLOAD_COMMAND in message and REGISTRY["sam2.1_hiera_large"].url in message


def test_tampered_sam2_weights_are_refused(tiny_sam2, tmp_path):
    from vanish.models.sam2_video import Sam2Video
    from vanish.testing.tiny import TINY_SAM2

    path, digest = tiny_sam2
    tampered = tmp_path / "tampered.pt"
    tampered.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(WeightChecksumError, match="mismatch") as info:
        Sam2Video(tampered, digest, CPU, TINY_SAM2)
    assert str(tampered) in str(info.value) and digest in str(info.value)


def test_registry_pins_the_published_sam2_files():
    names = registry_names("sam2")
    assert names == [
        "sam2.1_hiera_large",
        "sam2.1_hiera_base_plus",
        "sam2.1_hiera_small",
        "sam2.1_hiera_tiny",
    ]
    large = REGISTRY["sam2.1_hiera_large"]
    assert large.url == (
        "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_large.pt"
    )
    assert large.sha256 == "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318"
    assert {REGISTRY[n].metadata["arch"] for n in names} == {
        "hiera_l",
        "hiera_b+",
        "hiera_s",
        "hiera_t",
    }


def test_published_architectures_fit_their_configs():
    """Hiera-T, built from the packaged YAML, has the published trunk (96 channels)."""
    from vanish.models.sam2_video import build_sam2

    model = build_sam2("hiera_t")
    assert model.image_encoder.trunk.patch_embed.proj.weight.shape[0] == 96
    assert model.image_size == 1024 and model.add_all_frames_to_correct_as_cond


def test_sam2_model_and_weights_must_match():
    with pytest.raises(ConfigError, match="sam2.1_hiera_tiny"):
        validate_config({"prompt": {"sam2": {"model": "hiera_t"}}})


# ---- the mask stage with segmenter sam2 --------------------------------------------------------


def write_prompt_sample(root: Path, repeat: bool = False) -> dict:
    """A clip of a moving object, its frames stage, one tracked detection per frame."""
    from vanish.stages.frames import extract_frames

    frames = panning_clip(T, H, W, seed=6)
    boxes = object_boxes()
    for frame, mask in zip(frames, moving_box_masks(T, H, W, SIZE), strict=True):
        frame[mask] = (230, 40, 40)
    if repeat:
        frames = np.concatenate([frames[:3], frames[2:3], frames[3:]])
        boxes = np.concatenate([boxes[:3], boxes[2:3], boxes[3:]])
    video = write_clip_folder(root / "video", frames)
    extract_frames("p", video, root / "frames", **options("frames"))
    table = pd.DataFrame(
        {
            "frame": np.arange(len(boxes)),
            "track": 3,
            "class": "person",
            "class_id": 0,
            "confidence": np.linspace(0.9, 0.5, len(boxes)),
            "x1": boxes[:, 0],
            "y1": boxes[:, 1],
            "x2": boxes[:, 2],
            "y2": boxes[:, 3],
        }
    )
    io.write_detections(root / "detections.parquet", table, {"detector": "yolo"})
    io.write_json(root / "selection.json", {"outcome": "selected", "selected_tracks": [3]})
    return {"frames": root / "frames", "count": len(boxes)}


def sam2_masks(root: Path, tiny_sam2, sample: dict, **changes) -> Path:
    from vanish.stages.prompt_masks import masks_from_prompt
    from vanish.testing.tiny import TINY_SAM2

    return masks_from_prompt(
        "p",
        sample["frames"],
        root / "detections.parquet",
        root / "selection.json",
        root / "masks",
        weights_path=tiny_sam2[0],
        weights_sha256=tiny_sam2[1],
        **options(
            "masks_from_prompt",
            device="cpu",
            segmenter="sam2",
            sam2={"model": TINY_SAM2, "seeds": 2, "reprompt_rounds": 1},
            **changes,
        ),
    )


def test_the_sam2_stage_writes_the_mask_folder(tiny_sam2, tmp_path):
    sample = write_prompt_sample(tmp_path)
    out = sam2_masks(tmp_path, tiny_sam2, sample)
    full = io.read_masks(io.full_masks_dir(out))
    assert full.shape == (T, H, W)
    summary = io.read_json(out / "summary.json")
    assert (
        summary["empty"] is False
        and summary["dilation"] == options("masks_from_prompt")["dilation"]
    )
    # gated to the tracker's box (x 4..20 on frame 0) grown by box_margin, then dilated
    assert not full[0][:, 40:].any()


def test_the_sam2_stage_gives_a_repeat_its_source_mask(tiny_sam2, tmp_path):
    sample = write_prompt_sample(tmp_path, repeat=True)
    out = sam2_masks(tmp_path, tiny_sam2, sample)
    full = io.read_masks(io.full_masks_dir(out))
    assert full.shape == (T + 1, H, W) and (full[3] == full[2]).all()
