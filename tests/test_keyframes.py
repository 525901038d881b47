"""User keyframes: validation before any job and in the stage, propagation through the flows,
compositing at the input's resolution, and the files the jobs that read them declare."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from synthetic import (
    moving_box_masks,
    options,
    panning_clip,
    texture,
    workflow_command,
    write_clip_folder,
    write_mask_folder,
)

from vanish import io, plan, table
from vanish.config import default_config
from vanish.errors import InputError, SampleSheetError
from vanish.keyframes import keyframe_name, keyframe_positions, scale_keyframe
from vanish.samples import read_sample_sheet, validate_sample_sheet
from vanish.stages.complete import classical_complete
from vanish.stages.fill import classical_fill
from vanish.stages.flows import classical_flows
from vanish.stages.frames import extract_frames, resize_rgb
from vanish.stages.masks import masks_from_files
from vanish.stages.propagate import propagate

COUNT, HEIGHT, WIDTH, STEP = 12, 48, 64, 2  # the clip pans STEP px to the right per frame
KEY = 5  # the keyframe's index
HOLE = (slice(16, 32), slice(20, 36))  # fixed hole, rows and columns


def _clip(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """Frames and masks stage folders of a panning clip with a fixed hole, and the frames."""
    frames = panning_clip(COUNT, HEIGHT, WIDTH, step=(0, STEP))
    masks = np.zeros((COUNT, HEIGHT, WIDTH), bool)
    masks[(slice(None), *HOLE)] = True
    video = write_clip_folder(tmp_path / "in", frames)
    frames_dir = extract_frames("pan", video, tmp_path / "frames", **options("frames"))
    mask_input = write_mask_folder(tmp_path / "m", masks)
    masks_dir = masks_from_files(
        "pan", mask_input, frames_dir, tmp_path / "masks", **options("masks_from_files", dilation=0)
    )
    return frames_dir, masks_dir, frames


def _translation_flows(folder: Path) -> Path:
    """Exact flows of the pan: frame k's content lies STEP px further left in frame k+1."""
    writer = io.FlowWriter(folder, "float32")
    forward = np.zeros((COUNT - 1, 2, HEIGHT, WIDTH), np.float32)
    forward[:, 0] = -STEP
    writer.append(forward, -forward)
    writer.close()
    return folder


def _keyframes(folder: Path, frames: dict[int, np.ndarray]) -> Path:
    folder.mkdir()
    for index, frame in frames.items():
        io.write_rgb(folder / io.frame_name(index), frame)
    return folder


def _edited(frame: np.ndarray) -> np.ndarray:
    """The frame with another texture inside the hole (the user's edit)."""
    edit = frame.copy()
    edit[HOLE] = texture(HEIGHT, WIDTH, seed=7)[HOLE]
    return edit


def _expected(frames: np.ndarray, keyframe: np.ndarray) -> np.ndarray:
    """Hole pixels carried frame by frame along the translation from the keyframe: frame t
    pulls pixel x + STEP of frame t-1 after the keyframe, x - STEP of frame t+1 before it."""
    out = frames.copy()
    out[KEY] = keyframe
    for t in range(KEY + 1, COUNT):
        out[t][HOLE] = np.roll(out[t - 1], -STEP, axis=1)[HOLE]
    for t in range(KEY - 1, -1, -1):
        out[t][HOLE] = np.roll(out[t + 1], STEP, axis=1)[HOLE]
    return out


def test_keyframe_pixels_propagate_through_a_known_translation(tmp_path):
    frames_dir, masks_dir, frames = _clip(tmp_path)
    flows = _translation_flows(tmp_path / "flows")
    keyframe = _edited(frames[KEY])
    keyframes = _keyframes(tmp_path / "keys", {KEY: keyframe})
    # sub-videos of 3 frames: the keyframe must still reach every frame of the shot
    settings = options("propagate", interpolation="nearest", chunk=3, pad=1)
    out = propagate(
        frames_dir, masks_dir, flows, tmp_path / "prop", keyframes=keyframes, sample="pan",
        **settings,
    )  # fmt: skip
    result, left = io.read_propagated(out)
    np.testing.assert_array_equal(result, _expected(frames, keyframe))
    assert not left.any()
    summary = io.read_json(out / "summary.json")
    assert summary["keyframes"] == [KEY]
    assert summary["keyframe_filled_pixels"] == summary["hole_pixels"] == masks_hole_count()


def masks_hole_count() -> int:
    return COUNT * (HOLE[0].stop - HOLE[0].start) * (HOLE[1].stop - HOLE[1].start)


def test_the_stage_refuses_a_keyframe_past_the_decoded_clip(tmp_path):
    frames_dir, masks_dir, frames = _clip(tmp_path)
    flows = _translation_flows(tmp_path / "flows")
    keyframes = _keyframes(tmp_path / "keys", {COUNT: frames[0]})
    with pytest.raises(InputError) as error:
        propagate(
            frames_dir, masks_dir, flows, tmp_path / "prop", keyframes=keyframes, sample="pan",
            **options("propagate"),
        )  # fmt: skip
    assert str(error.value) == (
        f"sample 'pan': keyframe 00012.png is frame 12, but the clip has 12 frames (00000.png "
        f"to 00011.png) (file: {keyframes / '00012.png'}). Fix: remove the file or rename it "
        "after a frame of the clip"
    )
    assert not (tmp_path / "prop").exists()


def _sheet(tmp_path: Path, keyframes: dict[str, np.ndarray]) -> Path:
    """A one-row sheet of a 6-frame 48x64 frame folder with these keyframe files."""
    frames = panning_clip(6, 48, 64)
    write_clip_folder(tmp_path / "video", frames)
    write_mask_folder(tmp_path / "masks", np.ones((1, 48, 64), bool))
    folder = tmp_path / "keys"
    folder.mkdir()
    for name, image in keyframes.items():
        io.write_rgb(folder / name, image)
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tvideo\tmasks\tkeyframes\n"
        f"clip\t{tmp_path / 'video'}\t{tmp_path / 'masks'}\t{folder}\n"
    )
    return sheet


def _problems(sheet: Path) -> str:
    with pytest.raises(SampleSheetError) as error:
        validate_sample_sheet(read_sample_sheet(sheet), sheet)
    return str(error.value)


def test_the_sheet_refuses_a_keyframe_not_named_after_a_frame(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    sheet = _sheet(tmp_path, {"frame_3.png": frame, "00002.png": frame})
    message = _problems(sheet)
    assert (
        "sample 'clip': keyframe file names are not frame numbers: ['frame_3.png'] "
        f"(file: {tmp_path / 'keys' / 'frame_3.png'}). Fix: name each keyframe after its frame: "
        "five digits, zero-based (00042.png is frame 42)"
    ) in message


def test_the_sheet_refuses_a_keyframe_of_another_size(tmp_path):
    sheet = _sheet(tmp_path, {"00002.png": np.zeros((24, 32, 3), np.uint8)})
    message = _problems(sheet)
    assert (
        "sample 'clip': the keyframe is 32x24, the input frames 64x48 "
        f"(file: {tmp_path / 'keys' / '00002.png'}). Fix: save the edited frame at the input's "
        "full size (not the processing size)"
    ) in message


def test_the_sheet_refuses_a_keyframe_index_out_of_range(tmp_path):
    sheet = _sheet(tmp_path, {"00006.png": np.zeros((48, 64, 3), np.uint8)})
    message = _problems(sheet)
    assert (
        "sample 'clip': keyframe 00006.png is frame 6, but the clip has 6 frames "
        f"(00000.png to 00005.png) (file: {tmp_path / 'keys' / '00006.png'})"
    ) in message


def test_the_sheet_accepts_keyframes_of_the_clip(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    sheet = _sheet(tmp_path, {"00000.png": frame, "00005.png": frame})
    rows = validate_sample_sheet(read_sample_sheet(sheet), sheet)
    assert rows.loc["clip", "keyframes"] == str(tmp_path / "keys")


def test_a_keyframe_of_a_repeated_frame_applies_to_its_source():
    sources = [0, 0, 0, 3, 4, 4]  # computed frames 0, 3, 4 at positions 0, 1, 2
    keys = {2: Path("00002.png"), 1: Path("00001.png"), 5: Path("00005.png")}
    assert keyframe_positions(keys, sources) == {
        0: (1, Path("00001.png")),
        2: (5, Path("00005.png")),
    }


def test_keyframes_are_scaled_like_the_frames():
    frame = texture(90, 120, seed=3)
    np.testing.assert_array_equal(scale_keyframe(frame, (64, 48)), resize_rgb(frame, (64, 48)))


def test_the_jobs_that_read_keyframes_declare_their_files(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    for index in (7, 3):
        io.write_rgb(folder / io.frame_name(index), np.zeros((8, 8, 3), np.uint8))
    row = {
        "video": "v.mp4",
        "masks": "m",
        "prompt": "",
        "ground_truth": "",
        "keyframes": str(folder),
    }
    config = {**default_config(), "backend": "classical"}
    sample = plan.Sample("s", row, "results", "classical")
    files = [str(folder / "00003.png"), str(folder / "00007.png")]
    readers = {
        stage.name
        for stage in table.stages_for("classical", table.FILES)
        if plan.input_files(stage, config, sample).get("keyframes") == files
    }
    assert readers == {"propagate", "fill_classical"}
    assert plan.sheet_input_files(sample)["keyframes"] == files
    call = plan.stage_call(table.BY_NAME["propagate"], config, sample)
    assert (call["keyframes"], call["sample"]) == (str(folder), "s")


def test_the_output_at_a_keyframe_is_the_keyframe_inside_the_hole(tmp_path):
    """Classical stages on a clip processed at a smaller size: the inpainted frame at the
    keyframe's index holds the keyframe's own full-resolution pixels inside the hole."""
    frames = panning_clip(6, 96, 128, step=(0, 2))
    masks = np.zeros((6, 96, 128), bool)
    masks[:, 30:60, 40:80] = True
    video = write_clip_folder(tmp_path / "in", frames)
    frames_dir = extract_frames(
        "small", video, tmp_path / "frames", **options("frames", max_side=64)
    )
    masks_dir = masks_from_files(
        "small", write_mask_folder(tmp_path / "m", masks), frames_dir, tmp_path / "masks",
        **options("masks_from_files"),
    )  # fmt: skip
    flows = classical_flows(frames_dir, masks_dir, tmp_path / "flows", **options("flows_classical"))
    completed = classical_complete(flows, masks_dir, tmp_path / "completed")
    keyframe = _edited_full(frames[2])
    keyframes = _keyframes(tmp_path / "keys", {2: keyframe})
    propagated = propagate(
        frames_dir, masks_dir, completed, tmp_path / "prop", keyframes=keyframes, sample="small",
        **options("propagate"),
    )  # fmt: skip
    out = classical_fill(
        frames_dir, masks_dir, completed, propagated, tmp_path / "out", keyframes=keyframes,
        **options("fill_classical"),
    )  # fmt: skip
    result, hole = io.read_frames(out), io.read_masks(io.full_masks_dir(masks_dir))
    np.testing.assert_array_equal(result[2][hole[2]], keyframe[hole[2]])
    np.testing.assert_array_equal(result[~hole], frames[~hole])


def _edited_full(frame: np.ndarray) -> np.ndarray:
    edit = frame.copy()
    edit[20:70, 30:90] = (250, 20, 20)
    return edit


def test_keyframe_names_are_the_frame_file_names():
    assert [keyframe_name(i) for i in (0, 42, 99999)] == [io.frame_name(i) for i in (0, 42, 99999)]


def _keyed_sheet(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A one-sample sheet (8-frame 48x66 pan, moving box) with a keyframe for frame 3."""
    frames = panning_clip(8, 48, 66)
    video = write_clip_folder(tmp_path / "clip" / "frames", frames)
    masks = write_mask_folder(tmp_path / "clip" / "masks", moving_box_masks(8, 48, 66))
    keyframe = frames[3].copy()
    keyframe[10:40, 5:60] = (30, 200, 90)
    keys = _keyframes(tmp_path / "clip" / "keys", {3: keyframe})
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tvideo\tmasks\tkeyframes\nkeyed\t{video}\t{masks}\t{keys}\n")
    return sheet, keyframe


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess:
    command = workflow_command(root, *extra)
    return subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)


@pytest.mark.slow
def test_keyframes_in_the_workflow_at_both_granularities(tmp_path):
    sheet, keyframe = _keyed_sheet(tmp_path)
    results = {}
    for granularity in ("stage", "video"):
        config = [f"samples={sheet}", f"results={granularity}", f"granularity={granularity}"]
        run = _run(tmp_path, "--config", *config, "keep=all")
        assert run.returncode == 0, run.stderr[-3000:]
        results[granularity] = tmp_path / granularity / "keyed"
    stage, video = results["stage"], results["video"]
    hole = io.read_masks(io.full_masks_dir(stage / "masks"))[3]
    np.testing.assert_array_equal(io.read_frames(stage / "inpainted")[3][hole], keyframe[hole])
    for folder in (io.propagated_frames_dir("propagated"), Path("inpainted")):
        np.testing.assert_array_equal(
            io.read_frames(stage / folder), io.read_frames(video / folder)
        )
    assert io.read_json(stage / "propagated" / "summary.json")["keyframes"] == [3]


@pytest.mark.slow
def test_editing_a_keyframe_in_place_reruns_the_stages_that_read_it(tmp_path):
    sheet, keyframe = _keyed_sheet(tmp_path)
    config = ["--config", f"samples={sheet}", "results=results", "keep=all"]
    assert _run(tmp_path, *config).returncode == 0
    path = tmp_path / "clip" / "keys" / "00003.png"
    io.write_rgb(path, 255 - keyframe)  # rewritten in place: the folder's own time is unchanged
    run = _run(tmp_path, "-n", "--quiet", "rules", *config)
    jobs = run.stdout.split("-------")[-1].split("\n\n")[0]
    rules = {row.split()[0] for row in jobs.strip().splitlines()}
    assert {"propagate", "fill_classical", "encode"} <= rules
    assert not {"frames", "masks_from_files", "flows_classical", "complete_classical"} & rules


@pytest.mark.slow
def test_propainter_transformer_gets_keyframe_pixels_as_known(tmp_path):
    """ProPainter backend (rule checkpoint): after propagation no hole is left for the generator
    (the keyframe's pixels reached every frame), and the keyframe's own pixels are the output
    inside the hole at its index."""
    from vanish.stages.transformer import propainter_transformer
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    frames_dir, masks_dir, frames = _clip(tmp_path)
    flows = _translation_flows(tmp_path / "flows")
    keyframe = _edited(frames[KEY])
    keyframes = _keyframes(tmp_path / "keys", {KEY: keyframe})
    propagated = propagate(
        frames_dir, masks_dir, flows, tmp_path / "prop", keyframes=keyframes, sample="pan",
        **options("propagate", backend="propainter"),
    )  # fmt: skip
    assert not io.read_propagated(propagated)[1].any()
    path, sha256 = write_rule_checkpoints(tmp_path / "weights")["propainter"]
    out = propainter_transformer(
        frames_dir, masks_dir, flows, propagated, tmp_path / "out", path, sha256,
        keyframes=keyframes, **options("transformer", device="cpu"),
    )  # fmt: skip
    result, hole = io.read_frames(out), io.read_masks(io.full_masks_dir(masks_dir))
    np.testing.assert_array_equal(result[KEY][hole[KEY]], keyframe[hole[KEY]])
    np.testing.assert_array_equal(result[~hole], frames[~hole])
