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


def test_hash_is_data_and_only_whole_line_comments_are_skipped(tmp_path):
    folder = tmp_path / "take #3"
    folder.mkdir()
    (folder / "v.mp4").touch()
    rows = (
        "# a comment line\n"
        f"   # an indented comment\n"
        f"a\t{folder}/v.mp4\t\tthe player #2 on the left; the ball\t\n"
    )
    table, path = sheet(tmp_path, rows)
    valid = validate_sample_sheet(table, path)
    assert list(valid.index) == ["a"]
    assert valid.loc["a", "prompt"] == "the player #2 on the left; the ball"
    assert valid.loc["a", "video"] == f"{folder}/v.mp4"


def test_surrounding_spaces_are_trimmed(tmp_path):
    (tmp_path / "v.mp4").touch()
    table, path = sheet(tmp_path, f"a\t {tmp_path}/v.mp4  \t\t  a cat \t\n")
    valid = validate_sample_sheet(table, path)
    assert valid.loc["a", "video"] == f"{tmp_path}/v.mp4"
    assert valid.loc["a", "prompt"] == "a cat"


def _clip(folder, count, height=16, width=16):
    from synthetic import panning_clip, write_clip_folder

    return write_clip_folder(folder, panning_clip(count, height, width))


@pytest.mark.parametrize(
    ("count", "size", "problem"),
    [
        (4, (16, 16), r"ground_truth .*truth has 4 frames, the video 3"),
        (3, (16, 24), r"ground_truth .*truth is 24x16, the video 16x16"),
    ],
)
def test_ground_truth_is_checked_against_the_video_from_headers(tmp_path, count, size, problem):
    video, truth = _clip(tmp_path / "video", 3), _clip(tmp_path / "truth", count, *size)
    table, path = sheet(tmp_path, f"a\t{video}\t\tcat\t{truth}\n")
    with pytest.raises(SampleSheetError, match=rf"sample 'a': {problem}\. Fix: "):
        validate_sample_sheet(table, path)


def test_ground_truth_video_file_is_checked_from_its_header(tmp_path):
    from synthetic import generated_media

    video = generated_media(tmp_path / "v.mp4", "testsrc=size=32x24:rate=10:duration=0.5")
    truth = generated_media(tmp_path / "t.mp4", "testsrc=size=32x16:rate=10:duration=0.5")
    table, path = sheet(tmp_path, f"a\t{video}\t\tcat\t{video}\nb\t{video}\t\tcat\t{truth}\n")
    with pytest.raises(SampleSheetError) as error:
        validate_sample_sheet(table, path)
    assert "sample 'a'" not in str(error.value)
    assert "sample 'b': ground_truth" in str(error.value) and "is 32x16" in str(error.value)


def test_matching_or_producible_ground_truth_passes(tmp_path):
    video, truth = _clip(tmp_path / "video", 3), _clip(tmp_path / "truth", 3)
    rows = f"a\t{video}\t\tcat\t{truth}\nb\t{video}\t\tcat\tdemo/truth.mp4\n"
    table, path = sheet(tmp_path, rows)
    valid = validate_sample_sheet(table, path, producible={"demo/truth.mp4"})
    assert list(valid.index) == ["a", "b"]


def test_malformed_every_instance_prompt_is_refused_naming_sample_and_fix(tmp_path):
    (tmp_path / "v.mp4").touch()
    table, path = sheet(tmp_path, f"crowd\t{tmp_path}/v.mp4\t\tall:\t\n")
    with pytest.raises(SampleSheetError) as error:
        validate_sample_sheet(table, path)
    message = str(error.value)
    assert str(path) in message and "sample 'crowd': column 'prompt' ('all:')" in message
    assert "Fix: name the object after 'all:'" in message


def test_every_instance_prompt_passes_validation(tmp_path):
    (tmp_path / "v.mp4").touch()
    table, path = sheet(tmp_path, f"crowd\t{tmp_path}/v.mp4\t\tall: person; a red car\t\n")
    assert list(validate_sample_sheet(table, path).index) == ["crowd"]
