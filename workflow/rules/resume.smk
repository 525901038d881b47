# Resume after a hard kill. A run killed outright (SIGKILL, a node failure, the head job of a
# cluster run hitting its time limit) leaves Snakemake's directory lock behind, and the next run
# with the same command stops with "Directory cannot be locked". Snakemake cannot tell such a
# lock from a live run's, so every run records who holds it (host, PID, the process's start time
# and the lock files' identities); a later run on the same host removes the lock only when that
# process is gone and the lock files are still exactly the ones it took. Anything else (a live
# run, another host, locks taken since) is left to Snakemake's own check.

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


_remove_stale_lock()


onstart:
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


onerror:
    _forget_lock_owner(log)
