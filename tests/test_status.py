"""The dataset status table and partial metrics after a run with one failing sample."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from synthetic import good_and_broken_sheet, workflow_command

from vanish import io
from vanish.status import first_error_line


def test_the_first_error_line_is_read_from_the_runner_log(tmp_path: Path) -> None:
    log = tmp_path / "frames.log"
    log.write_text(
        "2026-01-01 10:00:00,000 INFO extract_frames: {'sample': 'bad'}\n"
        "2026-01-01 10:00:01,000 ERROR sample 'bad': decoding failed. Fix: re-encode it\n"
        "Traceback (most recent call last):\n"
    )
    assert first_error_line(log) == "sample 'bad': decoding failed. Fix: re-encode it"


@pytest.mark.slow
def test_a_run_with_a_failing_sample_writes_status_and_metrics_of_the_rest(tmp_path: Path):
    sheet = good_and_broken_sheet(tmp_path)
    command = workflow_command(
        tmp_path, "--keep-going", "--config", f"samples={sheet}", "results=results"
    )
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode != 0
    rows = {row["sample"]: row for row in io.read_run_status(tmp_path / "results" / "status.csv")}
    assert rows["good"]["state"] == "done" and rows["good"]["error"] == ""
    assert rows["bad"]["state"] == "failed"
    assert rows["bad"]["error"].startswith("sample 'bad':") and "broken.mp4" in rows["bad"]["error"]
    assert rows["bad"]["log"] == "results/logs/bad/frames.log"
    assert list(pd.read_csv(tmp_path / "results" / "metrics.csv")["sample"]) == ["good"]
    samples = pd.read_csv(tmp_path / "results" / "report" / "samples.tsv", sep="\t")
    assert list(samples["sample"]) == ["good"]
    assert not (tmp_path / "results" / "vanish.lock").exists()
