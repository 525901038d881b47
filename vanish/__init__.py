"""Vanish: remove objects from videos, as a Snakemake workflow over whole datasets."""

__version__ = "0.1.0"
