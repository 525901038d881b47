# PROVISIONAL (replaced by the weight-registry change)
WEIGHTS = plan.weight_specs(config)

for _role, _spec in WEIGHTS.items():

    rule:
        name:
            f"download_{_role}_weights"
        output:
            str(_spec.path),
        log:
            f"{RESULTS}/logs/download_{_role}_weights.log",
        localrule: True
        params:
            name=_role,
            url=_spec.url,
            sha256=_spec.sha256,
        script:
            "../../scripts/download_weights.py"
