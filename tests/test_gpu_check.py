"""benchmarks/gpu_check.py --smoke: every section runs on the CPU and reports numbers.

The GPU run itself cannot happen here; this keeps its code paths (golden comparisons, precision
variants, the in-memory stage chain, the prompt models, the reports) working. It checks that
numbers are there, not that they are good.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from numbers import Number
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SECTIONS = {"golden", "precision", "prompt", "stages"}


def _numbers(row: dict) -> list[str]:
    return [k for k, v in row.items() if isinstance(v, Number) and not isinstance(v, bool)]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("gpu_check")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--smoke", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text()


@pytest.mark.slow
def test_every_section_reports_numbers(smoke: tuple[dict, str]) -> None:
    data, _ = smoke
    assert data["run"]["complete"] and data["run"]["smoke"]
    assert set(data["sections"]) == SECTIONS
    prompt_available = all(
        importlib.util.find_spec(name) for name in ("segment_anything", "open_clip")
    )
    for name, section in data["sections"].items():
        if name == "prompt" and not prompt_available:
            assert section["status"].startswith("skipped:")
            continue
        assert section["status"].startswith("done"), (name, section["status"])
        numeric = [row for row in section["rows"] if _numbers(row)]
        assert numeric, name
        for row in section["rows"]:  # a row has numbers or says why not, and nothing broke
            assert _numbers(row) or row.get("status"), (name, row)
            assert not str(row.get("status", "")).startswith("error"), (name, row)


@pytest.mark.slow
def test_sections_hold_the_expected_rows(smoke: tuple[dict, str]) -> None:
    data, markdown = smoke
    rows = {name: section["rows"] for name, section in data["sections"].items()}
    measured = {row["golden"] for row in rows["golden"] if "max_abs_diff" in row}
    assert {"rfc.pt", "inpaint_prop.pt", "inpaint_forward_small.pt"} <= measured
    assert all(isinstance(row["pass"], bool) for row in rows["golden"] if "pass" in row)
    precisions = {row["precision"]: row for row in rows["precision"]}
    assert {"fp32", "fp16", "bf16", "fp32+tf32"} <= set(precisions)
    assert isinstance(precisions["fp16"]["psnr_vs_golden"], float | str)  # "inf" if identical
    stages = {(row["precision"], row.get("stage")) for row in rows["stages"] if "seconds" in row}
    for precision in ("fp32", "fp16"):
        for stage in ("flow_completion", "propagation", "transformer", "whole path"):
            assert (precision, stage) in stages
    assert ("fp32", "raft") in stages
    roi = {(row["precision"], row.get("stage")) for row in rows["stages"] if row.get("roi")}
    assert {("fp32", "whole path"), ("fp16", "whole path"), ("fp32", "composite")} <= roi
    env = data["environment"]
    assert env["device"] == "cpu" and env["torch"]
    for section in data["sections"].values():
        assert section["title"] in markdown
