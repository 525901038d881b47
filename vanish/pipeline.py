"""Every stage's parameters, and one video through all stages in one process.

The workflow runs at one of two granularities (config `granularity`), from the same stage
functions with the same parameters (`stage_params`, the one place they are derived from the
config), writing the same files:

- `stage` (default): one Snakemake job per stage and video. Every stage's output is its own
  cached, resumable step: a rerun after a failure or a config change redoes only what changed.
- `video`: one job per video that calls the stages in order (`run_video`). Snakemake spends about
  a millisecond planning each job (a bare chain of `touch` rules: 0.78 ms a job on the dev VM,
  docs/benchmarks.md), so 10,000 clips at 8-10 jobs each take minutes to plan before anything
  runs, and every job pays its own Python start-up and torch import. One job per video plans in
  seconds and starts Python once per video. The price: a video that fails restarts at its first
  stage, and changing one stage's parameters reruns the whole video.

Stage modules are imported where they run: the workflow imports this module while it parses,
and the prompt stages bring in ultralytics, open_clip and segment-anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vanish.atomic import atomic_file
from vanish.models.runtime import weight_specs as prompt_weight_specs
from vanish.weights import weight_specs

log = logging.getLogger("vanish")

# The stages whose Snakemake benchmark files feed a sample's runtime in metrics.json.
METRIC_STAGES = ("frames", "masks", "flows", "complete", "propagate", "fill", "encode")


def flow_dtype(config: Mapping[str, Any]) -> str:
    """Flow file precision: float32 keeps ProPainter's flows exact (they reach ~60 px, where
    float16 rounds to 0.03 px); float16 halves the disk of the classical backend."""
    choice = config["flow_storage"]
    if choice != "auto":
        return choice
    return "float32" if config["backend"] == "propainter" else "float16"


def interpolation(config: Mapping[str, Any]) -> str:
    """Pixel interpolation of image propagation: the reference's nearest for ProPainter."""
    choice = config["propagate"]["interpolation"]
    if choice != "auto":
        return choice
    return "nearest" if config["backend"] == "propainter" else "bilinear"


def _prompt_params(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Parameters of the prompt path's stages (the sample's prompt text is added per job)."""
    prompt = config.get("prompt", {})
    shared = {"weights": prompt.get("weights", {}), "device": prompt.get("device", "auto")}
    return {
        "detect": {
            **shared,
            "detector": prompt.get("detector", "yolo"),
            "batch": prompt.get("batch", 8),
            "tracker": prompt.get("tracker", "bytetrack"),
            "yolo": prompt.get("yolo", {}),
            "grounding_dino": prompt.get("grounding_dino", {}),
            "ultralytics_dir": prompt.get("ultralytics_dir", "resources/weights/ultralytics"),
        },
        "select": {
            **shared,
            "clip": prompt.get("clip", {}),
            "select_options": prompt.get("select", {}),
        },
        "masks_from_prompt": {
            **shared,
            "dilation": config["mask_dilation"],
            "sam": prompt.get("sam", {}),
            "batch": prompt.get("sam", {}).get("batch", 4),
            "mask_options": prompt.get("masks", {}),
        },
    }


def _propainter_params(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Parameters of the learned backend's stages (the weight files are job inputs)."""
    settings, weights = config["propainter"], weight_specs(config)
    model = {"device": settings["device"], "precision": settings["precision"]}
    return {
        "flows_raft": {
            "weights_sha256": weights["raft"].sha256,
            "iterations": settings["raft_iterations"],
            "device": settings["device"],
            "dtype": flow_dtype(config),
        },
        "complete_rfc": {
            **model,
            "weights_sha256": weights["flow_completion"].sha256,
            "subvideo_length": settings["subvideo_length"],
        },
        "transformer": {
            **model,
            "weights_sha256": weights["propainter"].sha256,
            "neighbor_length": settings["neighbor_length"],
            "ref_stride": settings["ref_stride"],
            "subvideo_length": settings["subvideo_length"],
        },
    }


def stage_params(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword arguments of every stage function, by rule name, from the validated config.

    Both granularities take their parameters from here, so a per-stage run and a per-video run
    of the same config compute the same thing.
    """
    classical, propagation = config["classical"], config["propagate"]
    return {
        "frames": {"max_side": config.get("max_side"), "folder_fps": config["frame_folder_fps"]},
        "masks_from_files": {"dilation": config["mask_dilation"]},
        **_prompt_params(config),
        "flows_classical": {
            "preset": classical["dis_preset"],
            "cut_threshold": classical["cut_threshold"],
            "dtype": flow_dtype(config),
        },
        "complete_classical": {},
        "fill_classical": {"interpolation": interpolation(config)},
        **_propainter_params(config),
        "propagate": {
            "interpolation": interpolation(config),
            "chunk": min(100, propagation["subvideo_length"]),
            "pad": propagation["pad"],
        },
        "encode": {"crf": config["encode"]["crf"]},
        "metrics": {
            "ssim_window": config["metrics"]["ssim_window"],
            "baseline": config["metrics"]["telea_baseline"],
        },
        # pixels per panel; frames of the GIF loop, spread over the clip
        "report_sample": {"width": 200, "gif_frames": 32},
    }


BACKEND_RULES = {
    "classical": ("flows_classical", "complete_classical", "fill_classical"),
    "propainter": ("flows_raft", "complete_rfc", "transformer"),
}
MASK_RULES = {False: ("masks_from_files",), True: ("detect", "select", "masks_from_prompt")}
SHARED_RULES = ("frames", "propagate", "encode", "metrics", "report_sample")


def video_params(
    params: Mapping[str, Mapping[str, Any]], backend: str, prompt: bool
) -> dict[str, Mapping[str, Any]]:
    """The stage parameters one video's job uses: its mask path's and its backend's only, so
    that (as with one job per stage) a setting it does not use never makes Snakemake rerun it."""
    rules = (*SHARED_RULES, *MASK_RULES[prompt], *BACKEND_RULES[backend])
    return {rule: params[rule] for rule in rules}


def model_weight_paths(config: Mapping[str, Any], prompt: bool) -> dict[str, str]:
    """The weight files one video needs, by network name (inputs of its job)."""
    paths: dict[str, str] = {}
    if config["backend"] == "propainter":
        paths.update({name: str(spec.path) for name, spec in weight_specs(config).items()})
    if prompt:
        section = config.get("prompt", {})
        specs = prompt_weight_specs(section.get("weights"))
        for name in (section.get("detector", "yolo"), "clip", "sam"):
            paths[name] = str(specs[name].path)
    return paths


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


def _masks(
    sample: str, inputs: Mapping[str, Any], outputs: Mapping[str, str], params: Mapping, bench: Path
) -> None:
    """The masks stage: from the sheet's mask files, or detect -> select -> SAM for a prompt."""
    frames = outputs["frames"]
    if "detections" not in outputs:
        from vanish.stages.masks import masks_from_files

        with benchmarked(bench, "masks"):
            masks_from_files(
                sample, inputs["masks"], frames, outputs["masks"], **params["masks_from_files"]
            )
        return
    from vanish.stages.detect import detect_objects
    from vanish.stages.prompt_masks import masks_from_prompt
    from vanish.stages.select import select_objects

    detections, selection, prompt = outputs["detections"], outputs["selection"], inputs["prompt"]
    with benchmarked(bench, "detect"):
        detect_objects(sample, frames, detections, prompt=prompt, **params["detect"])
    with benchmarked(bench, "select"):
        select_objects(sample, frames, detections, selection, prompt=prompt, **params["select"])
    with benchmarked(bench, "masks"):
        masks_from_prompt(
            sample, frames, detections, selection, outputs["masks"], **params["masks_from_prompt"]
        )


def _classical(outputs: Mapping[str, str], params: Mapping, bench: Path) -> None:
    """flows -> complete -> propagate -> fill of the weight-free backend."""
    from vanish.stages.complete import classical_complete
    from vanish.stages.fill import classical_fill
    from vanish.stages.flows import classical_flows
    from vanish.stages.propagate import propagate

    frames, masks, flows = outputs["frames"], outputs["masks"], outputs["flows"]
    completed, propagated = outputs["completed_flows"], outputs["propagated"]
    with benchmarked(bench, "flows"):
        classical_flows(frames, masks, flows, **params["flows_classical"])
    with benchmarked(bench, "complete"):
        classical_complete(flows, masks, completed, **params["complete_classical"])
    with benchmarked(bench, "propagate"):
        propagate(frames, masks, completed, propagated, **params["propagate"])
    with benchmarked(bench, "fill"):
        classical_fill(
            frames, masks, completed, propagated, outputs["inpainted"], **params["fill_classical"]
        )


def _propainter(
    weights: Mapping[str, str], outputs: Mapping[str, str], params: Mapping, bench: Path
) -> None:
    """RAFT -> flow completion -> propagate -> transformer of the ProPainter backend."""
    from vanish.stages.complete import rfc_complete
    from vanish.stages.flows import raft_flows
    from vanish.stages.propagate import propagate
    from vanish.stages.transformer import propainter_transformer

    frames, masks, flows = outputs["frames"], outputs["masks"], outputs["flows"]
    completed, propagated = outputs["completed_flows"], outputs["propagated"]
    with benchmarked(bench, "flows"):
        raft_flows(frames, flows, weights["raft"], **params["flows_raft"])
    with benchmarked(bench, "complete"):
        rfc_complete(flows, masks, completed, weights["flow_completion"], **params["complete_rfc"])
    with benchmarked(bench, "propagate"):
        propagate(frames, masks, completed, propagated, **params["propagate"])
    with benchmarked(bench, "fill"):
        propainter_transformer(
            frames,
            masks,
            completed,
            propagated,
            outputs["inpainted"],
            weights["propainter"],
            **params["transformer"],
        )


def _finish(
    sample: str, inputs: Mapping[str, Any], outputs: Mapping[str, str], params: Mapping, bench: Path
) -> None:
    """encode, metrics, provenance and the report's figures of one video."""
    from vanish.report import sample_previews, write_sample_table
    from vanish.stages.encode import encode
    from vanish.stages.metrics import compute_metrics
    from vanish.stages.provenance import write_provenance

    frames, masks, inpainted = outputs["frames"], outputs["masks"], outputs["inpainted"]
    with benchmarked(bench, "encode"):
        encode(inpainted, frames, outputs["video"], **params["encode"])
    compute_metrics(
        sample,
        inpainted,
        frames,
        masks,
        outputs["metrics"],
        ground_truth=inputs["ground_truth"],
        benchmark_files=[bench / f"{stage}.tsv" for stage in METRIC_STAGES],
        selection=outputs.get("selection", ""),
        **params["metrics"],
    )
    write_provenance(sample, output=outputs["provenance"], **inputs["provenance"])
    sample_previews(
        frames, masks, inpainted, outputs["preview"], outputs["strip"], **params["report_sample"]
    )
    write_sample_table(outputs["metrics"], outputs["table"])


def run_video(
    sample: str,
    backend: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, str],
    params: Mapping[str, Mapping[str, Any]],
    benchmark_dir: str | Path,
) -> None:
    """Run every stage of one video in order, writing each stage's usual files.

    `inputs`: video, masks (mask folder, or "" for a prompt sample), prompt, ground_truth (or
    ""), weights (network name -> checkpoint) and provenance (the keyword arguments of
    `write_provenance` other than sample and output). `outputs`: the path of every stage's file
    or folder by name, as the per-stage rules name them; `detections` and `selection` are
    present for a prompt sample. `params`: `stage_params(config)`.
    """
    from vanish.stages.frames import extract_frames

    bench = Path(benchmark_dir)
    with benchmarked(bench, "frames"):
        extract_frames(sample, inputs["video"], outputs["frames"], **params["frames"])
    _masks(sample, inputs, outputs, params, bench)
    if backend == "propainter":
        _propainter(inputs["weights"], outputs, params, bench)
    else:
        _classical(outputs, params, bench)
    _finish(sample, inputs, outputs, params, bench)
