"""The sample sheet: one row per video, validated before any job runs."""

from __future__ import annotations

import re
from collections.abc import Container
from io import StringIO
from pathlib import Path

import pandas as pd

from vanish.errors import SampleSheetError
from vanish.keyframes import keyframe_problems
from vanish.probe import clip_shape
from vanish.selection import PromptSyntaxError, parse_prompt

SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
COLUMNS = ("sample", "video", "masks", "prompt", "ground_truth", "keyframes")
PATH_COLUMNS = ("video", "masks", "ground_truth", "keyframes")


def check_sample_id(sample: str) -> str:
    """Return `sample` if it is a safe id (no `/`, `..`, spaces); raise otherwise."""
    if not SAMPLE_ID.match(sample) or ".." in sample:
        raise SampleSheetError(
            f"sample id {sample!r} is not allowed: ids must match {SAMPLE_ID.pattern} and "
            "contain no '..' (they become folder names). Fix: rename it in the sample sheet."
        )
    return sample


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read a TSV sample sheet as data; every cell is a string, empty cells are ''.

    `#` is an ordinary character (prompts such as "player #2" and paths holding `#` stay
    whole); only a line whose first non-space character is `#` is a comment. Cells are stripped
    of surrounding whitespace: a stray space after a path would otherwise name a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise SampleSheetError(f"sample sheet {path} does not exist. Fix: set config 'samples'.")
    lines = [line for line in path.read_text().splitlines() if not _is_comment_or_blank(line)]
    sheet = pd.read_csv(
        StringIO("\n".join(lines) + "\n"), sep="\t", dtype=str, keep_default_na=False
    )
    sheet.columns = [c.strip() for c in sheet.columns]
    sheet = sheet.apply(lambda column: column.str.strip())
    for column in COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
    return sheet[list(COLUMNS) + [c for c in sheet.columns if c not in COLUMNS]]


def _is_comment_or_blank(line: str) -> bool:
    """Whole-line comments and blank lines are not rows; `#` elsewhere is data."""
    return not line.strip() or line.lstrip().startswith("#")


def validate_sample_sheet(
    sheet: pd.DataFrame,
    sheet_path: str | Path,
    producible: Container[str] = (),
    probe_ground_truth: bool = True,
) -> pd.DataFrame:
    """Check ids, uniqueness, the masks/prompt requirement and that input files exist.

    `producible` holds paths the workflow itself creates (the demo data), which need not exist
    yet. `probe_ground_truth`: also compare each separate ground truth's frame count and size
    with its video from their headers (one header read per file; the workflow does it where jobs
    are planned and submitted, not again inside every cluster job). Returns the sheet indexed by
    sample id; raises SampleSheetError listing every problem.
    """
    problems: list[str] = []
    if sheet.empty:
        problems.append("the sheet has no rows")
    for row in sheet.itertuples(index=False):
        problems.extend(_row_problems(row, producible, probe_ground_truth))
    duplicated = sorted(set(sheet["sample"][sheet["sample"].duplicated()]))
    if duplicated:
        problems.append(f"duplicate sample ids {duplicated}: each id must be unique")
    if problems:
        listing = "\n  - ".join(problems)
        raise SampleSheetError(f"sample sheet {sheet_path} is invalid:\n  - {listing}")
    return sheet.set_index("sample", drop=False)


def _row_problems(row: object, producible: Container[str], probe: bool) -> list[str]:
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
    if row.prompt:
        problems.extend(_prompt_problems(sample, row.prompt))
    for column in PATH_COLUMNS:
        value = getattr(row, column)
        if value and value not in producible and not Path(value).exists():
            problems.append(
                f"sample '{sample}': {column} file {value} does not exist. Fix: correct the path "
                "(relative paths are resolved from the directory snakemake runs in)."
            )
    if probe and not problems and _probed(row, producible):
        problems.extend(_ground_truth_problems(sample, row.video, row.ground_truth))
    if row.keyframes and not problems:
        problems.extend(_keyframe_problems(sample, row, producible, probe))
    return problems


def _prompt_problems(sample: str, prompt: str) -> list[str]:
    """A malformed prompt (`all:` naming nothing, or inside a phrase) found before any job,
    rather than after the detector ran (`vanish.selection.parse_prompt`)."""
    try:
        parse_prompt(prompt)
    except PromptSyntaxError as error:
        return [f"sample '{sample}': column 'prompt' ('{prompt}') is malformed: {error}"]
    return []


def _keyframe_problems(
    sample: str, row: object, producible: Container[str], probe: bool
) -> list[str]:
    """Names always; sizes and frame range from the video's header where it is read (the video
    exists and `probe`); the propagate stage checks again with the decoded frame count."""
    count = size = None
    if probe and row.video not in producible:
        try:
            count, width, height = clip_shape(row.video)
            size = (width, height)
        except ValueError as error:
            return [
                f"sample '{sample}': cannot read the header of video {row.video} to check its "
                f"keyframes ({error}). Fix: re-encode the video or correct its path."
            ]
    return [str(problem) for problem in keyframe_problems(sample, row.keyframes, count, size)]


def _probed(row: object, producible: Container[str]) -> bool:
    """Whether the row's ground truth needs its headers read: it is another file than the video
    (the same file matches itself) and neither is made by the workflow itself (not there yet)."""
    truth, video = row.ground_truth, row.video
    return bool(truth) and truth != video and video not in producible and truth not in producible


def _ground_truth_problems(sample: str, video: str, truth: str) -> list[str]:
    """Compare frame count and size of ground truth and video from their headers, so a mismatch
    fails before any job instead of at the metrics stage after hours of inpainting."""
    try:
        (video_count, *video_size), (truth_count, *truth_size) = (
            clip_shape(video),
            clip_shape(truth),
        )
    except ValueError as error:
        return [f"sample '{sample}': cannot read the ground truth or video header ({error})"]
    problems = []
    if video_size != truth_size:
        problems.append(
            f"sample '{sample}': ground_truth {truth} is {truth_size[0]}x{truth_size[1]}, the "
            f"video {video_size[0]}x{video_size[1]}. Fix: give ground truth at the video's size."
        )
    if None not in (video_count, truth_count) and video_count != truth_count:
        problems.append(
            f"sample '{sample}': ground_truth {truth} has {truth_count} frames, the video "
            f"{video_count}. Fix: give ground truth with the same frame count."
        )
    return problems
