# Granularity `stage` (the default): one job per stage and video, each stage's output cached
# and resumed on its own. The backend picks the rules of flows, complete and fill.


include: "frames.smk"
include: "masks.smk"
include: "prompt.smk"


if BACKEND == "propainter":

    include: "propainter.smk"

else:

    include: "classical.smk"


include: "propagate.smk"
include: "encode.smk"
include: "metrics.smk"
include: "provenance.smk"
include: "report.smk"
