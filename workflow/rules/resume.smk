# Resume after a hard kill. A run killed outright (SIGKILL, a node failure, the head job of a
# cluster run hitting its time limit) leaves Snakemake's directory lock behind, and the next run
# with the same command stops with "Directory cannot be locked". Snakemake cannot tell such a
# lock from a live run's, so every run records who holds it (host, PID, the process's start time
# and the lock files' identities); a later run on the same host removes the lock only when that
# process is gone and the lock files are still exactly the ones it took. Anything else (a live
# run, another host, locks taken since) is left to Snakemake's own check.

# The same handlers take the results folder's lock (vanish/runlock.py) for the whole run and, at
# its end, success or not, write the dataset status table (vanish/status.py); after a failure
# also metrics.csv and the dataset report over the samples that finished, so a partial run is
# still usable (a complete run makes them by its rules). Cluster jobs' own Snakemake runs no
# handlers (--no-hooks), and dry runs none either.

import json
import os
import socket
from pathlib import Path

import psutil

from snakemake.logging import logger

LOCK_DIR = Path(".snakemake/locks")
LOCK_OWNER = Path(".snakemake/vanish-lock-owner.json")


def _process_start(pid):
    """Start time of a process (seconds since the epoch), or None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, TypeError, ValueError):
        return None


def _lock_ids():
    files = sorted(LOCK_DIR.glob("*")) if LOCK_DIR.is_dir() else []
    return [[p.name, p.stat().st_ino, p.stat().st_mtime_ns] for p in files]


def _remove_stale_lock():
    if not LOCK_OWNER.is_file():
        return
    try:
        owner = json.loads(LOCK_OWNER.read_text())
    except ValueError:
        return
    locks = _lock_ids()
    if (
        not locks
        or owner.get("host") != socket.gethostname()
        or owner.get("locks") != locks
        or _process_start(owner.get("pid")) == owner.get("start")
    ):
        return
    for name, _, _ in locks:
        (LOCK_DIR / name).unlink(missing_ok=True)
    LOCK_OWNER.unlink(missing_ok=True)
    logger.warning(
        f"Removed the directory lock of a killed run (PID {owner['pid']} on this host, "
        "gone); its unfinished outputs are redone."
    )


def _forget_lock_owner(log):
    LOCK_OWNER.unlink(missing_ok=True)


def _take_results_folder():
    """The results folder's lock; a second run on it stops here, before any job."""
    from vanish import runlock  # imported where used: vanish.io loads OpenCV, planning must not

    if not workflow.remote_exec:
        for warning in runlock.acquire(RESULTS):
            logger.warning(warning)


def _sample_deliverables(sample):
    return expand(TARGETS, sample=sample)


def _dataset_outputs_of(samples):
    """metrics.csv and the dataset report over `samples` (a failed run's finished ones)."""
    from vanish.report import dataset_report
    from vanish.stages.metrics import aggregate_metrics

    if not samples:
        logger.warning("No sample finished: no metrics.csv or dataset report written.")
        return
    metrics = expand(sample_file(table.sample_output("metrics")), sample=samples)
    aggregate_metrics(metrics, str(rules.metrics_table.output[0]))
    figures = rules.report_dataset.output
    dataset_report(metrics, str(figures.quality), str(figures.runtime), str(figures.samples))
    logger.warning(
        f"metrics.csv and the dataset report cover the {len(samples)} finished sample(s) only."
    )


def _end_run(success):
    """Status table (and after a failure the partial dataset outputs), then free the folder."""
    from vanish import io, runlock, status

    try:
        rows = status.finish_run(
            RESULTS, list(SAMPLES.index), _sample_deliverables, workflow.scheduler.failed
        )
        where = io.run_status_path(RESULTS)
        logger.info(f"Samples: {status.summary(rows)} (every sample's state: {where}).")
        if not success:
            _dataset_outputs_of(status.done(rows))
    except Exception as error:  # the run's own outcome stands; say what is missing
        logger.error(f"Could not write the run's status table or partial metrics: {error!r}")
    finally:
        runlock.release(RESULTS)


_remove_stale_lock()


onstart:
    _take_results_folder()
    LOCK_OWNER.write_text(
        json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "start": _process_start(os.getpid()),
                "locks": _lock_ids(),
            }
        )
    )


onsuccess:
    _forget_lock_owner(log)
    _end_run(True)


onerror:
    _forget_lock_owner(log)
    _end_run(False)
