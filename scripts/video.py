"""Snakemake adapter of granularity `video`: every stage of one video in one job."""

from vanish.pipeline import run_video
from vanish.runner import run_stage

job = dict(snakemake.params.job)
job["provenance"] = {**job["provenance"], "threads": snakemake.threads}
# a prompt sample's detections and selection: written by the job, not declared by the rule
outputs = {**dict(snakemake.output.items()), **job.pop("prompt_files")}
params = job.pop("stages")
run_stage(
    snakemake,
    run_video,
    sample=snakemake.wildcards.sample,
    backend=snakemake.params.backend,
    inputs=job,
    outputs=outputs,
    params=params,
    benchmark_dir=snakemake.params.benchmarks,
)
