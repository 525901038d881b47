# Checkpoints of the propainter backend and of the prompt path's models: fetched from their
# pinned URLs, verified by sha256. Included for every backend and granularity, so that
# `snakemake --cores 1 download_weights` (or download_prompt_weights) always works.

for _name, _spec in WEIGHTS.items():

    rule:
        name:
            f"download_{_name}_weights"
        output:
            str(_spec.path),
        log:
            f"{RESULTS}/logs/download_{_name}_weights.log",
        localrule: True
        conda:
            "../../envs/propainter.yaml"
        params:
            name=_name,
            url=_spec.url,
            sha256=_spec.sha256,
        script:
            "../../scripts/download_weights.py"


rule download_weights:
    input:
        [weight_file(name) for name in WEIGHTS],
    localrule: True


for _name, _spec in PROMPT_WEIGHTS.items():

    rule:
        name:
            f"download_prompt_{_name}_weights"
        output:
            directory(str(_spec.path)) if _name == "grounding_dino" else str(_spec.path),
        log:
            f"{RESULTS}/logs/download_prompt_{_name}_weights.log",
        localrule: True
        params:
            spec=_spec,
        run:
            from vanish.models.runtime import download

            with open(log[0], "w") as handle:
                download(params.spec, log=lambda text: print(text, file=handle, flush=True))


rule download_prompt_weights:
    input:
        [prompt_weight(name) for name in (PROMPT_DETECTOR, "clip", "sam")],
    localrule: True
