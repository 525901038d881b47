"""Snakemake adapter of every per-stage rule: call the stage table's function with the
arguments vanish/plan.py bound for this sample (the same a video job uses)."""

from vanish.pipeline import import_function
from vanish.runner import run_stage

call = dict(snakemake.params.call)
if snakemake.params.threads_arg:
    call["threads"] = snakemake.threads
run_stage(snakemake, import_function(snakemake.params.function), **call)
