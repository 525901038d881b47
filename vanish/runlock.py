"""One run at a time on a results folder, whatever folder it was started from.

Snakemake locks its working folder (`.snakemake/locks`), not the outputs: two runs started from
different folders on one results folder each delete the other's in-progress outputs as
incomplete, and both fail. So a run takes `{results}/vanish.lock` at its start (created
atomically: a hard link of a file holding the owner, which fails if the lock exists, also on
NFS) and removes it at its end. The lock names its owner (host, PID, the process's start time,
working folder), so a second run is refused with who holds it and how to proceed. A run killed
outright cannot remove its lock: a later run on the same host takes it over when that process is
gone (a reused PID is told apart by its start time); a lock from another host cannot be checked
and is left to the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from vanish import io
from vanish.errors import VanishError


class RunLockError(VanishError):
    """Another run holds the results folder."""


@dataclass(frozen=True)
class Owner:
    """Who holds the lock."""

    host: str
    pid: int
    start: float | None  # the process's start time (seconds since the epoch)
    started: str  # when the run took the lock, for people
    cwd: str

    def alive(self) -> bool:
        """Whether the owning process still runs (only answerable on its own host)."""
        return self.host == socket.gethostname() and process_start(self.pid) == self.start


def process_start(pid: int) -> float | None:
    """Start time of a process (seconds since the epoch), or None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, TypeError, ValueError):
        return None


def this_process() -> Owner:
    """The lock's owner when this process takes it."""
    pid = os.getpid()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
    return Owner(socket.gethostname(), pid, process_start(pid), started, os.getcwd())


def read_owner(lock: Path) -> Owner | None:
    """The owner recorded in `lock`, or None if it is gone or unreadable."""
    try:
        return Owner(**json.loads(lock.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _create(lock: Path, owner: Owner) -> bool:
    """Create `lock` holding `owner` if it does not exist (atomically); whether it did."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{lock.name}.", suffix=".partial", dir=lock.parent)
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(asdict(owner), file, indent=1)
        os.link(name, lock)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(name)


def _refusal(results: str | Path, lock: Path, owner: Owner | None) -> RunLockError:
    if owner is None:
        who = "a run whose lock file cannot be read"
    else:
        where = "this host" if owner.host == socket.gethostname() else f"host {owner.host}"
        who = (
            f"another run: PID {owner.pid} on {where}, started {owner.started}, "
            f"working folder {owner.cwd}"
        )
    return RunLockError(
        f"results folder {results} is in use by {who}. Two runs on one results folder delete "
        "each other's unfinished files. Fix: wait until that run ends, or give this run another "
        f"'results' folder; if you are sure no run is active on it, remove {lock} "
        f"(rm {lock}) and start again."
    )


def acquire(results: str | Path) -> list[str]:
    """Take the results folder for this process; returns warnings (a dead run's lock taken
    over). Raises RunLockError when a live run, or one on another host, holds it."""
    lock, me = io.run_lock_path(results), this_process()
    if _create(lock, me):
        return []
    owner = read_owner(lock)
    if owner is not None and owner.host == me.host and owner.pid == me.pid:
        return []  # this process holds it already
    if owner is None or owner.host != me.host or owner.alive():
        raise _refusal(results, lock, owner)
    if read_owner(lock) == owner:  # not taken over by another run meanwhile
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
    if not _create(lock, me):  # another run took it over first
        raise _refusal(results, lock, read_owner(lock))
    return [
        f"Took over the lock of results folder {results} from a run that is gone (PID "
        f"{owner.pid} on this host, started {owner.started}, working folder {owner.cwd})."
    ]


def release(results: str | Path) -> None:
    """Remove the lock if this process holds it (never another run's)."""
    lock, me = io.run_lock_path(results), this_process()
    owner = read_owner(lock)
    if owner is not None and (owner.host, owner.pid, owner.start) == (me.host, me.pid, me.start):
        lock.unlink(missing_ok=True)
