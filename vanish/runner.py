"""Run a stage function from a Snakemake `script:` with threads, logging and clear errors."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (`OMP_WAIT_POLICY=PASSIVE`), unless the
    user chose otherwise.

    torch's OpenMP threads spin at every barrier by default; when other processes share the
    cores (two jobs at once, other users) the spinning threads take the time slices the working
    ones need: RAFT on 4 frames at 432x240, 2 threads, on the 2-core dev VM at load 12-15 took
    17-23 s spinning and 7.5-10 s passive (docs/benchmarks.md). OpenMP reads the variable once,
    when torch loads it, so this runs on import, before any stage imports torch.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


passive_openmp()

import cv2  # noqa: E402  (after the OpenMP setting: cv2 may load an OpenMP runtime)

from vanish.errors import VanishError  # noqa: E402
from vanish.weights import WeightsError  # noqa: E402

log = logging.getLogger("vanish")


def limit_threads(threads: int, seed: int = 0) -> None:
    """Use exactly the job's threads in torch and OpenCV (oversubscribed OpenMP is ~40x slower
    on busy nodes; OpenCV otherwise starts a thread per core of the node), torch only if the
    stage uses it at all: jobs that only draw or encode never pay torch's import.

    The seed is fixed although inference draws no random numbers, so that any future stochastic
    step is reproducible too.
    """
    cv2.setNumThreads(max(1, threads))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, threads))
        torch.manual_seed(seed)


def configure(threads: int, log_path: str | None, seed: int = 0) -> None:
    """Threads, seed and logging (to stderr and the job's log file) of one job."""
    limit_threads(threads, seed)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(message)s",
    )


def run_stage(smk: Any, stage: Callable[..., Any], **kwargs: Any) -> None:
    """Call `stage(**kwargs)`; a user-facing error becomes one clear line and exit status 1,
    any other error its line and traceback, both in the job's log."""
    configure(smk.threads, smk.log[0] if smk.log else None, int(smk.config["seed"]))
    start = time.perf_counter()
    log.info("%s: %s", stage.__name__, dict(smk.wildcards.items()))
    try:
        stage(**kwargs)
    except (VanishError, WeightsError) as error:
        log.error("%s", error)
        sys.exit(1)
    except Exception as error:
        # anything else is a bug or an input nobody foresaw: its first line and traceback go to
        # the job's log, where the status table (vanish/status.py) finds the error
        log.exception("%s failed: %s: %s", stage.__name__, type(error).__name__, error)
        sys.exit(1)
    log.info("%s done in %.2f s", stage.__name__, time.perf_counter() - start)
