"""Kill-and-resume scenario shared by the local (test_resume) and Slurm (test_cluster) tests.

A run is started in its own process group, killed with SIGKILL (Snakemake and every job process
it started; on Slurm the test also cancels the jobs it submitted) once some outputs are finished
and others are not, and then started again with the same command. An output counts as finished
when it exists and Snakemake holds no incomplete marker for it (`.snakemake/incomplete/` names
each output it has started but not finished, base64-encoded): exactly the outputs a resumed run
must keep.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from synthetic import (  # noqa: F401 - re-exported for the cluster tests
    REPO,
    SNAKEMAKE,
    moving_box_masks,
    panning_clip,
    write_clip_folder,
    write_mask_folder,
)

from vanish import plan, table
from vanish.config import default_config

SLURM_JOBID = re.compile(r"SLURM jobid (\d+)")


def make_samples(root: Path, count: int = 2, frames: int = 8, size=(64, 96)) -> Path:
    """`count` synthetic clips (frame folders, masks, ground truth) and their sample sheet."""
    rows = ["sample\tvideo\tmasks\tprompt\tground_truth"]
    for index in range(count):
        name = f"clip{index}"
        video = write_clip_folder(root / name / "frames", panning_clip(frames, *size, seed=index))
        masks = write_mask_folder(root / name / "masks", moving_box_masks(frames, *size))
        rows.append(f"{name}\t{video}\t{masks}\t\t{video}")
    sheet = root / "samples.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def incomplete(workdir: Path) -> set[Path]:
    """Outputs Snakemake has started and not finished (its incomplete markers), absolute."""
    marker_dir = workdir / ".snakemake" / "incomplete"
    found = set()
    for marker in marker_dir.glob("*") if marker_dir.is_dir() else ():
        try:
            path = Path(base64.b64decode(marker.name).decode())
        except ValueError:
            continue
        found.add(path if path.is_absolute() else workdir / path)
    return found


# the run's own files in results/ (vanish/runlock.py, vanish/status.py): every run rewrites them
RUN_FILES = ("vanish.lock", "status.csv")


def stage_outputs(results: Path) -> list[Path]:
    """Every output below `results`: the entries of each sample folder (its `report/` folder's
    files one by one) and the dataset files. Not outputs: logs, hidden entries (temporaries of
    writes in progress) and benchmark files, which Snakemake writes for a job beside its
    outputs and rewrites whenever it reruns the job (they carry no incomplete marker)."""

    def visible(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))

    found = []
    for entry in visible(results) if results.is_dir() else ():
        if entry.name in ("logs", "benchmarks", *RUN_FILES):
            continue
        if entry.is_file():
            found.append(entry)
            continue
        for item in visible(entry):
            if item.is_dir() and item.name == "report":
                found.extend(visible(item))
            else:
                found.append(item)
    return found


def stamp(path: Path) -> tuple[int, int]:
    """Identity of a written output: (inode, mtime in ns); an atomic rewrite changes both."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def benchmark_stamps(results: Path) -> dict[Path, tuple[int, int]]:
    """Stamps of every timing file: a job that runs again rewrites its own."""
    return {path: stamp(path) for path in sorted((results / "benchmarks").rglob("*.tsv"))}


def removable(results: Path, output: Path, keep: str | list[str]) -> Path | None:
    """The timing file of the job that wrote `output`, when `output` is a stage output that
    config `keep` does not retain (Snakemake removes it once no job needs it); else None."""
    sample, relative = (
        output.relative_to(results).parts[0],
        "/".join(output.relative_to(results).parts[1:]),
    )
    for stage in table.STAGES:
        for name, written in stage.outputs.values():
            if written.path == relative and name not in table.kept_outputs(keep):
                return Path(plan.benchmark_path(results, sample, stage.step))
    return None


def half_written(results: Path) -> list[Path]:
    """Leftovers of an interrupted write: hidden or `.partial` entries anywhere below results
    (but for Snakemake's own `.snakemake_timestamp` in directory outputs)."""
    return [
        path
        for path in results.rglob("*")
        if (path.name.startswith(".") and path.name != ".snakemake_timestamp")
        or ".partial" in path.name
    ]


def kill_point(cwd: Path, results: Path, patience_s: float = 20.0) -> Callable[[], bool]:
    """True once an output is finished and a job is caught mid-write (a `.partial` entry
    exists), or `patience_s` after the first finished output if no write is caught."""
    first: list[float] = []

    def reached() -> bool:
        if not results.is_dir():
            return False
        started = incomplete(cwd)
        if not first:
            if all(path in started for path in stage_outputs(results)):
                return False
            first.append(time.monotonic())
        return bool(half_written(results)) or time.monotonic() - first[0] > patience_s

    return reached


@dataclass
class Resume:
    """What a kill-and-resume scenario observed."""

    finished: dict[Path, tuple[int, int]]  # finished at the kill, with their stamps
    timings: dict[Path, tuple[int, int]]  # timing files at the kill, with their stamps
    unfinished: list[Path]  # existed at the kill but were marked incomplete
    leftovers_after_kill: list[Path]  # half-written entries right after the kill
    rerun: subprocess.CompletedProcess
    first_log: str
    slurm_jobs: list[str] = field(default_factory=list)


def start(command: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start a run in a new session (its own process group: Snakemake and its jobs)."""
    with log.open("w") as handle:
        return subprocess.Popen(
            command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL Snakemake and every process of its group (the local jobs it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def run_kill_resume(
    command: list[str],
    cwd: Path,
    results: Path,
    kill_when: Callable[[], bool],
    deadline_s: float,
    cancel_jobs: Callable[[list[str]], None] | None = None,
) -> Resume:
    """Start `command`, SIGKILL it once `kill_when()` holds, then run it again to the end.

    `cancel_jobs` receives the Slurm job ids the first run reported and must return only when
    they no longer run (Slurm executor); nothing is needed for local jobs, which die with the
    process group.
    """
    log = results.parent / "first-run.log"
    results.parent.mkdir(parents=True, exist_ok=True)
    process = start(command, cwd, log)
    end = time.monotonic() + deadline_s
    try:
        while not kill_when():
            if process.poll() is not None:
                raise AssertionError(
                    f"the run ended (rc {process.returncode}) before the kill point:\n"
                    + log.read_text()[-4000:]
                )
            if time.monotonic() > end:
                raise AssertionError("kill point not reached in time:\n" + log.read_text()[-4000:])
            time.sleep(0.1)
    finally:
        kill_group(process)
    first_log = log.read_text()
    jobs = SLURM_JOBID.findall(first_log)
    if cancel_jobs is not None:
        cancel_jobs(jobs)
    started = incomplete(cwd)
    finished, unfinished = {}, []
    for path in stage_outputs(results):
        if path in started:
            unfinished.append(path)
        else:
            finished[path] = stamp(path)
    leftovers, timings = half_written(results), benchmark_stamps(results)
    rerun = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=deadline_s
    )
    return Resume(finished, timings, unfinished, leftovers, rerun, first_log, jobs)


def redone(outcome: Resume, results: Path, keep: str | list[str]) -> list[Path]:
    """Outputs finished at the kill that the resumed run computed again. One that is gone must
    be a stage output `keep` does not retain whose job's timing file is untouched (removed as
    temp(), not recomputed)."""
    found = []
    for path, before in outcome.finished.items():
        if path.exists():
            if stamp(path) != before:
                found.append(path)
            continue
        timing = removable(results, path, keep)
        if (
            timing is None
            or timing not in outcome.timings
            or stamp(timing) != outcome.timings[timing]
        ):
            found.append(path)
    return found


def check_resumed(
    outcome: Resume, cwd: Path, results: Path, keep: str | list[str] | None = None
) -> None:
    """The assertions of the resume test: finished, untouched (or removed as temp() under
    `keep`, the default config's unless given), nothing half-written."""
    keep = default_config()["keep"] if keep is None else keep
    rerun = outcome.rerun
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert outcome.finished, "the kill came before any output was finished"
    # the killed run's directory lock must not block the same command (workflow/rules/resume.smk)
    assert "Removed the directory lock of a killed run" in rerun.stdout + rerun.stderr
    changed = redone(outcome, results, keep)
    assert not changed, f"outputs finished before the kill were recomputed: {changed}"
    assert not half_written(results), f"half-written leftovers: {half_written(results)}"
    assert not (incomplete(cwd) & set(stage_outputs(results))), "outputs still marked incomplete"
    after = set(stage_outputs(results))
    assert after - set(outcome.finished), "the resumed run produced nothing new"
