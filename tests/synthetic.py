"""Tiny synthetic clips with known ground truth (CPU, fast), shared by the tests."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vanish import io


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth but detailed RGB texture (uint8), so flow and fills have something to find."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 2, width // 4 + 2, 3))
    big = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return (np.clip(big, 0, 1) * 255).astype(np.uint8)


def panning_clip(count: int, height: int, width: int, step=(1, 2), seed: int = 0) -> np.ndarray:
    """(T, H, W, 3): a view panning over a texture by `step` = (rows, cols) pixels per frame."""
    big = texture(height + step[0] * count, width + step[1] * count, seed)
    return np.stack(
        [
            big[t * step[0] : t * step[0] + height, t * step[1] : t * step[1] + width]
            for t in range(count)
        ]
    )


def moving_box_masks(
    count: int, height: int, width: int, size=(12, 16), speed: int = 3
) -> np.ndarray:
    """(T, H, W) bool: a box moving to the right."""
    masks = np.zeros((count, height, width), bool)
    for t in range(count):
        top, left = height // 3, 4 + speed * t
        masks[t, top : top + size[0], left : left + size[1]] = True
    return masks


def write_clip_folder(folder: Path, frames: np.ndarray) -> Path:
    """Write frames as a PNG folder (a valid `video` input)."""
    io.write_frame_folder(folder, frames)
    return folder


def write_mask_folder(folder: Path, masks: np.ndarray) -> Path:
    """Write bool masks as a PNG folder (a valid `masks` input)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, mask in enumerate(masks):
        io.write_mask(folder / io.frame_name(index), mask)
    return folder


def good_and_broken_sheet(folder: Path) -> Path:
    """A sheet of two samples: `good` (5 panning frames, moving masks) and `bad`, a corrupt
    video file that passes validation and fails in its frames job (one bad sample among good)."""
    good = write_clip_folder(folder / "good" / "frames", panning_clip(5, 48, 64))
    masks = write_mask_folder(folder / "good" / "masks", moving_box_masks(5, 48, 64))
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    sheet = folder / "samples.tsv"
    sheet.write_text(
        "sample\tvideo\tmasks\tprompt\tground_truth\n"
        f"good\t{good}\t{masks}\t\t\nbad\t{broken}\t{masks}\t\t\n"
    )
    return sheet


def generated_media(path: Path, *sources: str, extra: tuple[str, ...] = ()) -> Path:
    """Write a media file from ffmpeg lavfi sources (e.g. a test pattern, a sine tone)."""
    import subprocess

    from vanish.media import ffmpeg_exe

    command = [ffmpeg_exe(), "-nostdin", "-loglevel", "error"]
    for source in sources:
        command += ["-f", "lavfi", "-i", source]
    subprocess.run([*command, *extra, str(path)], check=True)
    return path


REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workflow_command(workdir: Path, *extra: str) -> list[str]:
    """The repository's workflow run with `workdir` as working directory and the default config."""
    return [
        *SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(REPO / "config" / "config.yaml"), "--cores", "2", *extra,
    ]  # fmt: skip


def options(rule: str, backend: str | None = None, **changes: Any) -> dict[str, Any]:
    """The keyword options the workflow passes the stage `rule` under the default config (the
    schema's defaults, so tests never repeat them), with `changes` applied.

    `backend`: the config's backend (default: the rule's own, else the schema's); it matters for
    `propagate` (propainter: nearest interpolation) and the flow precision. A change to an option
    that is a config section (e.g. `select_options={"threshold": -1.0}`) updates that section's
    keys; every other change replaces the option.
    """
    from vanish.config import default_config
    from vanish.table import BY_NAME, stage_options

    stage = BY_NAME[rule]
    config = default_config()
    config["backend"] = backend or stage.backend or config["backend"]
    bound = stage_options(stage, config)
    unknown = set(changes) - set(bound)
    if unknown:
        raise KeyError(
            f"stage {rule} takes no option(s) {sorted(unknown)}; it takes {sorted(bound)}"
        )
    for key, value in changes.items():
        section = bound[key]
        if isinstance(section, Mapping) and isinstance(value, Mapping):
            value = {**section, **value}
        bound[key] = value
    return bound
