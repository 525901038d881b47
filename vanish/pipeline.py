"""One video through all its stages in one process (`granularity: video`).

The workflow runs at one of two granularities, from the same stage table (`vanish.table`) and
the same bound calls (`vanish.plan.stage_call`), writing the same files:

- `stage` (default): one Snakemake job per stage and video. Every stage's output is its own
  cached, resumable step: a rerun after a failure or a config change redoes only what changed.
- `video`: one job per video that calls the stages in table order (`run_video`). Snakemake spends
  about a millisecond planning each job (a bare chain of `touch` rules: 0.78 ms a job on the dev
  VM, docs/benchmarks.md), so 10,000 clips at 8-10 jobs each take minutes to plan before
  anything runs, and every job pays its own Python start-up and torch import. One job per video
  plans in seconds and starts Python once per video. The price: a video that fails restarts at
  its first stage, and changing one stage's parameters reruns the whole video.

Stage modules are imported where they run: the prompt stages bring in ultralytics, open_clip and
segment-anything, the model stages torch.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vanish.atomic import atomic_file
from vanish.table import STAGES, kept_outputs, shared_outputs

log = logging.getLogger("vanish")


def import_function(name: str) -> Callable[..., Any]:
    """The function named "module:function" in the stage table."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


@contextmanager
def benchmarked(folder: str | Path, stage: str) -> Iterator[None]:
    """Time one stage and write `{folder}/{stage}.tsv` with the columns of Snakemake's
    `benchmark:` files that a process can measure for itself (wall and CPU seconds), so metrics
    and the report read both granularities alike."""
    wall, cpu = time.perf_counter(), time.process_time()
    log.info("stage %s", stage)
    yield
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    hours, rest = divmod(int(seconds), 3600)
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    with atomic_file(Path(folder) / f"{stage}.tsv") as tmp:
        tmp.write_text(f"s\th:m:s\tcpu_time\n{seconds:.4f}\t{clock}\t{cpu_seconds:.4f}\n")
    log.info("stage %s done in %.2f s", stage, seconds)


def undeclared_discards(
    calls: Sequence[Mapping[str, Any]], backend: str, keep: str | list[str]
) -> list[str]:
    """Files a video job writes but its rule cannot declare (a prompt sample's detections and
    selection: the rule's outputs are those every sample shares) and config `keep` does not
    retain. Snakemake removes the declared temp() outputs itself; these the job removes."""
    declared, kept = shared_outputs(backend), kept_outputs(keep)
    stages = {stage.name: stage for stage in STAGES}  # the table as it is now
    return [
        entry["call"][keyword]
        for entry in calls
        for keyword, (name, _) in stages[entry["name"]].outputs.items()
        if name not in declared and name not in kept
    ]


def remove_outputs(paths: Sequence[str | Path]) -> None:
    """Delete stage outputs (files or folders) that are not to be kept."""
    for path in map(Path, paths):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def run_video(
    calls: Sequence[Mapping[str, Any]],
    benchmark_dir: str | Path,
    threads: int,
    seed: int,
    discard: Sequence[str | Path] = (),
) -> None:
    """Run every stage of one video in order, writing each stage's usual files.

    `calls`: `vanish.plan.video_calls` (each stage's function and keyword arguments, in table
    order). Timed stages write their timing file into `benchmark_dir` before the bookkeeping
    stages (metrics) read them. `discard`: outputs removed once every stage has read them
    (`undeclared_discards`).
    """
    from vanish.runner import limit_threads

    for entry in calls:
        function = import_function(entry["function"])
        limit_threads(threads, seed)  # the first stage that imports torch gets the job's settings
        call = dict(entry["call"])
        if entry["threads_arg"]:
            call["threads"] = threads
        if entry["timed"]:
            with benchmarked(benchmark_dir, entry["step"]):
                function(**call)
        else:  # bookkeeping: logged only, so a clip's whole cost can be accounted for
            start = time.perf_counter()
            function(**call)
            log.info("stage %s done in %.2f s", entry["step"], time.perf_counter() - start)
    remove_outputs(discard)
