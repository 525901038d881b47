# Masks given as files (DAVIS-style folders): validated, binarised, dilated.


rule masks_from_files:
    input:
        masks=lambda wc: sample_row(wc)["masks"],
        frames=f"{RESULTS}/{{sample}}/frames",
    output:
        directory(f"{RESULTS}/{{sample}}/masks"),
    log:
        stage_log("masks"),
    benchmark:
        stage_benchmark("masks")
    wildcard_constraints:
        sample=sample_pattern(FILE_MASK_SAMPLES),
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        **STAGE_PARAMS["masks_from_files"],
    script:
        "../../scripts/masks_from_files.py"
