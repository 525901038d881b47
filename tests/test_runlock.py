"""The results-folder lock: one run at a time, whatever folder it was started from."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from cluster.scenario import make_samples
from synthetic import workflow_command

from vanish import io, runlock


def _write_owner(results: Path, **changes: object) -> None:
    owner = {**asdict(runlock.this_process()), "cwd": "/elsewhere/first-run", **changes}
    results.mkdir(parents=True, exist_ok=True)
    io.run_lock_path(results).write_text(json.dumps(owner))


def test_a_live_run_elsewhere_refuses_the_second_run(tmp_path: Path) -> None:
    sheet = make_samples(tmp_path, count=1, frames=3, size=(32, 32))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_owner(tmp_path / "results", pid=holder.pid, start=runlock.process_start(holder.pid))
        other = tmp_path / "second"
        other.mkdir()
        command = workflow_command(other, "--config", f"samples={sheet}", "results=../results")
        run = subprocess.run(command, capture_output=True, text=True, cwd=other, check=False)
    finally:
        holder.kill()
        holder.wait()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"PID {holder.pid} on this host" in output and "/elsewhere/first-run" in output
    assert "rm ../results/vanish.lock" in output
    assert not (tmp_path / "results" / "clip0").exists()


def test_a_dead_run_lock_on_this_host_is_taken_over(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _write_owner(tmp_path, pid=gone.pid, start=12.0)
    warnings = runlock.acquire(tmp_path)
    assert len(warnings) == 1 and f"PID {gone.pid}" in warnings[0]
    assert runlock.read_owner(io.run_lock_path(tmp_path)).pid == os.getpid()
    runlock.release(tmp_path)
    assert not io.run_lock_path(tmp_path).exists()


def test_a_lock_from_another_host_is_refused(tmp_path: Path) -> None:
    _write_owner(tmp_path, host=f"not-{socket.gethostname()}", pid=1)
    with pytest.raises(runlock.RunLockError, match=r"PID 1 on host not-.*rm .*vanish\.lock"):
        runlock.acquire(tmp_path)
