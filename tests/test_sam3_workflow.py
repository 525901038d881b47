"""prompt.detector sam3 end to end in Snakemake with a tiny random SAM 3, at both granularities:
the one concept stage replaces detect, select and SAM, and writes the masks and selection.json
that the rest of the workflow reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from synthetic import panning_clip, write_clip_folder

from vanish import io
from vanish.testing.tiny import pinned, write_sam3
from vanish.weights import sha256_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sam3_dataset(tmp_path: Path) -> Path:
    folder = write_sam3(tmp_path / "models" / "tiny-sam3")
    settings = {
        "prompt": {"detector": "sam3", "device": "cpu", "batch": 2},
        "weights": {"sam3": pinned(folder, folder / "model.safetensors")},
        "keep": "all",  # the test reads every file
    }
    (tmp_path / "sam3.yaml").write_text(yaml.safe_dump(settings))
    walk = write_clip_folder(tmp_path / "walk", panning_clip(4, 40, 56, seed=1))
    (tmp_path / "samples.tsv").write_text(
        f"sample\tvideo\tmasks\tprompt\tground_truth\nwalk\t{walk}\t\ta person and a dog\t\n"
    )
    return tmp_path


def run(root: Path, granularity: str, *targets: str) -> None:
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(root),
        "--configfile", str(REPO / "config" / "config.yaml"), str(root / "sam3.yaml"),
        "--config", f"samples={root / 'samples.tsv'}", f"results={granularity}",
        f"granularity={granularity}", "--cores", "2", *targets,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.mark.slow
def test_sam3_sample_end_to_end_at_both_granularities(sam3_dataset: Path):
    root = sam3_dataset
    digests = {}
    for granularity in ("stage", "video"):
        run(
            root, granularity, f"{granularity}/walk/removed.mp4", f"{granularity}/walk/metrics.json"
        )
        walk = root / granularity / "walk"
        selection = io.read_json(walk / "selection.json")
        assert selection["detector"] == "sam3" and selection["outcome"] == "selected"
        assert selection["phrases"] == ["a person", "a dog"]
        assert len(selection["selected_tracks"]) == 2
        assert io.read_json(walk / "metrics.json")["prompt_outcome"] == "selected"
        assert not (walk / "detections.parquet").exists()  # no detect stage ran
        assert (walk / "removed.mp4").stat().st_size > 0
        digests[granularity] = {
            str(path.relative_to(walk)): sha256_file(path)
            for path in sorted((walk / "masks").rglob("*.png"))
        }
    masks_log = (root / "stage" / "logs" / "walk" / "masks.log").read_text()
    assert "masks_from_concepts" in masks_log
    assert not (root / "stage" / "logs" / "walk" / "detect.log").exists()
    assert digests["stage"] and digests["video"] == digests["stage"]
