"""Snakemake adapter: the report's figures and table of one sample.

No vanish.runner here: these jobs only draw, and importing torch would double their cost.
"""

import sys

from vanish.report import sample_previews, write_sample_table

# errors (tracebacks) go to the rule's log
sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115
sample_previews(
    frames_dir=snakemake.input.frames,
    masks_dir=snakemake.input.masks,
    inpainted_dir=snakemake.input.inpainted,
    gif=snakemake.output.preview,
    strip=snakemake.output.strip,
    **dict(snakemake.params.items()),
)
write_sample_table(snakemake.input.metrics, snakemake.output.table)
