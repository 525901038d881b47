"""The job runner's process settings (vanish/runner.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# what scripts/stage.py and scripts/video.py import before a stage imports torch
PROBE = (
    "import os, sys; import vanish.pipeline, vanish.runner; "
    "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
)


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, "PYTHONPATH": str(REPO), **env},
    )
    return done.stdout.strip()


def test_jobs_let_idle_openmp_threads_sleep_before_torch_loads() -> None:
    assert _probe() == "PASSIVE False"


def test_a_users_openmp_wait_policy_is_kept() -> None:
    assert _probe(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE False"
