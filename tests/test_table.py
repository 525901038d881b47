"""The stage table (vanish/table.py): each stage declared once, everything else derived."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cluster.scenario import make_samples
from synthetic import REPO, SNAKEMAKE

from vanish import io, plan, report, table
from vanish.config import default_config
from vanish.pipeline import import_function

CONFIG = default_config()
ROWS = {
    table.FILES: {"video": "in/v.mp4", "masks": "in/m", "prompt": "", "ground_truth": "in/gt"},
    table.PROMPT: {"video": "in/v.mp4", "masks": "", "prompt": "the dog", "ground_truth": ""},
}


def calls(backend: str, masks: str, config: dict | None = None) -> dict[str, dict]:
    """Every stage's bound keyword arguments for one sample, by rule name."""
    config = {**(config or CONFIG), "backend": backend}
    sample = plan.Sample("s1", ROWS[masks], "results", backend)
    return {entry["name"]: entry["call"] for entry in plan.video_calls(config, sample)}


@pytest.mark.parametrize("backend", ["classical", "propainter"])
@pytest.mark.parametrize("masks", [table.FILES, table.PROMPT])
def test_every_bound_argument_is_a_parameter_of_the_stage_function(backend, masks) -> None:
    for name, call in calls(backend, masks).items():
        stage = table.BY_NAME[name]
        parameters = inspect.signature(import_function(stage.function)).parameters
        required = {p for p, spec in parameters.items() if spec.default is inspect.Parameter.empty}
        given = set(call) | ({"threads"} if stage.threads_arg else set())
        assert given <= set(parameters), (name, given - set(parameters))
        assert required <= given, (name, required - given)
        # no default below the config layer: what the workflow supplies, the function requires
        assert not given - required, (name, "has defaults", given - required)


def test_every_input_comes_from_an_earlier_stage() -> None:
    written: set[str] = set()
    special = {"benchmarks", "weights"}
    for stage in table.STAGES:
        for source in stage.inputs.values():
            if not source.startswith(plan.SHEET) and source not in special:
                assert source.removesuffix(plan.OPTIONAL) in written, (stage.name, source)
        written |= {name for name, _ in stage.outputs.values()}


@pytest.mark.parametrize("masks", [table.FILES, table.PROMPT])
def test_metrics_time_exactly_the_stages_the_sample_runs(masks) -> None:
    files = calls("classical", masks)["metrics"]["benchmark_files"]
    steps = [Path(path).stem for path in files]
    prompt_steps = ["detect", "select"] if masks == table.PROMPT else []
    assert steps == ["frames", *prompt_steps, "masks", "flows", "complete", "propagate", "align",
                     "fill", "encode"]  # fmt: skip


@pytest.mark.parametrize("subvideo_length", [2, 7, 16, 80, 100, 150])
def test_propainter_propagation_windows_follow_its_subvideo_length(subvideo_length) -> None:
    config = {**CONFIG, "propainter": {**CONFIG["propainter"], "subvideo_length": subvideo_length}}
    config["classical"] = {**CONFIG["classical"], "subvideo_length": 5, "pad": 2}
    propagate = calls("propainter", table.FILES, config)["propagate"]
    assert (propagate["chunk"], propagate["pad"]) == (min(100, subvideo_length), 10)
    assert propagate["interpolation"] == "nearest"


def test_a_setting_of_the_other_backend_leaves_a_sample_unchanged() -> None:
    before = calls("classical", table.FILES)
    changed = {**CONFIG, "propainter": {**CONFIG["propainter"], "ref_stride": 5}}
    assert calls("classical", table.FILES, changed) == before


def test_provenance_lists_the_weights_the_sample_loads() -> None:
    learned = calls("propainter", table.PROMPT)["provenance"]["weights"]
    assert list(learned) == ["yolo", "clip", "sam2", "raft", "flow_completion", "propainter"]
    assert calls("classical", table.FILES)["provenance"]["weights"] == {}


# ---- adding a stage: its module and its table entry, nothing else ----------------------------

TOY_MODULE = '''
"""A toy stage: the hole's pixel count per frame."""
from vanish import io


def hole_area(sample: str, masks_dir: str, output: str, scale: int) -> None:
    areas = [int(m.sum()) * scale for m in io.read_masks(io.processing_masks_dir(masks_dir))]
    io.write_json(output, {"sample": sample, "areas": areas})
'''

TOY_ENTRY = """

@dataclass(frozen=True)
class ToyOptions:
    scale: int

    @classmethod
    def from_config(cls, config: Config) -> "ToyOptions":
        return cls(2)


STAGES.insert(
    [stage.name for stage in STAGES].index("encode"),
    Stage("hole_area", "toy", "vanish.stages.toy:hole_area", inputs={"masks_dir": MASKS},
          outputs={"output": ("toy", Output("toy.json"))}, options=ToyOptions.from_config),
)
"""


def copy_with_toy_stage(root: Path) -> Path:
    """The repository's files plus a toy stage module and its table entry."""
    repo = root / "repo"
    skip = shutil.ignore_patterns(".git", ".venv", ".snakemake", "results*", "demo", "__pycache__")
    shutil.copytree(REPO, repo, ignore=skip)
    (repo / "vanish" / "stages" / "toy.py").write_text(TOY_MODULE)
    with (repo / "vanish" / "table.py").open("a") as handle:
        handle.write(TOY_ENTRY)
    return repo


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["stage", "video"])
def test_a_stage_added_to_the_table_runs_and_is_timed_and_reported(tmp_path, granularity) -> None:
    repo = copy_with_toy_stage(tmp_path)
    sheet = make_samples(tmp_path, count=1, frames=5, size=(48, 64))
    command = [
        *SNAKEMAKE, "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path),
        "--configfile", str(repo / "config" / "config.yaml"), "--cores", "2", "--config",
        f"samples={sheet}", "results=results", f"granularity={granularity}", "keep=all",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo)}
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    toy = io.read_json(tmp_path / "results" / "clip0" / "toy.json")
    assert len(toy["areas"]) == 5 and all(area > 0 for area in toy["areas"])
    metrics = tmp_path / "results" / "clip0" / "metrics.json"
    assert "toy" in io.read_json(metrics)["runtime_s"]
    _, runtime = report.dataset_frames([metrics])
    assert "toy" in set(runtime["stage"])
    assert "seconds_per_frame_toy" in (tmp_path / "results" / "metrics.csv").read_text()


def test_the_design_document_shows_the_table_as_it_is() -> None:
    document = (REPO / "docs" / "architecture.md").read_text()
    assert table.markdown() in document, "paste vanish.table.markdown() into docs/architecture.md"
