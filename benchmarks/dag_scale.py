"""How long Snakemake takes to plan a large dataset: `snakemake -n` over generated sample sheets.

For each size (default 1,000 and 10,000 samples) this writes a sample sheet whose rows point at
tiny stand-in inputs (one real PNG frame folder and mask folder, reached through per-sample
symlinks, so the sheet validation's existence checks pass without writing 10,000 videos), then
times a dry run of the whole workflow in a child process and records its peak memory (max RSS).
The workflow profile (profiles/default, with its job groups) applies, as in every real run.

    .venv/bin/python benchmarks/dag_scale.py                # 1000 and 10000 samples
    .venv/bin/python benchmarks/dag_scale.py --granularity video
    .venv/bin/python benchmarks/dag_scale.py 1000 --verbose # plain -n (prints every job)
    .venv/bin/python benchmarks/dag_scale.py --floor        # Snakemake alone, 10 bare rules

Results go to docs/benchmarks.md by hand, with the machine and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vanish import io

REPO = Path(__file__).resolve().parents[1]


def stand_in_inputs(root: Path) -> tuple[Path, Path]:
    """One 4-frame 64x64 clip and its masks as PNG folders."""
    frames, masks = root / "stand-in" / "frames", root / "stand-in" / "masks"
    io.write_frame_folder(frames, np.full((4, 64, 64, 3), 128, np.uint8))
    masks.mkdir(parents=True)
    for index in range(4):
        io.write_mask(masks / io.frame_name(index), np.zeros((64, 64), bool))
    return frames, masks


def make_sheet(root: Path, count: int, frames: Path, masks: Path) -> Path:
    """A sheet of `count` samples, each with its own symlinked video, masks and ground truth."""
    links = root / f"inputs-{count}"
    links.mkdir()
    rows = ["sample\tvideo\tmasks\tprompt\tground_truth"]
    for index in range(count):
        name = f"s{index:05d}"
        video, mask = links / f"{name}.frames", links / f"{name}.masks"
        os.symlink(frames, video)
        os.symlink(masks, mask)
        rows.append(f"{name}\t{video}\t{mask}\t\t{video}")
    sheet = root / f"samples-{count}.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


# The floor: what Snakemake itself needs to plan 10 jobs per sample, with nothing of ours in it.
BARE_SNAKEFILE = """
SAMPLES = [f"s{i:05d}" for i in range(int(config["count"]))]
STEPS = "abcdefghij"

rule all:
    input: expand("out/{s}/j", s=SAMPLES)

for previous, step in zip([None, *STEPS], STEPS):
    rule:
        name: f"step_{step}"
        input: [f"out/{{s}}/{previous}"] if previous else []
        output: f"out/{{s}}/{step}"
        shell: "touch {output}"
"""


def floor_run(root: Path, count: int) -> dict:
    """Wall seconds of `snakemake -n` over a bare 10-rule chain of `count` samples."""
    (root / "Snakefile").write_text(BARE_SNAKEFILE)
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--quiet", "rules"]
    command += ["--config", f"count={count}"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return {"seconds": time.perf_counter() - start, "jobs": count * 10 + 1}


def dry_run(sheet: Path, results: Path, granularity: str, verbose: bool) -> dict:
    """Wall seconds, peak RSS (MiB) and job count of one `snakemake -n` in a child process."""
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
    if not verbose:
        command += ["--quiet", "rules"]  # no per-job listing; the job-count table stays
    command += ["--config", f"samples={sheet}", f"results={results}", f"granularity={granularity}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{(done.stdout + done.stderr)[-4000:]}")
    total = [line for line in done.stdout.splitlines() if line.startswith("total")]
    return {
        "seconds": seconds,
        # ru_maxrss of children is the largest child so far: meaningful when it grows
        "peak_mib": peak / 1024 if peak > before else float("nan"),
        "jobs": int(total[-1].split()[-1]) if total else -1,
        "output_mib": len(done.stdout + done.stderr) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--granularity", choices=["stage", "video"], default="stage")
    parser.add_argument("--floor", action="store_true", help="time a bare 10-rule chain instead")
    parser.add_argument("--verbose", action="store_true", help="plain -n: print every job")
    args = parser.parse_args()
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}, "
        + ("bare 10-rule chain" if args.floor else f"granularity {args.granularity}")
    )
    print("| samples | jobs | seconds | peak RSS (MiB) | output (MiB) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="dag-scale-") as tmp:
        root = Path(tmp)
        frames, masks = stand_in_inputs(root)
        for count in sorted(args.sizes):  # ascending, so each child's peak RSS is a new maximum
            if args.floor:
                result = floor_run(root, count)
                print(f"| {count} | {result['jobs']} | {result['seconds']:.1f} | | |", flush=True)
                continue
            sheet = make_sheet(root, count, frames, masks)
            result = dry_run(sheet, root / f"results-{count}", args.granularity, args.verbose)
            print(
                f"| {count} | {result['jobs']} | {result['seconds']:.1f} | "
                f"{result['peak_mib']:.0f} | {result['output_mib']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
