"""Write stage outputs so that a crash never leaves a partial file or folder looking complete.

Temporary siblings are named `.{name}.XXXXXXXX.partial` (files keep their suffix after it, for
writers that pick the format from it). A process killed outright (SIGKILL, a node failure, a cluster
time limit) cannot remove its own, so the next writer of the same output removes them first:
Snakemake never runs two jobs for one output at a time. Results get the permissions the umask
allows (as a plain open() would), not the owner-only ones of tempfile, so that on a shared file
system the group can read them.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _remove_stale(final: Path) -> None:
    """Remove the temporaries that killed writers of `final` left behind."""
    # tempfile's random part is 8 characters: `.masks.????????.partial` never matches the
    # temporaries of another output such as `masks.json`
    for stale in final.parent.glob(f".{glob.escape(final.name)}.{'?' * 8}.partial*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _umask_mode(base: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; rename it to `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
        tmp.chmod(_umask_mode(0o777))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it to `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(final)
    handle, name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=f".partial{final.suffix}", dir=final.parent
    )
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            tmp.chmod(_umask_mode(0o666))
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
