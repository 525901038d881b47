# Granularity `stage` (the default): one rule per entry of the stage table (vanish/table.py),
# each stage's output cached and resumed on its own. The backend decides which entries run; a
# sample's mask source (files or prompt) which mask rules apply to it. Every rule runs its stage
# function through scripts/stage.py with the arguments vanish/plan.py binds (params `call`), the
# same arguments a video job uses. List them with `snakemake --list-rules`.


for _stage in table.stages_in_use(BACKEND):

    rule:
        name:
            _stage.name
        input:
            unpack(stage_inputs(_stage)),
        output:
            **{key: declared(name, output) for key, (name, output) in _stage.outputs.items()},
        log:
            stage_log(_stage.step),
        benchmark:
            stage_benchmark(_stage.step)
        wildcard_constraints:
            sample=stage_samples(_stage),
        group:
            STAGE_GROUP
        conda:
            f"../../envs/{_stage.env}.yaml"
        threads: job_threads(_stage)
        resources:
            mem_mb=per_attempt(_stage.mem_mb),
            runtime=per_attempt(_stage.runtime_min),
            gpu=int(_stage.gpu),
            cpus_per_task=job_threads(_stage),
        params:
            call=stage_call(_stage),
            function=_stage.function,
            threads_arg=_stage.threads_arg,
        script:
            "../../scripts/stage.py"
