"""Hole-PSNR of the classical backend vs a per-frame OpenCV Telea fill, on every demo clip.

Usage: python benchmarks/quality.py [--extra]
`--extra` adds harder segments (a non-rigid foreground under the mask, a shot cut) that are not
in the demo, so the figures are not only the favourable ones.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import build_clip, demo_clips, machine, run_classical, today

from vanish import io

EXTRA = {
    "bbb_start0": {"source": "bigbuckbunny.mp4", "start": 0, "frames": 40, "width": 432, "seed": 5},
    "bikes_cut": {"source": "bikes.mp4", "start": 56, "frames": 40, "width": 432, "seed": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extra", action="store_true", help="also score harder segments")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = dict(demo_clips(), **(EXTRA if args.extra else {}))
    print(f"# quality, classical backend — {machine()}, {today()}")
    print("| clip | frames | PSNR | SSIM | hole-PSNR | Telea hole-PSNR | gain (dB) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in clips.items():
            clip_dir = build_clip(name, spec, Path(tmp) / "clips")
            run_classical(name, clip_dir, Path(tmp) / name)
            m = io.read_json(Path(tmp) / name / "metrics.json")
            gain = m["hole_psnr"] - m["telea_hole_psnr"]
            print(
                f"| {name} | {m['frames']} | {m['psnr']:.2f} | {m['ssim']:.4f} | "
                f"{m['hole_psnr']:.2f} | {m['telea_hole_psnr']:.2f} | {gain:+.2f} |"
            )


if __name__ == "__main__":
    main()
