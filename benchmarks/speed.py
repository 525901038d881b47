"""Frames per second of each classical stage at 432x240 on this machine.

Usage: python benchmarks/speed.py [--frames N] [--threads T]
Times the stage functions themselves (no Snakemake or interpreter start-up) on the Big Buck
Bunny demo segment scaled to 432 px wide (processing size 432x240).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import build_clip, machine, run_classical, today

CLIP = {"source": "bigbuckbunny.mp4", "start": 60, "width": 432, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip = build_clip("speed", dict(CLIP, frames=args.frames), Path(tmp) / "clips")
        times = run_classical("speed", clip, Path(tmp) / "work", metrics=False)
    print(f"# speed, classical backend, 432x240, {args.frames} frames — {machine()}, {today()}")
    print("| stage | seconds | frames/s |")
    print("|---|---|---|")
    for stage, seconds in times.items():
        print(f"| {stage} | {seconds:.2f} | {args.frames / seconds:.1f} |")
    total = sum(times.values())
    print(f"| **whole path** | {total:.2f} | {args.frames / total:.1f} |")


if __name__ == "__main__":
    main()
