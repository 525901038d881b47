"""User keyframes: edited full frames whose pixels inside the hole are taken as known.

A sample's optional sheet column `keyframes` names a folder of edited frames at the input's size,
named like the frame files (`00042.png` = frame 42, zero-based; any subset; `list_keyframes`).
Inside the hole their pixels replace the frame's before anything fills: the propagate stage (both
backends) clears the hole on a keyframe and carries its pixels through the completed flows to
every frame of its shot, so they reach the classical fill (and any stage between) or the
ProPainter transformer as known pixels, like image propagation's; the compositor writes every
keyframe's own pixels inside the hole at the input's resolution (README, Keyframes).

The folder's format is read here rather than in `vanish.io` because planning reads it and must
not import OpenCV (tests/test_config.py); a test keeps the names equal to `io.frame_name`.

Checked twice with the same messages: by the sample sheet before any job (image headers, and the
clip's frame count where its header gives one: `vanish.probe`), and by the propagate stage, which
knows the decoded count. Planning-time code: no torch, no OpenCV, Pillow only where used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from vanish.errors import InputError

KEYFRAME_NAME = re.compile(r"^(\d{5})\.png$")  # the frame files' names (`io.frame_name`)
NAMING = "name each keyframe after its frame: five digits, zero-based (00042.png is frame 42)"


def keyframe_name(index: int) -> str:
    """The file name of frame `index`'s keyframe."""
    return f"{index:05d}.png"


def list_keyframes(folder: str | Path) -> tuple[dict[int, Path], list[str]]:
    """A keyframes folder's files by frame index, and the names that are not frame file names.

    Hidden files (`.DS_Store`) are ignored; any other name that is not five digits + `.png` is
    returned as bad, so a misnamed edit is refused rather than silently left out.
    """
    found: dict[int, Path] = {}
    bad: list[str] = []
    for path in sorted(Path(folder).iterdir()):
        match = KEYFRAME_NAME.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
        elif not path.name.startswith("."):
            bad.append(path.name)
    return found, bad


def keyframe_problems(
    sample: str, folder: str | Path, count: int | None, size: tuple[int, int] | None
) -> list[InputError]:
    """Everything wrong with a keyframes folder: names that are not frame files, frames past
    the clip's `count` (when known) and images of another (width, height) than `size` (when
    known). Empty when the folder can be used."""
    folder = Path(folder)
    if not folder.is_dir():
        return [InputError(sample, folder, "keyframes is not a folder", f"give a folder; {NAMING}")]
    found, bad = list_keyframes(folder)
    problems = []
    if bad:
        problem = f"keyframe file names are not frame numbers: {bad[:5]}"
        problems.append(InputError(sample, folder / bad[0], problem, NAMING))
    if count is not None:
        problems += [
            InputError(
                sample,
                path,
                f"keyframe {path.name} is frame {index}, but the clip has {count} frames "
                f"({keyframe_name(0)} to {keyframe_name(count - 1)})",
                "remove the file or rename it after a frame of the clip",
            )
            for index, path in found.items()
            if index >= count
        ]
    if size is not None:
        problems += [_size_problem(sample, path, size) for path in found.values()]
    return [problem for problem in problems if problem is not None]


def _size_problem(sample: str, path: Path, size: tuple[int, int]) -> InputError | None:
    """A keyframe whose header gives another size than the input frames' (or no header)."""
    from PIL import Image  # headers only; imported where a sheet has keyframes

    try:
        with Image.open(path) as image:
            found = image.size
    except OSError:
        return InputError(sample, path, "the keyframe cannot be read", "save it as a PNG image")
    if found == tuple(size):
        return None
    return InputError(
        sample,
        path,
        f"the keyframe is {found[0]}x{found[1]}, the input frames {size[0]}x{size[1]}",
        "save the edited frame at the input's full size (not the processing size)",
    )


def check_keyframes(
    sample: str, folder: str | Path, count: int, size: tuple[int, int]
) -> dict[int, Path]:
    """The keyframes by frame index; raises the first problem (`keyframe_problems`)."""
    problems = keyframe_problems(sample, folder, count, size)
    if problems:
        raise problems[0]
    return list_keyframes(folder)[0]


def keyframe_inputs(folder: str | Path) -> list[str]:
    """What a job that reads the keyframes declares as inputs: their files (Snakemake follows a
    folder by its own modification time, which editing a file in place leaves unchanged), or
    the folder when it holds none."""
    found = list_keyframes(folder)[0] if Path(folder).is_dir() else {}
    return [str(path) for _, path in sorted(found.items())] or [str(folder)]


def keyframe_positions(
    keyframes: Mapping[int, Path], sources: Sequence[int]
) -> dict[int, tuple[int, Path]]:
    """Computed position -> (frame index, file) of the keyframe applied there.

    Later stages compute only the frames that are their own source (`vanish.repeats`). A keyframe
    of a repeated frame is applied to the frame it repeats (their inputs are the same); where
    several fall on one frame the lowest index wins. The compositor still writes each keyframe
    at its own index.
    """
    position = {index: k for k, index in enumerate(i for i, s in enumerate(sources) if s == i)}
    applied: dict[int, tuple[int, Path]] = {}
    for index in sorted(keyframes):
        applied.setdefault(position[sources[index]], (index, keyframes[index]))
    return applied


def scale_keyframe(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A keyframe at the processing (width, height), scaled as the frames stage scales frames
    (Pillow bicubic, `vanish.stages.frames.resize_rgb`; a test keeps the two equal)."""
    from PIL import Image

    if (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    return np.array(Image.fromarray(frame).resize(tuple(size), Image.BICUBIC))  # writable


def read_keyframe(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """A keyframe as uint8 RGB at the processing (width, height)."""
    from vanish import io  # OpenCV: where the stages run, not while planning

    return scale_keyframe(io.read_rgb(path), size)
