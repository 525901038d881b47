# Every network's weights (vanish/weights.py): one download rule per role, each fetching the file
# (or folder) its config entry resolves to and verifying its pinned sha256. Included for every
# backend and granularity, so that `snakemake --cores 1 download_weights` always works.
from vanish.weights import PROPAINTER_ROLES, prompt_roles

WEIGHTS = plan.weight_specs(config)


for _role, _spec in WEIGHTS.items():

    rule:
        name:
            f"download_{_role}_weights"
        output:
            directory(str(_spec.path)) if _spec.folder else str(_spec.path),
        log:
            f"{RESULTS}/logs/download_{_role}_weights.log",
        localrule: True
        conda:
            "../../envs/core.yaml"
        params:
            role=_spec.role,
            name=_spec.name,
            url=_spec.url,
            sha256=_spec.sha256,
            licence=_spec.licence,
            folder=_spec.folder,
        script:
            "../../scripts/download_weights.py"


rule download_weights:
    input:
        [
            str(WEIGHTS[role].path)
            for role in (
                *PROPAINTER_ROLES,
                *prompt_roles(config["prompt"]["detector"], config["prompt"]["segmenter"]),
            )
        ],
    localrule: True
