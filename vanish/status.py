"""The dataset status table written at the end of every run, failed or not.

With thousands of clips nobody reads Snakemake's output: `{results}/status.csv` says for every
sample of the sheet whether it is `done` (its deliverables exist), `failed` (a job of it failed
in this run: the first line of the error and the job's log) or `not run` (neither: a run stopped
before reaching it, or a target list that left it out). The workflow's end-of-run handlers call
`finish_run` (workflow/rules/resume.smk); everything here works on plain paths and on the failed
jobs Snakemake reports, so it is tested without a workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vanish import io

DONE, FAILED, NOT_RUN = "done", "failed", "not run"
ERROR_MARK = " ERROR "  # vanish.runner's log format: "<time> ERROR <message>"


@dataclass(frozen=True)
class SampleStatus:
    """One row of the status table."""

    sample: str
    state: str
    error: str = ""
    log: str = ""


def first_error_line(log: str | Path) -> str:
    """The first error line of a job's log (vanish.runner writes every failure there), or a
    note saying there is none (a process killed from outside, e.g. out of memory, writes none)."""
    path = Path(log)
    if not path.is_file():
        return f"the job failed before writing its log {path}; see Snakemake's output"
    with path.open(errors="replace") as handle:
        for line in handle:
            if ERROR_MARK in line:
                return line.split(ERROR_MARK, 1)[1].strip()
    return "the job stopped without an error message (killed? out of memory?); see its log"


def failed_samples(jobs: Iterable[Any]) -> dict[str, SampleStatus]:
    """The failed jobs Snakemake reports (`workflow.scheduler.failed`) per sample: the first
    failed job of each sample with an error line. A cluster group job stands for its members."""
    found: dict[str, SampleStatus] = {}
    members = [member for job in jobs for member in getattr(job, "jobs", None) or [job]]
    for job in sorted(members, key=lambda j: str(j.rule.name)):
        sample = job.wildcards_dict.get("sample")
        if sample is None or sample in found:
            continue
        log = str(job.log[0]) if job.log else ""
        error = first_error_line(log) if log else f"rule {job.rule.name} failed"
        found[sample] = SampleStatus(sample, FAILED, error, log)
    return found


def sample_states(
    samples: Sequence[str],
    deliverables: Callable[[str], Iterable[str | Path]],
    failed: Mapping[str, SampleStatus],
) -> list[SampleStatus]:
    """Every sample's state in sheet order: failed in this run, else done when all its
    deliverables exist (Snakemake removes a failed job's outputs), else not run."""
    rows = []
    for sample in samples:
        if sample in failed:
            rows.append(failed[sample])
        elif all(Path(path).exists() for path in deliverables(sample)):
            rows.append(SampleStatus(sample, DONE))
        else:
            rows.append(SampleStatus(sample, NOT_RUN))
    return rows


def write_status(results: str | Path, rows: Iterable[SampleStatus]) -> Path:
    """Write `{results}/status.csv`; returns its path."""
    path = io.run_status_path(results)
    io.write_run_status(path, [asdict(row) for row in rows])
    return path


def finish_run(
    results: str | Path,
    samples: Sequence[str],
    deliverables: Callable[[str], Iterable[str | Path]],
    failed_jobs: Iterable[Any],
) -> list[SampleStatus]:
    """Write the status table of a run that just ended; returns its rows."""
    rows = sample_states(samples, deliverables, failed_samples(failed_jobs))
    write_status(results, rows)
    return rows


def done(rows: Iterable[SampleStatus]) -> list[str]:
    """The samples that finished."""
    return [row.sample for row in rows if row.state == DONE]


def summary(rows: Sequence[SampleStatus]) -> str:
    """One line for the run's end: how many samples are in each state."""
    counts = {state: sum(row.state == state for row in rows) for state in (DONE, FAILED, NOT_RUN)}
    return ", ".join(f"{count} {state}" for state, count in counts.items() if count)
