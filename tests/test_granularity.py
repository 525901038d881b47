"""Granularity `video` (one job per video) against `stage` (one job per stage): the same
parameters reach the same stage functions, and the workflow writes the same results."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from cluster.scenario import make_samples
from synthetic import REPO, workflow_command

from vanish import io, table
from vanish.weights import sha256_file

SAMPLES = ("clip0", "clip1")  # the two clips of make_samples


def run_workflow(root: Path, *config: str, configfile: Path | None = None) -> None:
    """Run with every stage output kept: the tests compare intermediates."""
    command = workflow_command(root, "--config", *config, "keep=all")
    if configfile:  # after the repository's config file: --configfile takes them all at once
        command.insert(command.index(str(REPO / "config" / "config.yaml")) + 1, str(configfile))
    run = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)
    assert run.returncode == 0, run.stderr[-4000:]


def planned_jobs(root: Path, *config: str) -> dict[str, int]:
    """Jobs per rule of a dry run."""
    command = workflow_command(root, "-n", "--quiet", "rules", "--config", *config)
    run = subprocess.run(command, capture_output=True, text=True, cwd=root, check=True)
    table = run.stdout.split("-------")[-1].split("\n\n")[0]
    return {row.split()[0]: int(row.split()[1]) for row in table.strip().splitlines()}


def png_digests(folder: Path) -> dict[str, str]:
    """sha256 of every PNG below a stage folder, by relative path."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*.png"))}


def assert_same_results(stage: Path, video: Path, samples: tuple[str, ...]) -> None:
    """Byte-identical stage images, the same quality figures, every per-sample file present."""
    for sample in samples:
        for folder in ("frames", "masks", "propagated", "inpainted"):
            expected = png_digests(stage / sample / folder)
            assert expected and png_digests(video / sample / folder) == expected, folder
        first = io.read_json(stage / sample / "metrics.json")
        second = io.read_json(video / sample / "metrics.json")
        assert first["hole_psnr"] == second["hole_psnr"]
        assert first["per_frame"] == second["per_frame"]
        for name in ("removed.mp4", "provenance.json", "report/preview.gif", "report/metrics.tsv"):
            assert (video / sample / name).stat().st_size > 0
        timed = {p.stem for p in (video / "benchmarks" / sample).glob("*.tsv")}
        assert timed == set(table.timed_steps(first_backend(stage), table.FILES))


def first_backend(results: Path) -> str:
    """The backend a results folder was made with (from a sample's provenance)."""
    record = io.read_json(next(results.glob("*/provenance.json")))
    return record["config"]["backend"]


def test_video_granularity_plans_one_job_per_video(tmp_path: Path) -> None:
    sheet = make_samples(tmp_path, frames=6, size=(48, 66))
    jobs = planned_jobs(tmp_path, f"samples={sheet}", "results=results", "granularity=video")
    assert jobs == {"video": 2, "metrics_table": 1, "report_dataset": 1, "all": 1, "total": 5}


@pytest.mark.slow
def test_classical_video_granularity_gives_the_stage_granularity_results(tmp_path: Path) -> None:
    sheet = make_samples(tmp_path, frames=6, size=(48, 66))
    for granularity in ("stage", "video"):
        run_workflow(
            tmp_path, f"samples={sheet}", f"results={granularity}", f"granularity={granularity}"
        )
    assert_same_results(tmp_path / "stage", tmp_path / "video", SAMPLES)
    report = tmp_path / "report.html"
    config = [f"samples={sheet}", "results=video", "granularity=video"]
    run = subprocess.run(
        workflow_command(tmp_path, "--config", *config, "--report", str(report)),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    html = report.read_text()
    for sample in SAMPLES:
        assert f"video/{sample}/report/preview.gif" in html


@pytest.mark.slow
def test_propainter_video_granularity_gives_the_stage_granularity_results(tmp_path: Path) -> None:
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    files = write_rule_checkpoints(tmp_path / "weights", seed=0)
    settings = {
        "weights": {
            name: {"path": str(path), "sha256": sha} for name, (path, sha) in files.items()
        },
        "propainter": {"device": "cpu", "raft_iterations": 2, "subvideo_length": 4},
    }
    configfile = tmp_path / "propainter.yaml"
    configfile.write_text(yaml.safe_dump(settings))
    sheet = make_samples(tmp_path, frames=4, size=(128, 136))
    for granularity in ("stage", "video"):
        run_workflow(
            tmp_path,
            f"samples={sheet}",
            f"results={granularity}",
            f"granularity={granularity}",
            "backend=propainter",
            configfile=configfile,
        )
    assert_same_results(tmp_path / "stage", tmp_path / "video", SAMPLES)
