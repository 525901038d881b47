"""The package's layering, checked by reading the source (`ast`), not by running it.

- `vanish.io` owns every stage file format and every path inside a stage folder: stage modules,
  the compositor and the report ask it, never another stage module, and the layout's names are
  spelled nowhere else;
- `vanish.testing` (tiny models, rule checkpoints, manifests) is for tests and benchmarks only:
  the runtime package, the scripts and the workflow never import it;
- `vanish.io` stays light enough for the workflow to import while it plans (no torch).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "vanish"
STAGES = PACKAGE / "stages"
# The only modules that may import stage modules: they run the stages. (A stage table, when one
# exists, belongs here too.)
STAGE_RUNNERS = {"vanish/pipeline.py"}
LAYOUT_NAMES = {"proc", "orig", "full", "meta.json", "summary.json"}


def _relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from a import b` also counts as `a.b`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the file's own package
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module and its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _is_stage(module: str) -> bool:
    return module.startswith("vanish.stages.") or module == "vanish.stages"


def test_only_the_stage_runners_import_stage_modules() -> None:
    offenders = {}
    for path in _python_files(PACKAGE):
        if _relative(path) in STAGE_RUNNERS:
            continue
        own = _module_name(path)
        stages = {m for m in _imported_modules(path) if _is_stage(m) and m != own}
        stages.discard("vanish.stages")  # the bare package (from vanish.stages import x) is x's
        if stages:
            offenders[_relative(path)] = sorted(stages)
    assert not offenders, f"import vanish.io (or a non-stage module) instead: {offenders}"


def test_no_stage_module_imports_another() -> None:
    for path in _python_files(STAGES):
        own = _module_name(path)
        others = {m for m in _imported_modules(path) if _is_stage(m) and m != own}
        others.discard("vanish.stages")
        assert not others, f"{_relative(path)} imports the stage modules {sorted(others)}"


def test_stage_folder_layout_names_are_spelled_only_in_io() -> None:
    offenders = []
    for path in _python_files(PACKAGE):
        if _relative(path) == "vanish/io.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            if LAYOUT_NAMES & set(re.split(r"[/\\]", node.value)):
                offenders.append(f"{_relative(path)}:{node.lineno}: {node.value!r}")
    assert not offenders, "use the path helpers of vanish.io:\n" + "\n".join(offenders)


def _imports_testing(path: Path) -> bool:
    if path.suffix == ".py":
        return any(m.split(".")[:2] == ["vanish", "testing"] for m in _imported_modules(path))
    pattern = r"\bvanish\.testing\b|from\s+vanish\s+import\s+[^\n]*\btesting\b"
    return bool(re.search(pattern, path.read_text()))


def test_nothing_outside_the_tests_imports_vanish_testing() -> None:
    testing = PACKAGE / "testing"
    files = [p for p in _python_files(PACKAGE) if testing not in p.parents]
    files += _python_files(REPO / "scripts") + _python_files(REPO / "workflow")
    files += sorted((REPO / "workflow").rglob("*.smk")) + [REPO / "Snakefile"]
    offenders = [_relative(p) for p in files if p.is_file() and _imports_testing(p)]
    assert not offenders, f"vanish.testing is for tests and benchmarks only: {offenders}"


def test_runtime_data_is_not_duplicated_in_the_tests() -> None:
    runtime = {p.name for p in (PACKAGE / "models" / "data").glob("*.tsv")}
    reference = {p.name for p in (REPO / "tests" / "data" / "reference").glob("*.tsv")}
    assert runtime == {"raft_things_to_torchvision_keymap.tsv"}
    assert not runtime & reference


def test_io_imports_without_torch() -> None:
    code = "import sys, vanish.io; sys.exit('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False)
    assert result.returncode == 0, "vanish.io must not import torch (the workflow plans with it)"
