"""The config layer: the schema is the one source of defaults; unknown keys fail early."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from cluster.scenario import make_samples
from synthetic import REPO, workflow_command

from vanish.config import ConfigError, default_config, load_schema, markdown_table, validate_config


@pytest.mark.parametrize(
    ("config", "key", "place", "closest"),
    [
        ({"mask_dilaton": 3}, "mask_dilaton", "at the top level", "mask_dilation"),
        ({"propainter": {"raft_iteration": 3}}, "raft_iteration", "in 'propainter'",
         "raft_iterations"),
        ({"prompt": {"sam": {"bach": 1}}}, "bach", "in 'prompt.sam'", "batch"),
    ],
)  # fmt: skip
def test_an_unknown_key_names_its_place_and_the_closest_valid_key(config, key, place, closest):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert f"unknown config key '{key}' {place}; did you mean '{closest}'?" in str(error.value)


def test_validation_fills_every_default_of_the_schema() -> None:
    config = validate_config({"propainter": {"raft_iterations": 3}})
    assert config["propainter"]["raft_iterations"] == 3
    assert config["propainter"]["subvideo_length"] == 80
    assert config["prompt"]["select"]["no_match"] == "passthrough"
    assert config["weights"]["sam"] == "sam_vit_h"


def test_a_wrong_type_is_refused_with_its_key() -> None:
    with pytest.raises(ConfigError, match="config 'encode.crf'"):
        validate_config({"encode": {"crf": "high"}})


def test_a_sam_architecture_must_match_its_checkpoint() -> None:
    with pytest.raises(ConfigError, match="prompt.sam.model"):
        validate_config({"prompt": {"sam": {"model": "vit_b"}}})


def test_an_fsr_spatial_fill_with_plain_opencv_is_refused_before_any_job(monkeypatch):
    monkeypatch.setattr("vanish.config.opencv_contrib_installed", lambda: False)
    for config in ({}, {"classical": {"spatial_fill": "fsr_mean"}}):  # {}: the default, auto
        with pytest.raises(ConfigError, match="classical.spatial_fill.*not the contrib build"):
            validate_config(config)
    validate_config({"classical": {"spatial_fill": "mean"}})
    validate_config({"backend": "propainter"})  # no classical fill


def test_the_opencv_build_is_read_from_its_version_file(tmp_path: Path) -> None:
    from vanish.config import contrib_flag, opencv_contrib_installed

    version = tmp_path / "version.py"
    for text, flag in (("contrib = True\n", True), ("contrib = False\n", False), ("x = 1\n", None)):
        version.write_text(f'opencv_version = "5.1.0.95"\n{text}headless = True\n')
        assert contrib_flag(version) is flag
    assert contrib_flag(tmp_path / "missing.py") is None
    assert opencv_contrib_installed() is True  # this environment, as `make install` sets it up


def schema_keys(schema: dict, prefix: str = ""):
    """(key, subschema) of every described key, depth first."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}", sub
        yield from schema_keys(sub, f"{prefix}{name}.")


def test_every_key_is_described_and_defaulted_and_closed() -> None:
    schema = load_schema()
    assert schema["additionalProperties"] is False
    for key, sub in schema_keys(schema):
        if key.startswith("prompt.sam.model."):
            continue  # the fields of a custom test architecture, required when given
        assert sub.get("description"), key
        assert "default" in sub, key
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, key


def test_config_yaml_repeats_only_schema_defaults() -> None:
    given = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    defaults = default_config()
    for key, value in given.items():
        if key != "demo":  # the demo dataset is data, not a default
            assert value == defaults[key], key


def test_config_readme_lists_every_key_as_the_schema_says() -> None:
    readme = (REPO / "config" / "README.md").read_text()
    assert markdown_table() in readme, "regenerate: python -m vanish.config > table"


@pytest.mark.parametrize(
    "override",
    [
        ["--config", "mask_dilaton=3"],
        ["--configfile", "nested.yaml"],
    ],
)
def test_planning_fails_on_a_typo_before_any_job(tmp_path: Path, override: list[str]) -> None:
    (tmp_path / "nested.yaml").write_text(yaml.safe_dump({"propainter": {"raft_iteration": 3}}))
    command = workflow_command(tmp_path, "-n")
    if override[0] == "--configfile":  # after the repository's config file
        command.insert(command.index("--configfile") + 2, str(tmp_path / override[1]))
    else:
        command += override
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode != 0
    expected = "'mask_dilation'" if override[0] == "--config" else "'raft_iterations'"
    output = run.stdout + run.stderr
    assert "unknown config key" in output and expected in output
    assert not (tmp_path / "results").exists()


def test_planning_imports_no_model_library(tmp_path: Path) -> None:
    """Each planning process (and each Slurm job re-plans) would pay torch's seconds-long import:
    fake packages that fail on import prove the workflow never imports them while planning."""
    fakes = tmp_path / "fakes"
    for name in ("torch", "torchvision", "ultralytics", "transformers", "open_clip", "cv2"):
        (fakes / name).mkdir(parents=True)
        (fakes / name / "__init__.py").write_text(f"raise ImportError('planning imported {name}')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fakes), str(REPO)])}
    sheet = make_samples(tmp_path, count=1, frames=2, size=(16, 16))
    for granularity in ("stage", "video"):
        for backend in ("classical", "propainter"):
            config = [f"samples={sheet}", f"granularity={granularity}", f"backend={backend}"]
            run = subprocess.run(
                workflow_command(tmp_path, "-n", "--config", *config),
                capture_output=True, text=True, cwd=tmp_path, env=env,
            )  # fmt: skip
            assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


def test_nested_command_line_values_keep_their_types() -> None:
    # what Snakemake passes for --config propainter='{raft_iterations: 3}' prompt='{yolo: ...}'
    given = {
        "propainter": {"raft_iterations": "3", "device": "cpu"},
        "prompt": {"yolo": {"half": "true", "classes": "[0, 2]", "conf": "0.5"}},
        "max_side": "null",
    }
    config = validate_config(given)
    assert config["propainter"]["raft_iterations"] == 3
    assert config["propainter"]["device"] == "cpu"
    assert config["prompt"]["yolo"] == {**config["prompt"]["yolo"], "half": True, "conf": 0.5}
    assert config["prompt"]["yolo"]["classes"] == [0, 2] and config["max_side"] is None


def test_a_string_that_is_no_number_is_still_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="config 'propainter.raft_iterations'"):
        validate_config({"propainter": {"raft_iterations": "many"}})


def test_the_propainter_backend_refuses_a_processing_size_raft_cannot_handle() -> None:
    from vanish.config import RAFT_MIN_SIDE
    from vanish.models.raft import MIN_SIZE

    assert RAFT_MIN_SIDE == MIN_SIZE
    with pytest.raises(ConfigError, match="max_side' is 64.*minimum processing side of 128"):
        validate_config({"backend": "propainter", "max_side": 64})
    assert validate_config({"backend": "classical", "max_side": 64})["max_side"] == 64


def test_a_processing_size_below_the_classical_minimum_is_refused_with_it() -> None:
    from vanish.config import DIS_MIN_SIDE

    assert load_schema()["properties"]["max_side"]["minimum"] == DIS_MIN_SIDE == 32
    with pytest.raises(ConfigError, match="config 'max_side': 16 is less than the minimum of 32"):
        validate_config({"backend": "classical", "max_side": 16})
    assert validate_config({"backend": "classical", "max_side": 32})["max_side"] == 32
