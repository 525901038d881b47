"""Snakemake adapter: fetch one network's weights (file or folder), verified by sha256."""

from pathlib import Path

from vanish.runner import run_stage
from vanish.weights import WeightSpec, download

run_stage(
    snakemake,
    download,
    spec=WeightSpec(path=Path(snakemake.output[0]), **dict(snakemake.params.items())),
)
