"""The stage table: every stage of the workflow declared once.

An entry names the stage's function, the upstream outputs it reads, the outputs it writes, the
typed options it takes (built from the validated config), the checkpoint it loads and the
resources it needs. Everything else follows from the table (docs/architecture.md, Stage table):

- the per-stage Snakemake rules (`granularity: stage`, workflow/rules/stages.smk) are generated
  from it, one rule per entry, all run by the one adapter scripts/stage.py;
- one job per video (`granularity: video`) runs the same entries in table order with the same
  arguments (`vanish.pipeline.run_video`);
- the runtime in metrics.json and the report, the weights in provenance.json and the files a
  video job declares are derived from it.

Adding a stage is its module, its entry here (with an options class if it takes settings, and
their schema keys), and its tests. Entries are listed in an order that runs: every input comes
from an earlier entry. Alternatives (the two backends, mask files vs prompt) write the same
output names, so downstream stages do not care which one ran.

Imported while Snakemake plans, so it imports no stage module, torch or model library: stage
functions are named as "module:function" and imported where they run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from vanish.config import REPO

Config = Mapping[str, Any]
# where a sample's masks come from: files, or the prompt through detect -> select -> SAM, or
# the prompt through SAM 3 alone (prompt.detector sam3: text to instance masks in one stage)
FILES, PROMPT, CONCEPT = "files", "prompt", "concept"
MASK_SOURCES = (FILES, PROMPT, CONCEPT)


@dataclass(frozen=True)
class Output:
    """A file or folder a stage writes, relative to the sample's results folder."""

    path: str
    directory: bool = False
    # (caption file under workflow/report/, label) for `snakemake --report`
    report: tuple[str, str] | None = None


@dataclass(frozen=True)
class Stage:
    """One stage: a pure function from input paths + typed options to output paths."""

    name: str  # the rule name
    step: str  # its log, benchmark and runtime name, shared by alternatives
    function: str  # "module:function", imported only where the stage runs
    # keyword -> an earlier output's name ("name?" where some samples lack it, "" then), a sheet
    # column ("sheet:video"), "benchmarks" (the sample's timed stages' files) or "weights" (the
    # checkpoints its stages load); a keyword starting with "_" only orders, it is not passed
    inputs: Mapping[str, str]
    outputs: Mapping[str, tuple[str, Output]]  # keyword -> (output name, file)
    options: Callable[[Config], Any] | None = None  # config -> frozen dataclass of keywords
    backend: str | None = None  # runs only with this backend
    masks: str | None = None  # runs only for samples of this mask source (MASK_SOURCES)
    weights: Callable[[Config], str] | None = None  # config -> role of the checkpoint it loads
    params: Mapping[str, str] = field(default_factory=dict)  # keyword -> "sheet:<column>"
    timed: bool = True  # counts in the sample's runtime (not the bookkeeping stages)
    model: bool = False  # a model job: config `threads`, else one thread
    gpu: bool = False  # asks for a GPU on a cluster
    mem_mb: int = 4000  # memory on the first attempt (grows with retries)
    runtime_min: int = 60  # cluster time limit on the first attempt
    env: str = "core"  # envs/{env}.yaml
    sample_arg: bool = True  # the function takes the sample id as `sample`
    threads_arg: bool = False  # the function takes the job's thread count as `threads`

    def applies(self, backend: str, masks: str) -> bool:
        """Whether this stage runs for a sample of this mask source under this backend."""
        return self.backend in (None, backend) and self.masks in (None, masks)


# ---- typed options: one frozen dataclass per stage that takes settings -------------------------


def flow_dtype(config: Config) -> str:
    """Flow file precision: float32 keeps ProPainter's flows exact (they reach ~60 px, where
    float16 rounds to 0.03 px); float16 halves the classical backend's disk."""
    choice = config["flow_storage"]
    if choice != "auto":
        return choice
    return "float32" if config["backend"] == "propainter" else "float16"


# Backends that config `roi.enabled: auto` processes in regions of interest (measured:
# docs/benchmarks.md, Region of interest).
ROI_AUTO_BACKENDS = ("classical", "propainter")


def roi_settings(config: Config) -> dict[str, Any] | None:
    """Config `roi` as the mask stages take it (`vanish.masks.write_masks_roi`), None when off.
    The region is capped by `max_side`; the classical backend's shots are cut at its
    `cut_threshold`, the propainter backend's clip is one shot (the reference propagates across
    the whole clip)."""
    section, backend = config["roi"], config["backend"]
    enabled = section["enabled"]
    if enabled == "auto":
        enabled = backend in ROI_AUTO_BACKENDS
    if not enabled:
        return None
    cuts = config["classical"]["cut_threshold"] if backend == "classical" else None
    return {
        "margin": section["margin"],
        "max_fraction": section["max_fraction"],
        "max_side": config["max_side"],
        "cut_threshold": cuts,
    }


@dataclass(frozen=True)
class FramesOptions:
    max_side: int | None
    folder_fps: float
    reuse_repeats: bool
    repeat_tolerance: float

    @classmethod
    def from_config(cls, config: Config) -> FramesOptions:
        r = config["repeats"]
        return cls(config["max_side"], config["frame_folder_fps"], r["reuse"], r["tolerance"])


@dataclass(frozen=True)
class MaskOptions:
    dilation: int
    max_coverage: float
    roi: Mapping[str, Any] | None

    @classmethod
    def from_config(cls, config: Config) -> MaskOptions:
        return cls(config["mask_dilation"], config["max_mask_coverage"], roi_settings(config))


@dataclass(frozen=True)
class DetectOptions:
    detector: str
    device: str
    batch: int
    tracker: str
    yolo: Mapping[str, Any]
    grounding_dino: Mapping[str, Any]
    ultralytics_dir: str

    @classmethod
    def from_config(cls, config: Config) -> DetectOptions:
        p = config["prompt"]
        return cls(
            p["detector"], p["device"], p["batch"], p["tracker"], p["yolo"],
            p["grounding_dino"], p["ultralytics_dir"],
        )  # fmt: skip


@dataclass(frozen=True)
class SelectOptions:
    device: str
    clip: Mapping[str, Any]
    select_options: Mapping[str, Any]

    @classmethod
    def from_config(cls, config: Config) -> SelectOptions:
        p = config["prompt"]
        return cls(p["device"], p["clip"], p["select"])


@dataclass(frozen=True)
class PromptMaskOptions:
    dilation: int
    device: str
    segmenter: str
    sam: Mapping[str, Any]
    sam2: Mapping[str, Any]
    batch: int
    mask_options: Mapping[str, Any]
    roi: Mapping[str, Any] | None

    @classmethod
    def from_config(cls, config: Config) -> PromptMaskOptions:
        p = config["prompt"]
        return cls(
            config["mask_dilation"], p["device"], p["segmenter"], p["sam"], p["sam2"],
            p["sam"]["batch"], p["masks"], roi_settings(config),
        )  # fmt: skip


@dataclass(frozen=True)
class ConceptMaskOptions:
    dilation: int
    device: str
    batch: int
    sam3: Mapping[str, Any]
    no_match: str
    roi: Mapping[str, Any] | None

    @classmethod
    def from_config(cls, config: Config) -> ConceptMaskOptions:
        p = config["prompt"]
        return cls(
            config["mask_dilation"], p["device"], p["batch"], p["sam3"], p["select"]["no_match"],
            roi_settings(config),
        )  # fmt: skip


@dataclass(frozen=True)
class DisFlowOptions:
    preset: str
    cut_threshold: float
    dtype: str

    @classmethod
    def from_config(cls, config: Config) -> DisFlowOptions:
        c = config["classical"]
        return cls(c["dis_preset"], c["cut_threshold"], flow_dtype(config))


@dataclass(frozen=True)
class InterpolationOptions:
    interpolation: str
    spatial: str
    spread: bool

    @classmethod
    def from_config(cls, config: Config) -> InterpolationOptions:
        c = config["classical"]
        return cls(c["interpolation"], c["spatial_fill"], c["fill_spread"])


@dataclass(frozen=True)
class AlignOptions:
    references: int
    span: int
    min_inliers: int
    max_error: float
    scope: str
    still_references: int

    @classmethod
    def from_config(cls, config: Config) -> AlignOptions:
        c = config["classical"]
        return cls(
            c["align_references"], c["align_span"], c["align_min_inliers"], c["align_max_error"],
            c["align_scope"], c["align_still_references"],
        )  # fmt: skip


@dataclass(frozen=True)
class RaftOptions:
    iterations: int
    device: str
    dtype: str

    @classmethod
    def from_config(cls, config: Config) -> RaftOptions:
        p = config["propainter"]
        return cls(p["raft_iterations"], p["device"], flow_dtype(config))


@dataclass(frozen=True)
class FlowCompletionOptions:
    device: str
    precision: str
    subvideo_length: int

    @classmethod
    def from_config(cls, config: Config) -> FlowCompletionOptions:
        p = config["propainter"]
        return cls(p["device"], p["precision"], p["subvideo_length"])


@dataclass(frozen=True)
class TransformerOptions:
    device: str
    precision: str
    neighbor_length: int
    ref_stride: int
    subvideo_length: int

    @classmethod
    def from_config(cls, config: Config) -> TransformerOptions:
        p = config["propainter"]
        return cls(
            p["device"], p["precision"], p["neighbor_length"], p["ref_stride"],
            p["subvideo_length"],
        )  # fmt: skip


# The published inference script propagates pixels in windows of min(100, subvideo_length)
# frames with 10 frames of context on each side (docs/architecture.md, orchestration).
REFERENCE_PROPAGATION_CAP, REFERENCE_PROPAGATION_PAD = 100, 10


@dataclass(frozen=True)
class PropagateOptions:
    interpolation: str
    chunk: int
    pad: int
    sweeps: str
    fb_tolerance: float

    @classmethod
    def from_config(cls, config: Config) -> PropagateOptions:
        """The propainter backend derives its windows from `propainter.subvideo_length` (one
        setting, as the reference: two that must agree drift apart); the classical backend has
        its own."""
        if config["backend"] == "propainter":
            length = config["propainter"]["subvideo_length"]
            chunk = min(REFERENCE_PROPAGATION_CAP, length)
            return cls("nearest", chunk, REFERENCE_PROPAGATION_PAD, "sequential", 1.0)
        c = config["classical"]
        return cls(
            c["interpolation"], min(REFERENCE_PROPAGATION_CAP, c["subvideo_length"]), c["pad"],
            c["sweeps"], c["fb_tolerance"],
        )  # fmt: skip


@dataclass(frozen=True)
class EncodeOptions:
    crf: int

    @classmethod
    def from_config(cls, config: Config) -> EncodeOptions:
        return cls(config["encode"]["crf"])


@dataclass(frozen=True)
class MetricsOptions:
    ssim_window: int
    baseline: bool

    @classmethod
    def from_config(cls, config: Config) -> MetricsOptions:
        m = config["metrics"]
        return cls(m["ssim_window"], m["telea_baseline"])


@dataclass(frozen=True)
class ReportOptions:
    width: int
    gif_frames: int

    @classmethod
    def from_config(cls, config: Config) -> ReportOptions:
        return cls(config["report"]["width"], config["report"]["gif_frames"])


# Config keys that shape a sample's pixels (recorded in provenance.json); the unused backend's
# section is left out.
RESULT_CONFIG_KEYS = (
    "backend", "max_side", "mask_dilation", "frame_folder_fps", "flow_storage", "seed",
    "classical", "propainter", "encode", "weights", "repeats", "roi",
)  # fmt: skip


@dataclass(frozen=True)
class ProvenanceOptions:
    config: Mapping[str, Any]
    repo: str

    @classmethod
    def from_config(cls, config: Config) -> ProvenanceOptions:
        unused = "propainter" if config["backend"] == "classical" else "classical"
        subset = {key: config[key] for key in RESULT_CONFIG_KEYS if key != unused}
        return cls(subset, str(REPO))


def _detector(config: Config) -> str:
    return config["prompt"]["detector"]


def _segmenter(config: Config) -> str:
    return config["prompt"]["segmenter"]


def _role(name: str) -> Callable[[Config], str]:
    return lambda config: name


def _dir(path: str) -> Output:
    return Output(path, directory=True)


FRAMES, MASKS, FLOWS, COMPLETED = "frames", "masks", "flows", "completed_flows"
PROPAGATED, ALIGNED, INPAINTED = "propagated", "aligned", "inpainted"
KEYFRAMES = "sheet:keyframes"  # user keyframes: known pixels of propagation and compositing
MODEL = {"model": True, "gpu": True, "mem_mb": 16000}
PREVIEW = Output("report/preview.gif", report=("preview.rst", "before / mask / after (animated)"))
STRIP = Output("report/frames.png", report=("strip.rst", "before / mask / after (stills)"))
TABLE = Output("report/metrics.tsv", report=("sample_metrics.rst", "metrics"))

STAGES: list[Stage] = [
    Stage("frames", "frames", "vanish.stages.frames:extract_frames",
          inputs={"video": "sheet:video"},
          outputs={"out_dir": (FRAMES, _dir("frames"))},
          options=FramesOptions.from_config, mem_mb=2000, runtime_min=20),
    Stage("masks_from_files", "masks", "vanish.stages.masks:masks_from_files", masks=FILES,
          inputs={"mask_dir": "sheet:masks", "frames_dir": FRAMES},
          outputs={"out_dir": (MASKS, _dir("masks"))},
          options=MaskOptions.from_config, mem_mb=2000, runtime_min=15),
    Stage("detect", "detect", "vanish.stages.detect:detect_objects", masks=PROMPT,
          inputs={"frames_dir": FRAMES}, params={"prompt": "sheet:prompt"},
          outputs={"out_path": ("detections", Output("detections.parquet"))},
          options=DetectOptions.from_config, weights=_detector, env="prompt", **MODEL),
    Stage("select", "select", "vanish.stages.select:select_objects", masks=PROMPT,
          inputs={"frames_dir": FRAMES, "detections": "detections"},
          params={"prompt": "sheet:prompt"},
          outputs={"out_path": ("selection", Output("selection.json"))},
          options=SelectOptions.from_config, weights=_role("clip"), env="prompt", **MODEL),
    Stage("masks_from_prompt", "masks", "vanish.stages.prompt_masks:masks_from_prompt",
          masks=PROMPT,
          inputs={"frames_dir": FRAMES, "detections": "detections", "selection": "selection"},
          outputs={"out_dir": (MASKS, _dir("masks"))},
          options=PromptMaskOptions.from_config, weights=_segmenter, env="prompt", **MODEL),
    Stage("masks_from_concepts", "masks", "vanish.stages.concept_masks:masks_from_concepts",
          masks=CONCEPT, inputs={"frames_dir": FRAMES}, params={"prompt": "sheet:prompt"},
          outputs={"out_dir": (MASKS, _dir("masks")),
                   "selection": ("selection", Output("selection.json"))},
          options=ConceptMaskOptions.from_config, weights=_role("sam3"), env="prompt", **MODEL),
    Stage("flows_classical", "flows", "vanish.stages.flows:classical_flows",
          backend="classical", sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS},
          outputs={"out_dir": (FLOWS, _dir("flows"))}, options=DisFlowOptions.from_config),
    Stage("flows_raft", "flows", "vanish.stages.flows:raft_flows",
          backend="propainter", sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS},
          outputs={"out_dir": (FLOWS, _dir("flows"))},
          options=RaftOptions.from_config, weights=_role("raft"), env="propainter", **MODEL),
    Stage("complete_classical", "complete", "vanish.stages.complete:classical_complete",
          backend="classical", sample_arg=False,
          inputs={"flows_dir": FLOWS, "masks_dir": MASKS},
          outputs={"out_dir": (COMPLETED, _dir("completed_flows"))}),
    Stage("complete_rfc", "complete", "vanish.stages.complete:rfc_complete",
          backend="propainter", sample_arg=False,
          inputs={"flows_dir": FLOWS, "masks_dir": MASKS},
          outputs={"out_dir": (COMPLETED, _dir("completed_flows"))},
          options=FlowCompletionOptions.from_config, weights=_role("flow_completion"),
          env="propainter", **MODEL),
    Stage("propagate", "propagate", "vanish.stages.propagate:propagate",
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS, "flows_dir": COMPLETED,
                  "keyframes": KEYFRAMES},
          outputs={"out_dir": (PROPAGATED, _dir("propagated"))},
          options=PropagateOptions.from_config, mem_mb=8000),
    Stage("align_classical", "align", "vanish.stages.align:classical_align",
          backend="classical", sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS, "flows_dir": COMPLETED,
                  "propagated_dir": PROPAGATED},
          outputs={"out_dir": (ALIGNED, _dir("aligned"))},
          options=AlignOptions.from_config, mem_mb=8000),
    Stage("fill_classical", "fill", "vanish.stages.fill:classical_fill",
          backend="classical", sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS, "flows_dir": COMPLETED,
                  "propagated_dir": ALIGNED, "keyframes": KEYFRAMES},
          outputs={"out_dir": (INPAINTED, _dir("inpainted"))},
          options=InterpolationOptions.from_config, mem_mb=8000),
    Stage("transformer", "fill", "vanish.stages.transformer:propainter_transformer",
          backend="propainter", sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS, "flows_dir": COMPLETED,
                  "propagated_dir": PROPAGATED, "keyframes": KEYFRAMES},
          outputs={"out_dir": (INPAINTED, _dir("inpainted"))},
          options=TransformerOptions.from_config, weights=_role("propainter"),
          env="propainter", runtime_min=120, **{**MODEL, "mem_mb": 24000}),
    Stage("encode", "encode", "vanish.stages.encode:encode", sample_arg=False,
          inputs={"inpainted_dir": INPAINTED, "frames_dir": FRAMES},
          outputs={"output": ("video", Output("removed.mp4"))},
          options=EncodeOptions.from_config, mem_mb=2000, runtime_min=20),
    # bookkeeping: after every timed stage (metrics reads their benchmark files)
    Stage("metrics", "metrics", "vanish.stages.metrics:compute_metrics", timed=False,
          inputs={"inpainted_dir": INPAINTED, "frames_dir": FRAMES, "masks_dir": MASKS,
                  "_video": "video", "ground_truth": "sheet:ground_truth",
                  "selection": "selection?", "benchmark_files": "benchmarks"},
          outputs={"output": ("metrics", Output("metrics.json"))},
          options=MetricsOptions.from_config, threads_arg=True, runtime_min=30),
    Stage("provenance", "provenance", "vanish.stages.provenance:write_provenance", timed=False,
          inputs={"_after": INPAINTED, "weights": "weights", "inputs": "sheet:inputs"},
          outputs={"output": ("provenance", Output("provenance.json"))},
          options=ProvenanceOptions.from_config, threads_arg=True, mem_mb=1000, runtime_min=10),
    Stage("report_sample", "report", "vanish.report:sample_report", timed=False,
          sample_arg=False,
          inputs={"frames_dir": FRAMES, "masks_dir": MASKS, "inpainted_dir": INPAINTED,
                  "metrics": "metrics"},
          outputs={"gif": ("preview", PREVIEW), "strip": ("strip", STRIP),
                   "table": ("table", TABLE)},
          options=ReportOptions.from_config, mem_mb=2000, runtime_min=10),
]  # fmt: skip

# Deliverables `rule all` asks for per sample (the rest is pulled in as their inputs).
TARGETS = ("video", "provenance", "preview")
BY_NAME = {stage.name: stage for stage in STAGES}
KEEP_ALL = "all"  # config `keep: all`: retain every stage output


def output_names() -> list[str]:
    """Every output name some stage writes, in table order (the valid `keep` entries)."""
    return list(dict.fromkeys(name for s in STAGES for name, _ in s.outputs.values()))


def kept_outputs(keep: str | list[str]) -> frozenset[str]:
    """The outputs retained after a sample is finished (config `keep`; docs/disk.md).

    The rest are Snakemake `temp()`: removed once every job reading them is done. The run's
    targets are always kept: Snakemake never removes a file the run was asked for, so listing
    them as removable would only mislead.
    """
    names = output_names() if keep == KEEP_ALL else keep
    return frozenset(names) | frozenset(TARGETS)


def sample_output(name: str) -> Output:
    """The file of the output called `name` (as the stage that writes it declares it)."""
    for stage in STAGES:
        for output_name, output in stage.outputs.values():
            if output_name == name:
                return output
    raise KeyError(f"no stage writes an output called {name!r}")


def stages_for(backend: str, masks: str) -> list[Stage]:
    """The stages one sample runs, in table order."""
    return [stage for stage in STAGES if stage.applies(backend, masks)]


def stages_in_use(backend: str) -> list[Stage]:
    """Every stage some sample may run under this backend (the rules of `granularity: stage`)."""
    return [stage for stage in STAGES if stage.backend in (None, backend)]


def timed_steps(backend: str, masks: str) -> list[str]:
    """The runtime entries of a sample's metrics, in run order."""
    return list(dict.fromkeys(s.step for s in stages_for(backend, masks) if s.timed))


def step_order() -> list[str]:
    """Every timed step in table order (the report's runtime axis)."""
    return list(dict.fromkeys(stage.step for stage in STAGES if stage.timed))


@cache
def produced(backend: str, masks: str) -> dict[str, Output]:
    """Output name -> file of every output a sample's stages write (cached: planning asks for
    it once per input of every job; do not modify the result)."""
    return {
        name: output
        for stage in stages_for(backend, masks)
        for name, output in stage.outputs.values()
    }


def shared_outputs(backend: str) -> dict[str, Output]:
    """Outputs every sample writes whatever its mask source (what a video job declares)."""
    others = [produced(backend, source) for source in MASK_SOURCES[1:]]
    files = produced(backend, FILES)
    return {name: out for name, out in files.items() if all(name in o for o in others)}


def weight_roles(backend: str, masks: str, config: Config) -> list[str]:
    """Roles of the checkpoints a sample's stages load, in run order."""
    return [s.weights(config) for s in stages_for(backend, masks) if s.weights is not None]


def stage_options(stage: Stage, config: Config) -> dict[str, Any]:
    """The stage's typed options as the keyword arguments of its function."""
    return asdict(stage.options(config)) if stage.options else {}


def sample_path(results: str | Path, sample: str, output: Output) -> str:
    """Where a sample's output lives."""
    return f"{str(results).rstrip('/')}/{sample}/{output.path}"


def markdown() -> str:
    """The stage table as docs/architecture.md shows it (a test keeps the copy current)."""
    lines = [
        "| rule | step | function | reads | writes | runs for | options | checkpoint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in STAGES:
        reads = ", ".join(sorted({v for k, v in s.inputs.items()}))
        writes = ", ".join(f"`{output.path}`" for _, output in s.outputs.values())
        runs = " ".join(x for x in (s.backend, f"{s.masks} masks" if s.masks else None) if x)
        options = s.options.__self__.__name__ if s.options else ""
        either = {"detector": "yolo / grounding_dino", "segmenter": "sam2 / sam"}
        role = s.weights({"prompt": either}) if s.weights else ""
        lines.append(
            f"| {s.name} | {s.step} | `{s.function}` | {reads} | {writes} | {runs or 'all'} "
            f"| {options} | {role} |"
        )
    return "\n".join(lines) + "\n"
