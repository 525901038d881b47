# Shared setup: the validated sample sheet and the helpers that bind the stage table
# (vanish/table.py) to Snakemake, for both granularities.

from functools import cache

from snakemake.logging import logger
from snakemake.utils import validate

from vanish import plan, table
from vanish.samples import SAMPLE_ID, read_sample_sheet, validate_sample_sheet

RESULTS = config["results"].rstrip("/")
BACKEND = config["backend"]
GRANULARITY = config["granularity"]
DEMO_DIR = config["demo"]["folder"]
DEMO_FILES = {
    f"{DEMO_DIR}/{clip}/{part}"
    for clip in config["demo"]["clips"]
    for part in ("video.mp4", "masks")
}

_sheet = read_sample_sheet(config["samples"])
validate(_sheet, "../schemas/samples.schema.yaml")
# ground truth headers are read where jobs are planned, not again in every cluster job
SAMPLES = validate_sample_sheet(
    _sheet, config["samples"], producible=DEMO_FILES, probe_ground_truth=not workflow.remote_exec
)
ROWS = SAMPLES.to_dict("index")

# Planning costs Snakemake about 1.5 ms a job, and a video is 8-10 jobs at this granularity.
LARGE_DATASET = 1000
if GRANULARITY == "stage" and len(SAMPLES) >= LARGE_DATASET:
    logger.warning(
        f"{len(SAMPLES)} samples at one job per stage: planning alone takes about "
        f"{len(SAMPLES) * 0.017:.0f} s. For large datasets, --config granularity=video runs each "
        "video in one job (same results; docs/cluster.md)."
    )

# Mask files in the sheet win; a row with only a text prompt goes through detect -> select ->
# masks_from_prompt, or masks_from_concepts alone with prompt.detector sam3.
DETECTOR = config["prompt"]["detector"]
SAMPLES_BY_MASKS = {
    source: [s for s, row in ROWS.items() if plan.mask_source(row, DETECTOR) == source]
    for source in table.MASK_SOURCES
}


@cache
def bound_sample(sample):
    """A sheet row bound to this run's results folder and backend (vanish/plan.py)."""
    return plan.Sample(sample, ROWS[sample], RESULTS, BACKEND, DETECTOR)


def sample_pattern(samples):
    """Wildcard regex matching exactly these sample ids (nothing when the list is empty)."""
    import re

    return "|".join(re.escape(s) for s in samples) or "(?!x)x"


def sample_file(output):
    """A sample's output file as a pattern with the {sample} wildcard."""
    return table.sample_path(RESULTS, "{sample}", output)


def stage_log(step):
    """Log file of one stage for one sample."""
    return plan.log_path(RESULTS, "{sample}", step)


def stage_benchmark(step):
    """Snakemake benchmark file of one stage for one sample (its runtime in metrics)."""
    return plan.benchmark_path(RESULTS, "{sample}", step)


# Outputs retained once a sample is finished (config `keep`); the others are temp(): Snakemake
# removes them once every job reading them is done, and a finished run stays up to date without
# them (docs/disk.md). `--notemp` keeps them all.
KEPT = table.kept_outputs(config["keep"])


def declared(name, output):
    """An output as Snakemake declares it: folders as directory(), report figures as report(),
    and temp() unless config `keep` retains it."""
    path = sample_file(output)
    if output.directory:
        path = directory(path)
    elif output.report:
        caption, label = output.report
        path = report(
            path,
            caption=f"../report/{caption}",
            category="Samples",
            subcategory="{sample}",
            labels={"sample": "{sample}", "figure": label},
        )
    return path if name in KEPT else temp(path)


def per_attempt(megabytes_or_minutes):
    """A resource that grows with each retry (a job killed for memory or time asks for more)."""
    return lambda wildcards, attempt: megabytes_or_minutes * attempt


def job_threads(stage):
    """Model stages use config `threads`; light stages one (oversubscribed OpenMP is far slower)."""
    return config["threads"] if stage.model else 1


# What a run produces per sample: the deliverables of the stage table, plus the dataset files.
TARGETS = [
    sample_file(output)
    for name, output in table.shared_outputs(BACKEND).items()
    if name in table.TARGETS
]


# Granularity stage (stages.smk): one rule per stage table entry.

# On a cluster every stage rule joins the group `video`, so a video's stages are one cluster job
# (docs/cluster.md). Inside that job (remote execution) they must stay ungrouped: the cluster
# job's own Snakemake would otherwise run the whole group as one step and, when that step is
# cancelled or killed, delete the outputs of every stage in it, finished ones included, which a
# resumed run then has to redo (caught by tests/test_cluster.py's kill-and-resume test).
STAGE_GROUP = None if workflow.remote_exec else "video"


def stage_inputs(stage):
    """The files a stage's job reads for one sample (upstream outputs, inputs, checkpoints)."""
    return lambda wildcards: plan.input_files(stage, config, bound_sample(wildcards.sample))


def stage_call(stage):
    """The keyword arguments of the stage's function for one sample."""
    return lambda wildcards: plan.stage_call(stage, config, bound_sample(wildcards.sample))


def stage_samples(stage):
    """The samples a stage applies to, as a wildcard pattern."""
    if stage.masks is None:
        return SAMPLE_ID.pattern.strip("^$")
    return sample_pattern(SAMPLES_BY_MASKS[stage.masks])


# Granularity video (video.smk): one job per video.
def video_inputs(wildcards):
    """The sample's own files and the checkpoints its stages load."""
    sample = bound_sample(wildcards.sample)
    return {**plan.sheet_input_files(sample), **plan.used_weights(config, sample)}


def video_calls(wildcards):
    """Every stage's function and arguments for this video, in table order."""
    return plan.video_calls(config, bound_sample(wildcards.sample))


def video_stages(wildcards):
    """The stages this video runs."""
    return table.stages_for(BACKEND, bound_sample(wildcards.sample).masks)


def video_gpu(wildcards):
    """1 where a stage of the video runs a model on a GPU (propainter backend, prompt path)."""
    return int(any(stage.gpu for stage in video_stages(wildcards)))


def video_mem_mb(wildcards, attempt):
    """The widest stage's memory, more on each retry."""
    return max(stage.mem_mb for stage in video_stages(wildcards)) * attempt
