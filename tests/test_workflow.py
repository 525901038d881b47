"""The Snakemake workflow end to end on a two-sample sheet, and a rerun that does nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import (
    good_and_broken_sheet,
    moving_box_masks,
    panning_clip,
    workflow_command,
    write_clip_folder,
    write_mask_folder,
)

from vanish import io


def run_snakemake(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the repository's workflow with `workdir` as working directory."""
    command = workflow_command(workdir, *extra)
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, check=False)


@pytest.fixture
def two_samples(tmp_path: Path) -> Path:
    rows = ["sample\tvideo\tmasks\tprompt\tground_truth"]
    for index, name in enumerate(("pan_a", "pan_b")):
        frames = panning_clip(6, 48, 66, seed=index)
        video = write_clip_folder(tmp_path / name / "frames", frames)
        masks = write_mask_folder(tmp_path / name / "masks", moving_box_masks(6, 48, 66))
        rows.append(f"{name}\t{video}\t{masks}\t\t{video}")
    (tmp_path / "samples.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path


@pytest.mark.slow
def test_two_sample_run_then_rerun_does_nothing(two_samples):
    config = ["--config", f"samples={two_samples / 'samples.tsv'}", "results=results", "keep=all"]
    first = run_snakemake(two_samples, *config)
    assert first.returncode == 0, first.stderr[-3000:]
    table = pd.read_csv(two_samples / "results" / "metrics.csv")
    assert sorted(table["sample"]) == ["pan_a", "pan_b"]
    for name in ("pan_a", "pan_b"):
        result = io.read_frames(two_samples / "results" / name / "inpainted")
        source = io.read_frames(two_samples / name / "frames")
        full = io.read_masks(two_samples / "results" / name / "masks" / "full")
        np.testing.assert_array_equal(result[~full], source[~full])
        assert (two_samples / "results" / name / "removed.mp4").stat().st_size > 0
    second = run_snakemake(two_samples, *config)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Nothing to be done" in second.stdout + second.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("granularity", "log_name"), [("stage", "frames"), ("video", "video")])
def test_a_bad_sample_does_not_stop_the_others(tmp_path, granularity, log_name):
    sheet = good_and_broken_sheet(tmp_path)
    config = ["--config", f"samples={sheet}", "results=results", f"granularity={granularity}"]
    run = run_snakemake(tmp_path, "--keep-going", *config)
    assert run.returncode != 0
    assert (tmp_path / "results" / "good" / "removed.mp4").is_file()
    assert (tmp_path / "results" / "good" / "metrics.json").is_file()
    assert not (tmp_path / "results" / "bad" / "frames").exists()
    log = (tmp_path / "results" / "logs" / "bad" / f"{log_name}.log").read_text()
    assert "sample 'bad'" in log and "broken.mp4" in log and "Fix:" in log
