"""The sample sheet: ids, uniqueness, required columns, existing files."""

from __future__ import annotations

import pytest

from vanish.errors import SampleSheetError
from vanish.samples import check_sample_id, read_sample_sheet, validate_sample_sheet


def sheet(tmp_path, rows: str):
    path = tmp_path / "samples.tsv"
    path.write_text("sample\tvideo\tmasks\tprompt\tground_truth\n" + rows)
    return read_sample_sheet(path), path


@pytest.mark.parametrize("bad", ["../x", "a/b", "with space", ".hidden", "a..b", ""])
def test_unsafe_ids_are_rejected(bad):
    with pytest.raises(SampleSheetError, match="is not allowed"):
        check_sample_id(bad)


def test_good_ids_pass():
    assert check_sample_id("clip_01.v2-a") == "clip_01.v2-a"


def test_duplicate_ids_are_named(tmp_path):
    (tmp_path / "v.mp4").touch()
    table, path = sheet(tmp_path, f"a\t{tmp_path}/v.mp4\t\tcat\t\na\t{tmp_path}/v.mp4\t\tdog\t\n")
    with pytest.raises(SampleSheetError, match=r"duplicate sample ids \['a'\]"):
        validate_sample_sheet(table, path)


def test_missing_input_file_names_sample_column_and_path(tmp_path):
    table, path = sheet(tmp_path, "a\tnowhere.mp4\t\tcat\t\n")
    with pytest.raises(
        SampleSheetError, match=r"sample 'a': video file nowhere\.mp4 does not exist"
    ):
        validate_sample_sheet(table, path)


def test_masks_or_prompt_is_required(tmp_path):
    (tmp_path / "v.mp4").touch()
    table, path = sheet(tmp_path, f"a\t{tmp_path}/v.mp4\t\t\t\n")
    with pytest.raises(SampleSheetError, match="neither 'masks' nor 'prompt'"):
        validate_sample_sheet(table, path)


def test_producible_inputs_need_not_exist(tmp_path):
    table, path = sheet(tmp_path, "a\tdemo/v.mp4\tdemo/m\t\t\n")
    valid = validate_sample_sheet(table, path, producible={"demo/v.mp4", "demo/m"})
    assert list(valid.index) == ["a"]


def test_every_problem_is_listed(tmp_path):
    table, path = sheet(tmp_path, "../x\tv.mp4\t\t\t\nb\tmissing.mp4\t\tcat\t\n")
    with pytest.raises(SampleSheetError) as error:
        validate_sample_sheet(table, path)
    assert "'../x' is not allowed" in str(error.value) and "missing.mp4" in str(error.value)


def test_missing_sheet_is_a_clear_error(tmp_path):
    with pytest.raises(SampleSheetError, match="does not exist"):
        read_sample_sheet(tmp_path / "none.tsv")
