# Checkpoints of the propainter backend: fetched from their pinned URLs, verified by sha256.
# Included for every backend so that `snakemake --cores 1 download_weights` always works.

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
