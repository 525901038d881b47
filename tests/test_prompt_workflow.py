"""The prompt path end to end in Snakemake with tiny random-weight models, in one dataset run: a
prompt sample that matches (through to removed.mp4), one that matches nothing (empty masks and a
recorded outcome, not a crash), a mask-file sample (its masks still made by masks_from_files) and
an every-instance prompt (`all: person`, up to its selection).
Only the first goes through the whole backend, to keep the test short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from synthetic import moving_box_masks, panning_clip, write_clip_folder, write_mask_folder

from vanish import io
from vanish.testing.tiny import write_tiny_models
from vanish.weights import sha256_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def prompt_dataset(tmp_path: Path) -> Path:
    prompt = write_tiny_models(tmp_path / "models", grounding_dino=False)
    prompt.update(
        device="cpu",
        batch=4,
        ultralytics_dir=str(tmp_path / "ultralytics"),
        select={"threshold": -1.0, "min_track_frames": 4, "frames_per_track": 3},
        masks={"shadow": True},
    )
    prompt["yolo"] = {"imgsz": 160, "max_det": 3}
    prompt["sam"]["batch"] = 4
    weights = prompt.pop("weights")
    settings = {"prompt": prompt, "weights": weights, "keep": "all"}  # the tests read every file
    (tmp_path / "prompt.yaml").write_text(yaml.safe_dump(settings))
    walk = write_clip_folder(tmp_path / "walk", panning_clip(6, 48, 64, seed=1))
    # 3 frames: every track is shorter than min_track_frames, so nothing can match.
    still = write_clip_folder(tmp_path / "still", panning_clip(3, 48, 64, seed=2))
    files = write_clip_folder(tmp_path / "files", panning_clip(5, 48, 64, seed=3))
    masks = write_mask_folder(tmp_path / "files_masks", moving_box_masks(5, 48, 64))
    (tmp_path / "samples.tsv").write_text(
        "sample\tvideo\tmasks\tprompt\tground_truth\n"
        f"walk\t{walk}\t\ta person and a dog\t\n"
        f"crowd\t{walk}\t\tall: person\t\n"
        f"still\t{still}\t\ta unicorn\t\n"
        f"files\t{files}\t{masks}\t\t\n"
    )
    return tmp_path


@pytest.mark.slow
def test_prompt_path_end_to_end(prompt_dataset: Path):
    root = prompt_dataset
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(root),
        "--configfile", str(REPO / "config" / "config.yaml"), str(root / "prompt.yaml"),
        "--config", f"samples={root / 'samples.tsv'}", "results=results",
        "--cores", "2",
        "results/walk/removed.mp4", "results/still/metrics.json", "results/files/masks",
        "results/crowd/selection.json",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    results = root / "results"

    table, meta = io.read_detections(results / "walk" / "detections.parquet")
    assert len(table) and meta["detector"] == "yolo"
    walk = io.read_json(results / "walk" / "selection.json")
    assert walk["outcome"] == "selected" and walk["phrases"] == ["a person", "a dog"]
    assert len(walk["selected_tracks"]) >= 2
    assert not io.read_json(results / "walk" / "masks" / "summary.json")["empty"]
    assert "masks_from_prompt" in (results / "logs" / "walk" / "masks.log").read_text()

    still = io.read_json(results / "still" / "selection.json")
    assert still["outcome"] == "no_match" and still["passthrough"] is True
    assert io.read_json(results / "still" / "masks" / "summary.json")["empty"] is True
    reported = io.read_json(results / "still" / "metrics.json")
    assert reported["prompt_outcome"] == "no_match" and reported["prompt_passthrough"] is True
    assert reported["empty_mask"] is True
    assert reported["mask_stability"] is None  # no mask in any frame: nothing can flicker

    # `all:` with the threshold at -1 and no detector class 'person' (the tiny YOLO's classes
    # are numbers): every track long enough to score is kept
    crowd = io.read_json(results / "crowd" / "selection.json")
    scored = sorted(t["track"] for t in crowd["tracks"])
    assert crowd["per_phrase"][0]["every_instance"] is True and crowd["phrases"] == ["person"]
    assert len(scored) >= 2 and crowd["selected_tracks"] == scored

    assert not (results / "files" / "detections.parquet").exists()  # masks_from_files made them
    assert "masks_from_files" in (results / "logs" / "files" / "masks.log").read_text()
    assert (results / "walk" / "removed.mp4").stat().st_size > 0


@pytest.mark.slow
def test_prompt_sample_in_one_job_per_video_matches_one_job_per_stage(prompt_dataset: Path):
    root = prompt_dataset
    digests = {}
    for granularity in ("stage", "video"):
        command = [
            sys.executable, "-m", "snakemake",
            "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(root),
            "--configfile", str(REPO / "config" / "config.yaml"), str(root / "prompt.yaml"),
            "--config", f"samples={root / 'samples.tsv'}", f"results={granularity}",
            f"granularity={granularity}",
            "--cores", "2", f"{granularity}/walk/metrics.json",
        ]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)
        assert run.returncode == 0, run.stderr[-4000:]
        walk = root / granularity / "walk"
        digests[granularity] = {
            str(path.relative_to(walk)): sha256_file(path)
            for folder in ("masks", "inpainted")
            for path in sorted((walk / folder).rglob("*.png"))
        }
        selection = io.read_json(walk / "selection.json")
        assert selection["outcome"] == "selected"
        assert io.read_json(walk / "metrics.json")["prompt_outcome"] == "selected"
    assert digests["stage"] and digests["video"] == digests["stage"]
    assert (root / "video" / "walk" / "detections.parquet").is_file()
