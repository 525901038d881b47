"""Repeated frames (docs/architecture.md, Repeated frames): runs are found by pixels and mask,
every stage computes the distinct frames only, and a clip with every frame doubled gives the
lossless results of the clip without doubles, each frame twice, byte for byte."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic import moving_box_masks, options, panning_clip, write_clip_folder, write_mask_folder

from vanish import io, plan
from vanish.config import default_config
from vanish.media import open_clip
from vanish.pipeline import run_video
from vanish.repeats import MaskRuns, PixelRuns, block_means, computed, repeats_of
from vanish.stages.frames import extract_frames
from vanish.stages.metrics import compute_metrics
from vanish.weights import sha256_file


def pixel_sources(frames: list[np.ndarray], reuse: bool = True, tolerance: float = 0.0) -> list:
    runs = PixelRuns(reuse, tolerance)
    for frame in frames:
        runs.add(frame)
    return runs.sources


def test_exact_repeats_point_to_the_first_frame_of_their_run() -> None:
    a, b = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 7, np.uint8)
    assert pixel_sources([a, a, b, b, b, a]) == [0, 0, 2, 2, 2, 5]


def test_a_one_level_change_breaks_a_run_at_tolerance_zero() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[3, 3, 1] = 1
    assert pixel_sources([a, b, b]) == [0, 1, 1]


def test_reuse_off_computes_every_frame() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    assert pixel_sources([a, a, a], reuse=False) == [0, 1, 2]


def test_a_static_clip_keeps_a_pair_of_computed_frames() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    assert pixel_sources([a] * 5) == [0, 0, 0, 0, 4]


def test_tolerance_compares_block_means_with_the_runs_first_frame() -> None:
    base = np.full((16, 16, 3), 100, np.uint8)
    drift = [base + np.uint8(step) for step in (0, 1, 2, 3)]  # 1 level more each frame
    # every step is within γ = 2 of its predecessor, but frame 3 is 3 from the run's first
    assert pixel_sources(drift, tolerance=2.0) == [0, 0, 0, 3]


def test_tolerance_sees_a_change_confined_to_one_block() -> None:
    base = np.full((16, 16, 3), 100, np.uint8)
    spot = base.copy()
    spot[:8, :8] += 5  # one 8x8 block 5 levels brighter: the whole-frame mean moves 1.25
    assert block_means(spot).shape == (2, 2, 3)
    assert pixel_sources([base, spot, base], tolerance=2.0) == [0, 1, 2]


def test_a_changed_mask_splits_a_pixel_run() -> None:
    empty, spot = np.zeros((4, 4), bool), np.eye(4, dtype=bool)
    runs = MaskRuns([0, 0, 0, 0, 4])
    for mask in (empty, empty, spot, spot, spot):
        runs.add(mask)
    assert runs.sources == [0, 0, 2, 2, 4]
    assert computed(runs.sources) == [0, 2, 4]
    assert repeats_of(runs.sources) == {0: [1], 2: [3], 4: []}


# ---- whole chains on a clip and its doubled twin ------------------------------------------------


def make_clip(folder: Path, count: int, size: tuple[int, int], doubled: bool) -> dict[str, Path]:
    """A panning clip with a moving hole as PNG folders; `doubled`: every frame twice."""
    frames, masks = panning_clip(count, *size), moving_box_masks(count, *size)
    if doubled:
        frames, masks = np.repeat(frames, 2, axis=0), np.repeat(masks, 2, axis=0)
    return {
        "video": write_clip_folder(folder / "video", frames),
        "masks": write_mask_folder(folder / "masks_in", masks),
    }


def run_chain(root: Path, inputs: dict[str, Path], backend: str, **config: Any) -> Path:
    """Every timed stage of one sample in this process (what a `granularity: video` job runs);
    returns the sample's results folder."""
    settings = default_config()
    settings.update(backend=backend, results=str(root / "results"), **config)
    row = {"sample": "s", "video": str(inputs["video"]), "masks": str(inputs["masks"])}
    row.update(prompt="", ground_truth="")
    sample = plan.Sample("s", row, settings["results"], backend)
    calls = [call for call in plan.video_calls(settings, sample) if call["timed"]]
    run_video(calls, root / "benchmarks", threads=1, seed=0)
    return root / "results" / "s"


def digests(folder: Path) -> list[str]:
    """sha256 of each frame of a frame folder, in order."""
    return [sha256_file(path) for path in io.list_images(folder)]


def assert_doubled_results(single: Path, double: Path, count: int) -> None:
    """The doubled clip's lossless frames are the single clip's, each twice; all are encoded."""
    expected = [digest for digest in digests(single / "inpainted") for _ in range(2)]
    assert len(expected) == 2 * count
    assert digests(double / "inpainted") == expected
    assert io.computed_indices(double / "masks") == list(range(0, 2 * count, 2))
    propagated = io.propagated_frames_dir(double / "propagated")
    assert digests(propagated) == digests(io.propagated_frames_dir(single / "propagated"))
    decoded, *_ = open_clip("s", double / "removed.mp4", 24)
    assert sum(1 for _ in decoded) == 2 * count


def test_classical_doubled_clip_gives_each_frame_twice(tmp_path: Path) -> None:
    count, size = 6, (48, 64)
    single = run_chain(tmp_path / "1", make_clip(tmp_path / "1", count, size, False), "classical")
    double = run_chain(tmp_path / "2", make_clip(tmp_path / "2", count, size, True), "classical")
    assert_doubled_results(single, double, count)


@pytest.mark.slow
def test_propainter_doubled_clip_gives_each_frame_twice(tmp_path: Path) -> None:
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    files = write_rule_checkpoints(tmp_path / "weights", seed=0)
    config = {
        "weights": {name: {"path": str(p), "sha256": sha} for name, (p, sha) in files.items()},
        "propainter": {
            **default_config()["propainter"],
            "device": "cpu",
            "raft_iterations": 2,
            "subvideo_length": 4,
        },
    }
    count, size = 4, (128, 136)
    clips = {n: make_clip(tmp_path / n, count, size, n == "2") for n in ("1", "2")}
    single = run_chain(tmp_path / "1", clips["1"], "propainter", **config)
    double = run_chain(tmp_path / "2", clips["2"], "propainter", **config)
    assert_doubled_results(single, double, count)


def test_metrics_count_computed_and_reused_frames(tmp_path: Path) -> None:
    results = run_chain(tmp_path, make_clip(tmp_path, 4, (48, 64), True), "classical")
    output = tmp_path / "metrics.json"
    compute_metrics(
        "s",
        results / "inpainted",
        results / "frames",
        results / "masks",
        output,
        ground_truth="",
        benchmark_files=[],
        selection="",
        threads=1,
        **options("metrics"),
    )
    recorded = io.read_json(output)
    assert (recorded["frames_computed"], recorded["frames_reused"]) == (4, 4)


def test_a_repeat_is_a_link_to_its_sources_file(tmp_path: Path) -> None:
    results = run_chain(tmp_path, make_clip(tmp_path, 3, (48, 64), True), "classical")
    first, repeat = (results / "inpainted" / io.frame_name(i) for i in (2, 3))
    assert os.path.samefile(first, repeat)


# ---- γ > 0 on a static shot with sensor noise ---------------------------------------------------


def noisy_static_clip(folder: Path, count: int, sigma: float) -> Path:
    rng = np.random.default_rng(0)
    still = panning_clip(1, 48, 64)[0].astype(np.float32)
    frames = [np.clip(still + rng.normal(0, sigma, still.shape), 0, 255) for _ in range(count)]
    return write_clip_folder(folder, np.stack(frames).round().astype(np.uint8))


def test_tolerance_reuses_a_noisy_static_shot(tmp_path: Path) -> None:
    video = noisy_static_clip(tmp_path / "video", 6, sigma=2.0)
    exact = extract_frames("n", video, tmp_path / "exact", **options("frames"))
    loose = extract_frames(
        "n", video, tmp_path / "loose", **options("frames", repeat_tolerance=2.0)
    )
    assert io.frame_repeats(exact) == [0, 1, 2, 3, 4, 5]  # noise: no exact repeat
    assert io.frame_repeats(loose) == [0, 0, 0, 0, 0, 5]  # block means within γ; a pair kept


# ---- the prompt path runs its models on the distinct frames only --------------------------------


def test_prompt_models_see_distinct_frames_only(tmp_path: Path, monkeypatch) -> None:
    from vanish.models.detector import YoloTracker
    from vanish.models.sam import SamSegmenter
    from vanish.stages.detect import detect_objects
    from vanish.stages.prompt_masks import masks_from_prompt
    from vanish.testing.tiny import write_tiny_models

    tiny = write_tiny_models(tmp_path / "models", grounding_dino=False)
    seen = {"track": 0, "embed": 0}

    def spy(cls: type, name: str) -> None:
        original = getattr(cls, name)

        def counted(self, frames, *args, **kwargs):
            seen[name] += len(frames)
            return original(self, frames, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)

    spy(YoloTracker, "track")
    spy(SamSegmenter, "embed")
    results = {}
    for name in ("1", "2"):
        root = tmp_path / name
        clip = make_clip(root, 5, (64, 96), doubled=name == "2")
        frames = extract_frames("p", clip["video"], root / "frames", **options("frames"))
        detections = detect_objects(
            "p",
            frames,
            root / "detections.parquet",
            prompt="a person",
            weights_path=tiny["weights"]["yolo"]["path"],
            weights_sha256=tiny["weights"]["yolo"]["sha256"],
            **options(
                "detect",
                device="cpu",
                batch=4,
                yolo={"imgsz": 160, "max_det": 3, "conf": 0.0},
                ultralytics_dir=str(tmp_path / "models" / "ultralytics"),
            ),
        )
        table, _ = io.read_detections(detections)
        tracks = sorted(int(t) for t in table["track"].unique())
        assert tracks, "the tiny detector found nothing to segment"
        io.write_json(root / "selection.json", {"outcome": "selected", "selected_tracks": tracks})
        masks = masks_from_prompt(
            "p",
            frames,
            detections,
            root / "selection.json",
            root / "masks",
            weights_path=tiny["weights"]["sam"]["path"],
            weights_sha256=tiny["weights"]["sam"]["sha256"],
            **options("masks_from_prompt", device="cpu", segmenter="sam", sam=tiny["sam"], batch=2),
        )
        results[name] = (dict(seen), digests(io.full_masks_dir(masks)))
        seen.update(track=0, embed=0)
    (single_seen, single_masks), (double_seen, double_masks) = results["1"], results["2"]
    assert double_seen["track"] == single_seen["track"] == 5
    assert double_seen["embed"] == single_seen["embed"] > 0
    assert double_masks == [digest for digest in single_masks for _ in range(2)]
