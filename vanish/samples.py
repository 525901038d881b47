"""The sample sheet: one row per video, validated before any job runs."""

from __future__ import annotations

import re
from collections.abc import Container
from pathlib import Path

import pandas as pd

from vanish.errors import SampleSheetError

SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
COLUMNS = ("sample", "video", "masks", "prompt", "ground_truth")
PATH_COLUMNS = ("video", "masks", "ground_truth")


def check_sample_id(sample: str) -> str:
    """Return `sample` if it is a safe id (no `/`, `..`, spaces); raise otherwise."""
    if not SAMPLE_ID.match(sample) or ".." in sample:
        raise SampleSheetError(
            f"sample id {sample!r} is not allowed: ids must match {SAMPLE_ID.pattern} and "
            "contain no '..' (they become folder names). Fix: rename it in the sample sheet."
        )
    return sample


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read a TSV sample sheet; every cell is a string, empty cells are ''."""
    path = Path(path)
    if not path.is_file():
        raise SampleSheetError(f"sample sheet {path} does not exist. Fix: set config 'samples'.")
    sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    sheet.columns = [c.strip() for c in sheet.columns]
    for column in COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
    return sheet[list(COLUMNS) + [c for c in sheet.columns if c not in COLUMNS]]


def validate_sample_sheet(
    sheet: pd.DataFrame, sheet_path: str | Path, producible: Container[str] = ()
) -> pd.DataFrame:
    """Check ids, uniqueness, the masks/prompt requirement and that input files exist.

    `producible` holds paths the workflow itself creates (the demo data), which need not exist
    yet. Returns the sheet indexed by sample id; raises SampleSheetError listing every problem.
    """
    problems: list[str] = []
    if sheet.empty:
        problems.append("the sheet has no rows")
    for row in sheet.itertuples(index=False):
        problems.extend(_row_problems(row, producible))
    duplicated = sorted(set(sheet["sample"][sheet["sample"].duplicated()]))
    if duplicated:
        problems.append(f"duplicate sample ids {duplicated}: each id must be unique")
    if problems:
        listing = "\n  - ".join(problems)
        raise SampleSheetError(f"sample sheet {sheet_path} is invalid:\n  - {listing}")
    return sheet.set_index("sample", drop=False)


def _row_problems(row: object, producible: Container[str]) -> list[str]:
    sample = str(row.sample)
    try:
        check_sample_id(sample)
    except SampleSheetError as error:
        return [str(error)]
    problems = []
    if not row.video:
        problems.append(
            f"sample '{sample}': column 'video' is empty. Fix: give a video file or frame folder."
        )
    if not row.masks and not row.prompt:
        problems.append(
            f"sample '{sample}': neither 'masks' nor 'prompt' given. Fix: add a mask folder or a "
            "text prompt naming the object to remove."
        )
    for column in PATH_COLUMNS:
        value = getattr(row, column)
        if value and value not in producible and not Path(value).exists():
            problems.append(
                f"sample '{sample}': {column} file {value} does not exist. Fix: correct the path "
                "(relative paths are resolved from the directory snakemake runs in)."
            )
    return problems
