"""The workflow on a real Slurm cluster through `snakemake --profile slurm` (VANISH_SLURM=1).

.ci/slurm.sh starts a single-node cluster on localhost (tests/cluster/slurm.sh), runs this module
with VANISH_SLURM=1 and stops the cluster. Without the variable every test here is skipped, with
that reason; with it, a cluster that does not answer is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from cluster.scenario import (
    REPO,
    SLURM_JOBID,
    SNAKEMAKE,
    check_resumed,
    kill_point,
    make_samples,
    run_kill_resume,
)

from vanish.samples import read_sample_sheet

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("VANISH_SLURM") != "1",
        reason="Slurm tests need a cluster: run .ci/slurm.sh (or start tests/cluster/slurm.sh "
        "and set VANISH_SLURM=1)",
    ),
]

# the first status check after 2 s instead of 40 s: the demo's jobs take seconds, not hours
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "2"]
GROUP_JOB = re.compile(r"submitted with SLURM jobid \d+ \(log: \S*/group_video_")
VIDEO_JOB = re.compile(r"submitted with SLURM jobid \d+ \(log: \S*/rule_video/")


@pytest.fixture(scope="module")
def slurm() -> None:
    """Fail (not skip) when VANISH_SLURM=1 but no usable cluster answers."""
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
        nodes = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"VANISH_SLURM=1 but Slurm's commands do not work: {error}")
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.fail(f"VANISH_SLURM=1 but slurmctld does not answer: {ping.stdout}{ping.stderr}")
    states = set(nodes.stdout.split())
    if not states & {"idle", "mixed", "allocated"}:
        pytest.fail(f"VANISH_SLURM=1 but no node is usable (states: {states or 'none'})")


def snakemake_slurm(*extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`snakemake --profile slurm ...` from the repository root, as a user types it."""
    command = [*SNAKEMAKE, "--profile", "slurm", *FAST_POLLING, *extra]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=False, timeout=timeout
    )


def cancel_and_wait(jobs: list[str]) -> None:
    """scancel the given Slurm jobs and wait until none of them runs any more."""
    if not jobs:
        return
    subprocess.run(["scancel", *jobs], check=False)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        queue = subprocess.run(
            ["squeue", "-h", "-t", "PD,R,CG,S", "-o", "%i", "-j", ",".join(jobs)],
            capture_output=True,
            text=True,
            check=False,
        )
        if not queue.stdout.split():
            return
        time.sleep(1)
    raise AssertionError(f"Slurm jobs {jobs} still running 60 s after scancel")


@pytest.mark.slow
def test_demo_runs_through_the_slurm_profile_and_reports_every_sample(slurm, tmp_path):
    results = tmp_path / "results"
    run = snakemake_slurm("--config", f"results={results}")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]

    samples = read_sample_sheet(REPO / "config" / "samples.tsv")["sample"].tolist()
    for sample in samples:
        assert (results / sample / "removed.mp4").stat().st_size > 0
        assert (results / sample / "report" / "preview.gif").stat().st_size > 0
    assert sorted(pd.read_csv(results / "metrics.csv")["sample"]) == sorted(samples)
    # every stage of a video ran on Slurm, in one group job per video
    assert SLURM_JOBID.search(output), "no job went through Slurm"
    assert len(GROUP_JOB.findall(output)) == len(samples), output[-6000:]

    report = tmp_path / "report.html"
    made = subprocess.run(
        [*SNAKEMAKE, "--config", f"results={results}", "--report", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, (made.stdout + made.stderr)[-4000:]
    html = report.read_text()
    for sample in samples:
        for name in ("preview.gif", "frames.png", "metrics.tsv"):
            assert str(results / sample / "report" / name) in html, (sample, name)
    for name in ("quality.png", "runtime.png", "samples.tsv"):
        assert str(results / "report" / name) in html, name


@pytest.mark.slow
def test_one_job_per_video_through_the_slurm_profile(slurm, tmp_path):
    results = tmp_path / "results"
    run = snakemake_slurm("--config", f"results={results}", "granularity=video")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]

    samples = read_sample_sheet(REPO / "config" / "samples.tsv")["sample"].tolist()
    assert sorted(pd.read_csv(results / "metrics.csv")["sample"]) == sorted(samples)
    for sample in samples:
        assert (results / sample / "removed.mp4").stat().st_size > 0
        assert (results / "benchmarks" / sample / "fill.tsv").stat().st_size > 0  # its timing
    # one Slurm job per video: the rule `video`, no group jobs
    assert len(VIDEO_JOB.findall(output)) == len(samples), output[-6000:]
    assert not GROUP_JOB.search(output)


@pytest.mark.slow
def test_killed_slurm_run_resumes_without_redoing_finished_work(slurm, tmp_path: Path):
    sheet = make_samples(tmp_path)
    results = tmp_path / "results"
    command = [
        *SNAKEMAKE,
        "--profile",
        "slurm",
        *FAST_POLLING,
        "--config",
        f"samples={sheet}",
        f"results={results}",
    ]
    outcome = run_kill_resume(
        command,
        REPO,
        results,
        kill_point(REPO, results, patience_s=10),
        deadline_s=420,
        cancel_jobs=cancel_and_wait,
    )
    assert outcome.slurm_jobs, "the first run submitted no Slurm job before the kill"
    print(f"half-written at the kill: {outcome.leftovers_after_kill}")
    check_resumed(outcome, REPO, results)
    samples = pd.read_csv(sheet, sep="\t")["sample"].tolist()
    assert sorted(pd.read_csv(results / "metrics.csv")["sample"]) == sorted(samples)
