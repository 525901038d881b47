"""The propainter path's whole command as a user runs it, timed from outside and stage by stage.

Builds a real clip (Big Buck Bunny frames 60-89, cut from its native 1280x720 and scaled to
exactly 432x240, the demo's moving-ellipse mask; the clip is its own ground truth, as in the
demo), points the propainter backend at rule checkpoints (`vanish.testing.rule_checkpoints`:
the published layouts and compute, deterministic values), and runs everything a user gets —
frames ... encode, metrics, provenance, report, the dataset rules — with

    snakemake --cores 2 --config samples=... backend=propainter granularity=G

(every propainter setting at its schema default; `device: cpu`; fp32). It prints, per run, the
wall time of the whole command, each stage's seconds (stage granularity: Snakemake's
`benchmark:` files, which include each job's Python start-up and imports; video granularity: the
job's timing files, the log for bookkeeping stages, and the job's start-up from its log), the
rest (Snakemake's own start and planning, dataset rules), and the 1-minute load average at the
start and the end. Runs alternate between the granularities (and the checkouts of `--repo`), so
load changes hit both alike.

    python benchmarks/whole_command.py [--granularity video stage] [--repeats 1] [--cores 2]
                                       [--repo CHECKOUT ...] [--frames 30]
"""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from common import (
    REPO,
    machine,
    one_sample_sheet,
    propainter_config,
    run_workflow,
    stage_seconds,
)
from disk import build_clip

SAMPLE = "bbb432"
SIZE = (432, 240)
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)
SPAN = "video job's log span"
ORDER = ("frames", "masks", "flows", "complete", "propagate", "fill", "encode", "metrics",
         "provenance", "report")  # fmt: skip


def sample_sheet(work: Path, frames: int) -> Path:
    """The clip (built once) and a one-row sheet with the clip as its own ground truth."""
    clip = build_clip(work / "clips" / f"{SAMPLE}_{frames}", frames, *SIZE)
    return one_sample_sheet(work, SAMPLE, clip)


def log_span(log: Path) -> tuple[datetime, datetime] | None:
    """First and last timestamp of a job's log."""
    stamps = LOG_TIME.findall(log.read_text()) if log.is_file() else []
    if not stamps:
        return None
    parse = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in (stamps[0], stamps[-1])]
    return parse[0], parse[1]


def stage_and_span_seconds(results: Path) -> dict[str, float]:
    """Seconds of every stage (`common.stage_seconds`) and a video job's log span (first to
    last line: the job less its Python start-up and imports)."""
    found = stage_seconds(results, SAMPLE)
    span = log_span(results / "logs" / SAMPLE / "video.log")
    if span:
        found[SPAN] = (span[1] - span[0]).total_seconds()
    return found


def print_table(runs: list[dict]) -> None:
    """One markdown table: a column per run."""
    heads = [f"{r['label']} (load {r['load'][0]:.2f}→{r['load'][1]:.2f})" for r in runs]
    print("| part | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(runs))
    parts = [p for p in ORDER if any(p in r["stages"] for r in runs)]
    for part in parts:
        cells = [f"{r['stages'][part]:.2f}" if part in r["stages"] else "" for r in runs]
        name = "fill (transformer)" if part == "fill" else part
        print(f"| {name} | " + " | ".join(cells) + " |")
    rest = [r["whole"] - sum(r["stages"].get(p, 0.0) for p in ORDER) for r in runs]
    print("| rest: Snakemake, job start-up, dataset rules | "
          + " | ".join(f"{x:.2f}" for x in rest) + " |")  # fmt: skip
    model = [sum(r["stages"].get(p, 0.0) for p in ("flows", "complete", "propagate", "fill"))
             for r in runs]  # fmt: skip
    print("| model stages (flows, complete, propagate, transformer) | "
          + " | ".join(f"{x:.2f}" for x in model) + " |")  # fmt: skip
    if any(SPAN in r["stages"] for r in runs):
        cells = [f"{r['stages'][SPAN]:.2f}" if SPAN in r["stages"] else "" for r in runs]
        print(f"| ({SPAN}) | " + " | ".join(cells) + " |")
    print("| **whole command** | " + " | ".join(f"**{r['whole']:.2f}**" for r in runs) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--granularity", nargs="+", default=["video", "stage"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repo", type=Path, nargs="+", default=[REPO],
                        help="checkouts to run (alternated), default this one")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("/tmp/vanish-whole-command"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    config = propainter_config(args.work, {"device": "cpu"})
    sheet = sample_sheet(args.work, args.frames)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}, {machine()}, {os.cpu_count()} CPUs, {args.frames} frames at "
          f"{SIZE[0]}x{SIZE[1]}, --cores {args.cores}")  # fmt: skip
    runs = []
    for repeat in range(args.repeats):
        for granularity in args.granularity:
            for repo in args.repo:
                before = os.getloadavg()[0]
                whole = run_workflow(
                    args.work, args.cores,
                    [f"samples={sheet}", "results=results", "backend=propainter",
                     f"granularity={granularity}"],
                    repo, (config,),
                )  # fmt: skip
                stages = stage_and_span_seconds(args.work / "results")
                label = f"{granularity} #{repeat + 1}"
                label += f" {repo.name}" if len(args.repo) > 1 else ""
                runs.append({"label": label, "whole": whole, "stages": stages,
                             "load": (before, os.getloadavg()[0])})  # fmt: skip
                print(f"{label}: {whole:.1f} s", flush=True)
    print()
    print_table(runs)


if __name__ == "__main__":
    main()
