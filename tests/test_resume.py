"""Resume after a kill, on the local executor: finished outputs stay (or are removed as temp(),
never recomputed), nothing half-written.

The run uses the project's local profile (profiles/local: --rerun-incomplete, --keep-going) and
is killed with SIGKILL (Snakemake and its running jobs) once some output is finished, preferably
while a job is caught mid-write; the same command then completes the run. The Slurm variant is
in test_cluster.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from cluster.scenario import (
    REPO,
    check_resumed,
    kill_point,
    make_samples,
    run_kill_resume,
)
from synthetic import workflow_command

from vanish import io


def local_command(workdir: Path, sheet: Path, granularity: str) -> list[str]:
    """The workflow with the local profile, as a user resuming on one machine runs it."""
    profile = ["--profile", str(REPO / "profiles" / "local")]
    config = [f"samples={sheet}", "results=results", f"granularity={granularity}"]
    return workflow_command(workdir, *profile, "--config", *config)


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["stage", "video"])
def test_killed_run_resumes_without_redoing_finished_work(tmp_path, granularity):
    sheet = make_samples(tmp_path)
    results = tmp_path / "results"
    samples = pd.read_csv(sheet, sep="\t")["sample"].tolist()

    command = local_command(tmp_path, sheet, granularity)
    outcome = run_kill_resume(command, tmp_path, results, kill_point(tmp_path, results), 110)
    print(f"half-written at the kill: {outcome.leftovers_after_kill}")
    check_resumed(outcome, tmp_path, results)

    table = pd.read_csv(results / "metrics.csv")
    assert sorted(table["sample"]) == sorted(samples)
    for name in samples:
        assert len(io.read_json(results / name / "metrics.json")["per_frame"]) == 8
        assert (results / name / "removed.mp4").stat().st_size > 0
    again = run_again_dry(command)
    assert "Nothing to be done" in again, again[-3000:]


def run_again_dry(command: list[str]) -> str:
    done = subprocess.run([*command, "-n"], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr
