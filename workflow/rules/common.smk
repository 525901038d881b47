# Shared setup: the validated sample sheet and helpers used by every rule file.

import pandas as pd
from snakemake.logging import logger
from snakemake.utils import validate

from vanish.pipeline import METRIC_STAGES, model_weight_paths, stage_params, video_params
from vanish.samples import SAMPLE_ID, read_sample_sheet, validate_sample_sheet

RESULTS = config["results"].rstrip("/")
BACKEND = config["backend"]
GRANULARITY = config["granularity"]
# keyword arguments of every stage function by rule name (vanish/pipeline.py)
STAGE_PARAMS = stage_params(config)
DEMO_DIR = config.get("demo", {}).get("folder", "resources/demo")
DEMO_FILES = {
    f"{DEMO_DIR}/{clip}/{part}"
    for clip in config.get("demo", {}).get("clips", {})
    for part in ("video.mp4", "masks")
}

_sheet = read_sample_sheet(config["samples"])
validate(_sheet, "../schemas/samples.schema.yaml")
SAMPLES = validate_sample_sheet(_sheet, config["samples"], producible=DEMO_FILES)

# Planning costs Snakemake about 1.5 ms a job, and a video is 8-10 jobs at this granularity.
LARGE_DATASET = 1000
if GRANULARITY == "stage" and len(SAMPLES) >= LARGE_DATASET:
    logger.warning(
        f"{len(SAMPLES)} samples at one job per stage: planning alone takes about "
        f"{len(SAMPLES) * 0.017:.0f} s. For large datasets, --config granularity=video runs each "
        "video in one job (same results; docs/cluster.md)."
    )


def sample_row(wildcards):
    """The sample sheet row of a job's sample."""
    return SAMPLES.loc[wildcards.sample]


def ground_truth(wildcards):
    """The sample's ground truth file or folder, if the sheet gives one."""
    path = sample_row(wildcards)["ground_truth"]
    return [path] if path else []


def prompt_selection(wildcards):
    """The prompt path's selection.json (why tracks were chosen), for prompt samples only."""
    if wildcards.sample in PROMPT_SAMPLE_SET:
        return [f"{RESULTS}/{wildcards.sample}/selection.json"]
    return []


from vanish.weights import weight_specs

WEIGHTS = weight_specs(config)


def weight_file(name):
    """A network's checkpoint path as an input: a missing file triggers its download."""
    return str(WEIGHTS[name].path)


def stage_log(rule_name):
    """Log file of one rule for one sample."""
    return f"{RESULTS}/logs/{{sample}}/{rule_name}.log"


def stage_benchmark(rule_name):
    """Snakemake benchmark file of one rule for one sample (runtime in metrics)."""
    return f"{RESULTS}/benchmarks/{{sample}}/{rule_name}.tsv"


# Config keys that shape a sample's pixels (recorded in provenance.json).
RESULT_CONFIG_KEYS = (
    "backend",
    "max_side",
    "mask_dilation",
    "frame_folder_fps",
    "flow_storage",
    "seed",
    "classical",
    "propagate",
    "propainter",
    "encode",
)


def result_config():
    """The config subset that determines the result (not the unused backend's settings)."""
    unused = "propainter" if BACKEND == "classical" else "classical"
    return {key: config[key] for key in RESULT_CONFIG_KEYS if key in config and key != unused}


def used_weights(wildcards):
    """Weight files that produced a sample's result (name -> path)."""
    return model_weight_paths(config, prompt=wildcards.sample in PROMPT_SAMPLE_SET)


# Mask files in the sheet win (masks_from_files); a row with
# only a text prompt goes through detect -> select -> masks_from_prompt (workflow/rules/prompt.smk).
FILE_MASK_SAMPLES = [s for s in SAMPLES.index if SAMPLES.loc[s, "masks"]]
PROMPT_SAMPLES = [
    s for s in SAMPLES.index if not SAMPLES.loc[s, "masks"] and SAMPLES.loc[s, "prompt"]
]
PROMPT_SAMPLE_SET = set(PROMPT_SAMPLES)


def sample_pattern(samples):
    """Wildcard regex matching exactly these sample ids (nothing when the list is empty)."""
    import re

    return "|".join(re.escape(s) for s in samples) or "(?!x)x"


# Settings and weights of the prompt path (workflow/rules/prompt.smk).
from vanish.models.runtime import weight_specs as prompt_weight_specs

PROMPT = config.get("prompt", {})
PROMPT_WEIGHTS = prompt_weight_specs(PROMPT.get("weights"))
PROMPT_DETECTOR = PROMPT.get("detector", "yolo")


def prompt_weight(name):
    """A prompt model's weight file (or folder), an input of its stage; missing, it is fetched."""
    return str(PROMPT_WEIGHTS[name].path)


def sample_prompt(wildcards):
    """The sample sheet's text prompt of a job's sample."""
    return sample_row(wildcards)["prompt"]


def sample_report_outputs():
    """A sample's report figures (outputs marked for `snakemake --report`), for either
    granularity: the before/mask/after GIF and still strip, and its metrics table."""

    def figure(name, caption, label):
        return report(
            f"{RESULTS}/{{sample}}/report/{name}",
            caption=f"../report/{caption}",
            category="Samples",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": label},
        )

    return {
        "preview": figure("preview.gif", "preview.rst", "before / mask / after (animated)"),
        "strip": figure("frames.png", "strip.rst", "before / mask / after (stills)"),
        "table": figure("metrics.tsv", "sample_metrics.rst", "metrics"),
    }


# Granularity video (video.smk): one job per video.
VIDEO_STAGE_OUTPUTS = {
    "frames": "frames",
    "masks": "masks",
    "flows": "flows",
    "completed_flows": "completed_flows",
    "propagated": "propagated",
    "inpainted": "inpainted",
}
VIDEO_FILE_OUTPUTS = {
    "video": "removed.mp4",
    "metrics": "metrics.json",
    "provenance": "provenance.json",
}
VIDEO_PROMPT_FILES = {"detections": "detections.parquet", "selection": "selection.json"}


def video_outputs():
    """Every file and folder one video's job declares, named as run_video expects them."""
    return {
        **{
            key: directory(f"{RESULTS}/{{sample}}/{name}")
            for key, name in VIDEO_STAGE_OUTPUTS.items()
        },
        **{key: f"{RESULTS}/{{sample}}/{name}" for key, name in VIDEO_FILE_OUTPUTS.items()},
        **sample_report_outputs(),
    }


def video_inputs(wildcards):
    """The sample's video, mask folder, ground truth and the weight files its stages load."""
    row = sample_row(wildcards)
    inputs = {"video": row["video"], **used_weights(wildcards)}
    if wildcards.sample not in PROMPT_SAMPLE_SET:
        inputs["masks"] = row["masks"]
    if row["ground_truth"]:
        inputs["ground_truth"] = row["ground_truth"]
    return inputs


def video_job_inputs(wildcards):
    """What run_video reads besides its outputs: paths, prompt, weights, provenance."""
    row = sample_row(wildcards)
    prompt = wildcards.sample in PROMPT_SAMPLE_SET
    weights = used_weights(wildcards)
    prompt_files = {
        key: f"{RESULTS}/{wildcards.sample}/{name}" for key, name in VIDEO_PROMPT_FILES.items()
    }
    return {
        "prompt_files": prompt_files if prompt else {},
        "video": row["video"],
        "masks": row["masks"],
        "prompt": row["prompt"],
        "ground_truth": row["ground_truth"],
        "weights": weights,
        "stages": video_params(STAGE_PARAMS, BACKEND, prompt),
        "provenance": {
            "inputs": {key: row[key] for key in ("video", "masks", "ground_truth")},
            "weights": weights,
            "config": result_config(),
            "repo": workflow.basedir,
        },
    }


def needs_gpu(wildcards):
    """1 where a stage of the video runs a model (propainter backend, prompt path), else 0."""
    return int(BACKEND == "propainter" or wildcards.sample in PROMPT_SAMPLE_SET)


def video_mem_mb(wildcards, attempt):
    """The widest stage's memory (as the per-stage rules ask in profiles/default), more on retry:
    the transformer 24 GB, the prompt models 16 GB, the classical fill 8 GB."""
    if BACKEND == "propainter":
        return 24000 * attempt
    return (16000 if wildcards.sample in PROMPT_SAMPLE_SET else 8000) * attempt
