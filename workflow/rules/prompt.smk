# Masks from a text prompt (sheet rows with a 'prompt' and no 'masks'):
# detect (tracked boxes) -> select (CLIP picks the tracks the prompt names) -> masks_from_prompt
# (SAM masks of those tracks, written like masks_from_files writes them).


rule detect:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        weights=prompt_weight(PROMPT_DETECTOR),
    output:
        f"{RESULTS}/{{sample}}/detections.parquet",
    log:
        stage_log("detect"),
    benchmark:
        stage_benchmark("detect")
    wildcard_constraints:
        sample=sample_pattern(PROMPT_SAMPLES),
    conda:
        "../../envs/prompt.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["detect"],
        prompt=sample_prompt,
    script:
        "../../scripts/detect.py"


rule select:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        detections=f"{RESULTS}/{{sample}}/detections.parquet",
        weights=prompt_weight("clip"),
    output:
        f"{RESULTS}/{{sample}}/selection.json",
    log:
        stage_log("select"),
    benchmark:
        stage_benchmark("select")
    wildcard_constraints:
        sample=sample_pattern(PROMPT_SAMPLES),
    conda:
        "../../envs/prompt.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["select"],
        prompt=sample_prompt,
    script:
        "../../scripts/select.py"


rule masks_from_prompt:
    input:
        frames=f"{RESULTS}/{{sample}}/frames",
        detections=f"{RESULTS}/{{sample}}/detections.parquet",
        selection=f"{RESULTS}/{{sample}}/selection.json",
        weights=prompt_weight("sam"),
    output:
        directory(f"{RESULTS}/{{sample}}/masks"),
    log:
        stage_log("masks"),
    benchmark:
        stage_benchmark("masks")
    wildcard_constraints:
        sample=sample_pattern(PROMPT_SAMPLES),
    conda:
        "../../envs/prompt.yaml"
    threads: config["threads"]
    params:
        **STAGE_PARAMS["masks_from_prompt"],
    script:
        "../../scripts/masks_from_prompt.py"
