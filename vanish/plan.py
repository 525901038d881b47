"""A stage bound to one sample: the exact keyword arguments its function is called with.

Both granularities call stage functions with `stage_call` (a per-stage rule passes it as its
params, a video job runs the calls of every stage in order), so a per-stage run and a per-video
run of the same config compute the same thing, and a changed setting or path reruns the job.
Planning-time code: no torch, no stage modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vanish.keyframes import keyframe_inputs
from vanish.table import (
    CONCEPT,
    FILES,
    KEYFRAMES,
    PROMPT,
    Config,
    Stage,
    produced,
    sample_path,
    stage_options,
    stages_for,
    timed_steps,
    weight_roles,
)

SHEET = "sheet:"
OPTIONAL = "?"
# sheet columns that are input files of the sample (recorded in provenance)
INPUT_COLUMNS = ("video", "masks", "ground_truth", "keyframes")


def mask_source(row: Mapping[str, str], detector: str | None = None) -> str:
    """FILES when the sheet gives mask files (they win), else PROMPT, or CONCEPT when the
    detector (config `prompt.detector`) is SAM 3, which segments the prompt in one stage."""
    if row["masks"]:
        return FILES
    return CONCEPT if detector == "sam3" else PROMPT


def log_path(results: str | Path, sample: str, step: str) -> str:
    """A stage's log file."""
    return f"{str(results).rstrip('/')}/logs/{sample}/{step}.log"


def benchmark_path(results: str | Path, sample: str, step: str) -> str:
    """A stage's timing file (Snakemake's `benchmark:` columns; metrics reads `s`)."""
    return f"{str(results).rstrip('/')}/benchmarks/{sample}/{step}.tsv"


@dataclass(frozen=True)
class Sample:
    """What binding a stage needs to know about one sheet row."""

    sample: str
    row: Mapping[str, str]
    results: str
    backend: str
    detector: str | None = None  # config `prompt.detector` (None: not sam3)

    @property
    def masks(self) -> str:
        return mask_source(self.row, self.detector)

    def path(self, stage: Stage, name: str) -> str:
        """The file of an upstream output `name` for this sample."""
        output = produced(self.backend, self.masks).get(name)
        if output is None:
            raise KeyError(f"stage {stage.name}: no earlier stage writes '{name}'")
        return sample_path(self.results, self.sample, output)


@cache
def _weight_specs(weights: tuple, weights_dir: str) -> dict[str, Any]:
    from vanish.weights import resolve_weights

    section = {role: value if isinstance(value, str) else dict(value) for role, value in weights}
    return resolve_weights(section, weights_dir)


def weight_specs(config: Config) -> dict[str, Any]:
    """Every role's resolved checkpoint (path, sha256), cached per config."""
    frozen = tuple(
        (role, value if isinstance(value, str) else tuple(sorted(value.items())))
        for role, value in sorted(config["weights"].items())
    )
    return _weight_specs(frozen, config["weights_dir"])


def used_weights(config: Config, sample: Sample) -> dict[str, str]:
    """Role -> checkpoint path of every network the sample's stages load."""
    specs = weight_specs(config)
    roles = weight_roles(config["backend"], sample.masks, config)
    return {role: str(specs[role].path) for role in roles}


def _input_value(config: Config, stage: Stage, sample: Sample, source: str) -> Any:
    if source.startswith(SHEET):
        column = source.removeprefix(SHEET)
        if column == "inputs":
            return {key: sample.row.get(key, "") for key in INPUT_COLUMNS}
        return sample.row.get(column, "")  # optional columns may be absent
    if source == "benchmarks":
        steps = timed_steps(config["backend"], sample.masks)
        return [benchmark_path(sample.results, sample.sample, step) for step in steps]
    if source == "weights":
        return used_weights(config, sample)
    if source.endswith(OPTIONAL):
        try:
            return sample.path(stage, source.removesuffix(OPTIONAL))
        except KeyError:
            return ""
    return sample.path(stage, source)


def stage_call(stage: Stage, config: Config, sample: Sample) -> dict[str, Any]:
    """The keyword arguments of `stage`'s function for one sample."""
    call: dict[str, Any] = {"sample": sample.sample} if stage.sample_arg else {}
    for keyword, source in {**stage.inputs, **stage.params}.items():
        if not keyword.startswith("_"):
            call[keyword] = _input_value(config, stage, sample, source)
    for keyword, (_, output) in stage.outputs.items():
        call[keyword] = sample_path(sample.results, sample.sample, output)
    if stage.weights is not None:
        spec = weight_specs(config)[stage.weights(config)]
        call.update(weights_path=str(spec.path), weights_sha256=spec.sha256)
    return {**call, **stage_options(stage, config)}


def input_files(stage: Stage, config: Config, sample: Sample) -> dict[str, Any]:
    """The files a stage's job reads (Snakemake inputs): upstream outputs, the sample's own
    files, timing files and checkpoints; empty optional ones left out."""
    files: dict[str, Any] = {}
    for keyword, source in stage.inputs.items():
        if source == f"{SHEET}inputs":
            continue  # paths recorded by provenance, read by earlier stages
        value = _input_value(config, stage, sample, source)
        if source == "weights":
            value = list(value.values())
        if source == KEYFRAMES and value:
            value = keyframe_inputs(value)
        if value:
            files[keyword.lstrip("_")] = value
    if stage.weights is not None:
        files["weights"] = str(weight_specs(config)[stage.weights(config)].path)
    return files


def sheet_input_files(sample: Sample) -> dict[str, Any]:
    """The sample's own files a video job reads (its keyframes as files: `keyframe_inputs`)."""
    files: dict[str, Any] = {key: sample.row.get(key, "") for key in INPUT_COLUMNS}
    if files["keyframes"]:
        files["keyframes"] = keyframe_inputs(files["keyframes"])
    return {key: value for key, value in files.items() if value}


def video_calls(config: Config, sample: Sample) -> list[dict[str, Any]]:
    """Every stage of one sample in run order: [{name, step, timed, function, call}]."""
    return [
        {
            "name": stage.name,
            "step": stage.step,
            "timed": stage.timed,
            "function": stage.function,
            "threads_arg": stage.threads_arg,
            "call": stage_call(stage, config, sample),
        }
        for stage in stages_for(config["backend"], sample.masks)
    ]
