"""Retention (config `keep`): a finished sample keeps only what its users need, and stays done.

By default a sample folder holds its deliverables (removed.mp4, the final masks, metrics.json,
provenance.json, the report's preview files); every other stage output is a Snakemake temp()
file, removed once no job needs it. The runs use a 6-frame synthetic clip at both granularities.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cluster.scenario import make_samples
from synthetic import workflow_command

from vanish import plan
from vanish.config import ConfigError, default_config, validate_config
from vanish.pipeline import undeclared_discards
from vanish.table import output_names

FRAMES = 6
DELIVERABLES = [
    *(f"masks/proc/{index:05d}.png" for index in range(FRAMES)),
    "masks/repeats.json",
    "masks/summary.json",
    "metrics.json",
    "provenance.json",
    "removed.mp4",
    "report/frames.png",
    "report/metrics.tsv",
    "report/preview.gif",
]


def run(
    workdir: Path, granularity: str, *extra: str, keep: str = ""
) -> subprocess.CompletedProcess:
    config = ["samples=samples.tsv", "results=results", f"granularity={granularity}"]
    config += [f"keep={keep}"] if keep else []
    command = workflow_command(workdir, *extra, "--config", *config)
    return subprocess.run(command, capture_output=True, text=True, check=False)


def files_of(folder: Path) -> list[str]:
    """Every file below `folder`, relative, but Snakemake's own directory timestamps."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and path.name != ".snakemake_timestamp"
    )


@pytest.fixture(scope="module", params=["stage", "video"])
def finished(request, tmp_path_factory) -> tuple[Path, str]:
    """A finished run with the default `keep` at one granularity: (working folder, granularity)."""
    workdir = tmp_path_factory.mktemp(f"retention-{request.param}")
    make_samples(workdir, count=1, frames=FRAMES, size=(48, 64))
    done = run(workdir, request.param)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir, request.param


@pytest.mark.slow
def test_the_default_keeps_only_the_deliverables(finished):
    workdir, _ = finished
    assert files_of(workdir / "results" / "clip0") == DELIVERABLES


@pytest.mark.slow
def test_a_finished_run_plans_no_job_without_its_removed_intermediates(finished):
    workdir, granularity = finished
    again = run(workdir, granularity, "-n")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]


@pytest.mark.slow
def test_keep_all_leaves_every_stage_output(tmp_path):
    make_samples(tmp_path, count=1, frames=FRAMES, size=(48, 64))
    done = run(tmp_path, "stage", keep="all")
    assert done.returncode == 0, done.stderr[-3000:]
    entries = {path.name for path in (tmp_path / "results" / "clip0").iterdir()}
    intermediates = {"frames", "flows", "completed_flows", "propagated", "inpainted"}
    assert intermediates <= entries, entries


def test_a_keep_entry_naming_no_output_fails_before_any_job(tmp_path):
    make_samples(tmp_path, count=1, frames=FRAMES, size=(48, 64))
    refused = run(tmp_path, "stage", "-n", keep="[video, flow]")
    message = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "config 'keep' names 'flow', which no stage writes" in message, message[-3000:]
    assert f"Valid entries: {', '.join(output_names())}" in message
    assert "Did you mean 'flows' for 'flow'?" in message
    assert not (tmp_path / "results").exists()


def test_keep_all_and_lists_of_output_names_are_valid():
    assert validate_config({"keep": "all"})["keep"] == "all"
    assert validate_config({"keep": ["inpainted", "flows"]})["keep"] == ["inpainted", "flows"]
    with pytest.raises(ConfigError, match="'keep'"):
        validate_config({"keep": "everything"})


def test_a_video_job_removes_the_prompt_files_it_cannot_declare_unless_kept():
    config = default_config()
    row = {"video": "clip.mp4", "masks": "", "prompt": "the cat", "ground_truth": ""}
    calls = plan.video_calls(config, plan.Sample("cat", row, "results", config["backend"]))
    removed = ["results/cat/detections.parquet", "results/cat/selection.json"]
    assert undeclared_discards(calls, config["backend"], config["keep"]) == removed
    assert undeclared_discards(calls, config["backend"], ["selection"]) == removed[:1]
    assert undeclared_discards(calls, config["backend"], "all") == []
