# Vanish: remove objects from videos over whole datasets.
# Run the demo:   snakemake --cores all
# Run any sheet:  snakemake --cores N --config samples=PATH results=DIR
# The stages are declared once, in the stage table (vanish/table.py); docs/architecture.md.


from snakemake.utils import min_version

from vanish.config import validate_config

min_version("9.0")


configfile: "config/config.yaml"


# every default filled from workflow/schemas/config.schema.yaml; an unknown key fails here
config.update(validate_config(config))


include: "workflow/rules/common.smk"
include: "workflow/rules/resume.smk"


wildcard_constraints:
    sample=SAMPLE_ID.pattern.strip("^$"),
    clip=SAMPLE_ID.pattern.strip("^$"),


include: "workflow/rules/demo.smk"
include: "workflow/rules/weights.smk"


if GRANULARITY == "video":

    include: "workflow/rules/video.smk"

else:

    include: "workflow/rules/stages.smk"


include: "workflow/rules/dataset.smk"


rule all:
    default_target: True
    input:
        expand(TARGETS, sample=SAMPLES.index),
        f"{RESULTS}/metrics.csv",
        f"{RESULTS}/report/quality.png",
