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
        prompt=sample_prompt,
        detector=PROMPT_DETECTOR,
        weights=PROMPT.get("weights", {}),
        device=PROMPT_DEVICE,
        batch=PROMPT_BATCH,
        tracker=PROMPT.get("tracker", "bytetrack"),
        yolo=PROMPT.get("yolo", {}),
        grounding_dino=PROMPT.get("grounding_dino", {}),
        ultralytics_dir=PROMPT.get("ultralytics_dir", "resources/weights/ultralytics"),
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
        prompt=sample_prompt,
        weights=PROMPT.get("weights", {}),
        device=PROMPT_DEVICE,
        clip=PROMPT.get("clip", {}),
        select=PROMPT.get("select", {}),
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
        dilation=config["mask_dilation"],
        weights=PROMPT.get("weights", {}),
        device=PROMPT_DEVICE,
        sam=PROMPT.get("sam", {}),
        batch=PROMPT.get("sam", {}).get("batch", 4),
        masks=PROMPT.get("masks", {}),
    script:
        "../../scripts/masks_from_prompt.py"


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
