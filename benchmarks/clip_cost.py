"""Where one clip's whole-command time goes: the fixed cost per clip (docs/benchmarks.md).

Builds a real clip (Big Buck Bunny at its native 1280x720, 40 frames, the demo's synthetic
moving mask; the clip is its own ground truth, as in the demo), runs the whole workflow on it as
a user does (`snakemake --cores N --config ... granularity=video`), and sets the wall time of
that command against the time of each stage: the processing stages (flows, completion,
propagation, fill) from the timing files, the others from the timing files or, for the
bookkeeping stages of a video job, from its log. What is left is Snakemake (start, planning,
the dataset-wide rules) and the job's own start-up (Python, imports).

    python benchmarks/clip_cost.py [--granularity video|stage] [--repeats 1] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import build_clip, machine, one_sample_sheet, run_workflow, stage_seconds, today

PROCESSING = ("flows", "complete", "propagate", "fill")
CLIP = {"source": "bigbuckbunny.mp4", "start": 60, "frames": 40, "width": None, "seed": 0}
SAMPLE = "bbb720"


def sample_sheet(work: Path) -> Path:
    """The clip (built once) and a one-row sheet with the clip as its own ground truth."""
    clip = work / "clips" / SAMPLE
    if not (clip / "video.mp4").is_file():
        build_clip(SAMPLE, CLIP, work / "clips")
    return one_sample_sheet(work, SAMPLE, clip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--granularity", choices=["video", "stage"], default="video")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vanish-clip-cost"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sheet = sample_sheet(args.work)
    for repeat in range(args.repeats):
        load = os.getloadavg()[0]
        config = [f"samples={sheet}", "results=results", f"granularity={args.granularity}"]
        whole = run_workflow(args.work, args.cores, config)
        stages = stage_seconds(args.work / "results", SAMPLE)
        processing = sum(stages.get(step, 0.0) for step in PROCESSING)
        print(f"\nrun {repeat + 1}: {args.granularity} granularity, {today()}, {machine()}")
        print(f"load average (1 min) at the start: {load:.2f}")
        print("| part | seconds |\n|---|---|")
        for step, seconds in stages.items():
            print(f"| {step} | {seconds:.2f} |")
        rest = whole - sum(stages.values())
        print(f"| rest (Snakemake, job start-up, dataset rules) | {rest:.2f} |")
        print(f"| **whole command** | {whole:.2f} |")
        print(
            f"processing stages {processing:.2f} s; whole / processing = {whole / processing:.2f}"
        )


if __name__ == "__main__":
    main()
