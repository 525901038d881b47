# Vanish: remove objects from videos over whole datasets.
# Run the demo:   snakemake --cores all
# Run any sheet:  snakemake --cores N --config samples=PATH results=DIR


from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


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
        expand(f"{RESULTS}/{{sample}}/removed.mp4", sample=SAMPLES.index),
        expand(f"{RESULTS}/{{sample}}/provenance.json", sample=SAMPLES.index),
        f"{RESULTS}/metrics.csv",
        REPORT_FILES,
