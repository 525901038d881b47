"""Every on-disk format of the workflow's stage files, and every sub-path inside them, in one place.

Stages, the compositor and the report ask this module where a file lies and how to read or write
it; they never build a stage folder's inner paths themselves, nor import another stage's readers.

- frame folders: `00000.png, 00001.png, …` lossless RGB PNG;
- mask folders: the same names, single-channel PNG, 0 = keep, 255 = remove;
- frames stage folder: `proc/` (frame folder at the processing size), `orig/` (frame folder at
  the input's size, only when the two differ: `original_frames_dir` falls back to `proc/`),
  `meta.json` (`ClipMeta`: fps, sizes, frame count, audio, timing, SAR, colour, warnings) and,
  for a video file, `times.json` (`FrameTimes`: every frame's timestamp and duration);
- mask stage folder (`masks_from_files` and `masks_from_prompt` alike): `proc/` (dilated masks at
  the processing size: the hole every later stage fills), `full/` (dilated masks at the input's
  size, only when resized: `full_masks_dir` falls back to `proc/`) and `summary.json` (sample,
  dilation, coverage per frame and overall, `empty`, and `warnings` only when there are any,
  e.g. lossy mask files); user mask files are read by `read_input_mask`'s one rule. With config
  `roi` it may also hold `roi.json` (`Roi`: each shot's region in input pixels and the size they
  are processed at; only when regions are processed); then `proc/` holds the regions' holes (stages
  read the regions' frames through `ComputedFrames`) and `full/` is always written;
- flow folders (flows and completed flows): `meta.json` (count, height, width, dtype, chunks, and
  extra keys such as `cuts` and `method`) + `chunk_00000.npz, …`, each chunk holding `forward` and
  `backward` arrays (k, 2, H, W) for flows start…start+k-1 (forward[i]: frame i → i+1,
  backward[i]: frame i+1 → i; channel 0 = x, 1 = y, in processing-size pixels), stored as float16
  or float32;
- propagated folder: `frames/` (frame folder; unfilled hole pixels hold mid-grey), `masks/` (mask
  folder of the holes left) and `summary.json` (hole and filled pixel counts, interpolation); the
  aligned folder (classical `align` stage) has the same format, its summary the alignment's counts;
- inpainted folder: a frame folder at the input's size (every frame: repeats are links to their
  source's file);
- `repeats.json` in the frames and mask stage folders: `sources` (per frame, the frame whose result
  it reuses: itself when computed; `vanish.repeats`); the frames stage's by pixels (with the
  `tolerance` used), the mask stage's by pixels and mask. Stages after the masks read only the
  computed frames (`computed_frame_paths`, `computed_hole_paths`), so flow, propagated and fill
  indices count computed frames; a folder without the file computes every frame;
- `detections.parquet`: one row per (frame, track) with the columns `DETECTION_COLUMNS` (boxes in
  pixels of the input-size frames), sorted by frame then track; the schema metadata key `vanish`
  holds JSON (detector, tracker, prompt, phrases, class names, frame count and size, settings);
- `selection.json`: the prompt path's choice (scores per track and phrase, `selected_tracks`,
  `outcome`, `passthrough`, …), written by the select stage, read by the mask and metrics stages;
- Snakemake benchmark files `{stage}.tsv` (tab-separated, wall-clock seconds in column `s`);
- `metrics.json` and `provenance.json`: JSON written with `write_json` (sorted keys).

Heavy libraries (pandas, pyarrow) are imported where used, and torch never: the workflow imports
this module while it plans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from vanish.atomic import atomic_file
from vanish.errors import InputError
from vanish.probe import IMAGE_SUFFIXES

if TYPE_CHECKING:
    import pandas as pd

LOSSY_SUFFIXES = {".jpg", ".jpeg"}  # user masks in these are thresholded at mid-grey
FLOW_DTYPES = {"float16": np.float16, "float32": np.float32}
FRAME_NAME_PATTERN = "%05d.png"  # printf form of `frame_name`, for ffmpeg

# names inside the stage folders (module docstring); only the functions below use them
_PROCESSING = "proc"  # frames and masks at the processing size
_ORIGINAL = "orig"  # frames at the input's size, when resized
_FULL = "full"  # masks at the input's size, when resized
_META = "meta.json"  # frames stage: ClipMeta; flow folders: counts, chunks, cuts
_TIMES = "times.json"  # frames stage: per-frame timestamps of a video file
_SUMMARY = "summary.json"  # mask and propagated folders
_REPEATS = "repeats.json"  # frames and mask stage folders: each frame's source
_PROPAGATED_FRAMES = "frames"
_ROI = "roi.json"  # mask stage folder: config `roi`'s choice (`Roi`)
_PROPAGATED_HOLES = "masks"
_DIGITS = re.compile(r"(\d+)")


def frame_name(index: int) -> str:
    """File name of frame `index` in every frame and mask folder."""
    return FRAME_NAME_PATTERN % index


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder, sorted by name (the frame order of DAVIS-style folders)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def natural_key(name: str) -> tuple[int | str, ...]:
    """Sort key reading digit runs as numbers, so `frame_2.png` comes before `frame_10.png`."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def name_pattern(name: str) -> str:
    """A file name with its digit runs replaced by `#`: the naming pattern frames share."""
    return _DIGITS.sub("#", name)


def list_input_images(sample: str, folder: str | Path) -> list[Path]:
    """Image files of a user's frame or mask folder in natural order (1, 2, …, 10).

    Plain name order scrambles unpadded numbers (1, 10, 11, 2); natural order is only defined
    when every name follows one pattern and no two names hold the same numbers, so a folder that
    mixes patterns (`a_1.png`, `b_1.png`) or repeats a number (`f1.png`, `f01.png`) is refused
    rather than guessed. Stage folders (`00000.png`, …) keep `list_images`.
    """
    paths = list_images(folder)
    patterns = sorted({name_pattern(p.name) for p in paths})
    if len(patterns) > 1:
        examples = [next(p.name for p in paths if name_pattern(p.name) == x) for x in patterns]
        raise InputError(
            sample,
            folder,
            f"the image names mix naming patterns {patterns[:5]} (e.g. {examples[:5]}), so "
            "their frame order is ambiguous",
            "keep only the clip's images in the folder, named by one pattern with a frame "
            "number (frame_1.png … frame_12.png, or zero-padded 00001.png …)",
        )
    paths = sorted(paths, key=lambda p: natural_key(p.name))
    twins = [
        (a.name, b.name)
        for a, b in zip(paths, paths[1:], strict=False)
        if natural_key(a.name) == natural_key(b.name)
    ]
    if twins:
        raise InputError(
            sample,
            folder,
            f"image names hold the same frame number: {twins[:5]}",
            "remove the duplicate images, or rename them so each frame number appears once",
        )
    return paths


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3); raises ValueError if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_rgb(path: str | Path, rgb: np.ndarray) -> None:
    """Write uint8 RGB as lossless PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write image {path}")


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image as bool (H, W): any non-zero pixel (in any channel) is to be removed."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read mask {path}")
    if image.ndim == 3:
        image = image[..., :3].max(axis=2) if image.shape[2] >= 3 else image[..., 0]
    return image > 0


def read_input_mask(path: str | Path) -> tuple[np.ndarray, bool]:
    """A user's mask image as bool (H, W) by one rule, and whether the format is lossy.

    Palette PNGs (DAVIS annotations) are read by index (0 = keep, any other = remove), since
    their colours say nothing about which index is the background; otherwise a non-constant
    alpha channel is the mask, else grey or any colour channel non-zero. Lossy formats (JPEG)
    blur edges into near-black noise, so they are thresholded at mid-grey (> 127).
    """
    lossy = Path(path).suffix.lower() in LOSSY_SUFFIXES
    try:
        with Image.open(path) as image:
            if image.mode == "P":
                return np.asarray(image) != 0, lossy
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read mask {path}") from error
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read mask {path}")
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].min() != image[..., 3].max():
        image = image[..., 3]
    elif image.ndim == 3:
        image = image[..., :3].max(axis=2) if image.shape[2] >= 3 else image[..., 0]
    return image > (127 if lossy else 0), lossy


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a bool mask as a 0/255 PNG."""
    if not cv2.imwrite(str(path), mask.astype(np.uint8) * 255):
        raise OSError(f"cannot write mask {path}")


def read_frames(folder: str | Path, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Frames start…stop-1 of a stage frame folder as (T, H, W, 3) uint8."""
    paths = list_images(folder)[start:stop]
    return np.stack([read_rgb(p) for p in paths])


def read_masks(folder: str | Path, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Masks start…stop-1 of a stage mask folder as (T, H, W) bool."""
    paths = list_images(folder)[start:stop]
    return np.stack([read_mask(p) for p in paths])


def read_frame_paths(paths: Sequence[Path]) -> np.ndarray:
    """The frames at `paths` as (T, H, W, 3) uint8."""
    return np.stack([read_rgb(p) for p in paths])


def read_mask_paths(paths: Sequence[Path]) -> np.ndarray:
    """The masks at `paths` as (T, H, W) bool."""
    return np.stack([read_mask(p) for p in paths])


def count_images(folder: str | Path) -> int:
    """Number of frames in a stage folder."""
    return len(list_images(folder))


@dataclass
class ClipMeta:
    """What the frames stage learned about a clip; read by every later stage."""

    sample: str
    source: str
    fps: float
    frame_count: int
    width: int
    height: int
    proc_width: int
    proc_height: int
    has_audio: bool = False
    extra: dict = field(default_factory=dict)
    # "cfr" (constant rate `fps`; frame folders too), "vfr" (encoded with times.json's
    # durations) or "retimed" (timestamps unusable: encoded at `fps`, with a warning)
    timing: str = "cfr"
    sar: list[int] = field(default_factory=lambda: [1, 1])  # sample aspect ratio num, den
    color: dict = field(default_factory=dict)  # range, primaries, transfer, matrix (known ones)
    warnings: list[str] = field(default_factory=list)  # documented choices, copied to metrics

    @property
    def resized(self) -> bool:
        """True when processing happens at another size than the input's."""
        return (self.width, self.height) != (self.proc_width, self.proc_height)


def clip_meta_path(frames_dir: str | Path) -> Path:
    """The frames stage's `meta.json` (a `ClipMeta`)."""
    return Path(frames_dir) / _META


@dataclass
class ClipTimes:
    """A video file's frame timestamps as decoded (`pts`, ticks of 1/`time_base` s; None where
    a frame had none) and the duration each frame is shown for in `removed.mp4` (`durations`:
    the gap to the next frame, the last frame's own duration)."""

    time_base: int
    pts: list[int | None]
    durations: list[int]


def clip_times_path(frames_dir: str | Path) -> Path:
    """The frames stage's `times.json` (a `ClipTimes`; only for video-file inputs)."""
    return Path(frames_dir) / _TIMES


def write_clip_times(frames_dir: str | Path, times: ClipTimes) -> None:
    """Write the frames stage's `times.json`."""
    write_json(clip_times_path(frames_dir), asdict(times))


def read_clip_times(frames_dir: str | Path) -> ClipTimes | None:
    """The frames stage's `times.json`, or None for a frame-folder input (no timestamps)."""
    path = clip_times_path(frames_dir)
    return ClipTimes(**read_json(path)) if path.is_file() else None


def processing_frames_dir(frames_dir: str | Path) -> Path:
    """The frames stage's frame folder at the processing size (always present)."""
    return Path(frames_dir) / _PROCESSING


def original_frames_dir(frames_dir: str | Path) -> Path:
    """The folder holding frames at the input's own resolution (`orig/`, else `proc/`)."""
    frames_dir = Path(frames_dir)
    original = frames_dir / _ORIGINAL
    return original if original.is_dir() else processing_frames_dir(frames_dir)


class FramesFolderWriter:
    """Writes a frames stage folder's frames: `proc/`, and `orig/` when `resized`."""

    def __init__(self, folder: str | Path, resized: bool) -> None:
        self.processing = processing_frames_dir(folder)
        self.original = Path(folder) / _ORIGINAL if resized else None
        self.processing.mkdir()
        if self.original is not None:
            self.original.mkdir()

    def write(self, index: int, processing: np.ndarray, original: np.ndarray) -> None:
        """Frame `index` at the processing size and (kept only when resized) the input's size."""
        write_rgb(self.processing / frame_name(index), processing)
        if self.original is not None:
            write_rgb(self.original / frame_name(index), original)


def processing_masks_dir(masks_dir: str | Path) -> Path:
    """The mask stage's dilated masks at the processing size: the hole of every later stage."""
    return Path(masks_dir) / _PROCESSING


def full_masks_dir(masks_dir: str | Path) -> Path:
    """The folder holding dilated masks at the input's own resolution (`full/`, else `proc/`)."""
    masks_dir = Path(masks_dir)
    full = masks_dir / _FULL
    return full if full.is_dir() else processing_masks_dir(masks_dir)


def mask_summary_path(masks_dir: str | Path) -> Path:
    """The mask stage's `summary.json` (hole coverage per frame)."""
    return Path(masks_dir) / _SUMMARY


def read_mask_summary(masks_dir: str | Path) -> dict:
    """The mask stage's summary: sample, dilation, coverage_per_frame, coverage, empty."""
    return read_json(mask_summary_path(masks_dir))


class MaskFolderWriter:
    """Writes a mask stage folder: `proc/`, `full/` when `resized`, then `summary.json`."""

    def __init__(self, folder: str | Path, resized: bool) -> None:
        self.folder = Path(folder)
        self.processing = processing_masks_dir(folder)
        self.full = self.folder / _FULL if resized else None
        self.processing.mkdir(parents=True)
        if self.full is not None:
            self.full.mkdir()

    def write_processing(self, index: int, mask: np.ndarray) -> None:
        """Mask `index` at the processing size."""
        write_mask(self.processing / frame_name(index), mask)

    def write_full(self, index: int, mask: np.ndarray) -> None:
        """Mask `index` at the input's size (only for a resized clip)."""
        if self.full is None:
            raise ValueError("full-size masks are written only when the clip is resized")
        write_mask(self.full / frame_name(index), mask)

    def close(self, summary: Mapping) -> None:
        """Write `summary.json`."""
        write_json(mask_summary_path(self.folder), dict(summary))


def repeats_path(stage_dir: str | Path) -> Path:
    """The `repeats.json` of a frames or mask stage folder."""
    return Path(stage_dir) / _REPEATS


def write_repeats(
    stage_dir: str | Path, sources: Sequence[int], tolerance: float | None = None
) -> None:
    """Record each frame's source (`vanish.repeats`) in a frames or mask stage folder (the
    frames stage also records the tolerance it used)."""
    record: dict = {"sources": list(sources)}
    if tolerance is not None:
        record["tolerance"] = tolerance
    write_json(repeats_path(stage_dir), record)


def read_repeats(stage_dir: str | Path, count: int) -> list[int]:
    """Each frame's source; without `repeats.json` (repeats not looked for) every frame is its
    own."""
    path = repeats_path(stage_dir)
    if not path.is_file():
        return list(range(count))
    sources = read_json(path)["sources"]
    if len(sources) != count:
        raise ValueError(f"{path} lists {len(sources)} frames, the folder has {count}")
    return sources


def frame_repeats(frames_dir: str | Path) -> list[int]:
    """The sources of a frames stage folder's frames, by pixels (what the mask stages split)."""
    return read_repeats(frames_dir, count_images(processing_frames_dir(frames_dir)))


def mask_repeats(masks_dir: str | Path) -> list[int]:
    """The sources of a mask stage folder's frames: what every later stage follows."""
    return read_repeats(masks_dir, count_images(processing_masks_dir(masks_dir)))


def computed_indices(masks_dir: str | Path) -> list[int]:
    """The frames later stages compute (their own source), in order."""
    return [index for index, source in enumerate(mask_repeats(masks_dir)) if source == index]


def computed_frame_paths(frames_dir: str | Path, masks_dir: str | Path) -> list[Path]:
    """The processing-size frames later stages compute; position k is computed frame k."""
    paths = list_images(processing_frames_dir(frames_dir))
    return [paths[index] for index in computed_indices(masks_dir)]


def computed_hole_paths(masks_dir: str | Path) -> list[Path]:
    """The processing-size holes of the computed frames; position k is computed frame k."""
    paths = list_images(processing_masks_dir(masks_dir))
    return [paths[index] for index in computed_indices(masks_dir)]


@dataclass
class Roi:
    """The mask stage's regions of interest (`vanish.roi`): every shot's box in input pixels
    (x0, y0, x1, y1, end exclusive; all of one size), processed at `size` (width, height).
    `starts`: each shot's first frame; `cuts`: the frames that start a shot (but the first)."""

    size: list[int]
    starts: list[int]
    boxes: list[list[int]]
    cuts: list[int]
    margin: int
    max_fraction: float

    def box(self, index: int) -> tuple[slice, slice]:
        """Rows and columns of frame `index`'s region in the input-size frame."""
        from vanish.roi import shot_of

        x0, y0, x1, y1 = self.boxes[shot_of(index, self.starts)]
        return slice(y0, y1), slice(x0, x1)


def roi_path(masks_dir: str | Path) -> Path:
    """The mask stage's `roi.json`: {"applied": false, …} when whole frames are processed."""
    return Path(masks_dir) / _ROI


def write_roi(masks_dir: str | Path, roi: Roi | None, record: Mapping) -> None:
    """Write `roi.json`: the regions (`roi`; None: whole frames) and why (`record`)."""
    data = {"applied": roi is not None, **dict(record), **(asdict(roi) if roi else {})}
    write_json(roi_path(masks_dir), data)


def read_roi(masks_dir: str | Path) -> Roi | None:
    """The regions later stages process, or None: whole frames (no `roi.json`, or not applied)."""
    path = roi_path(masks_dir)
    if not path.is_file():
        return None
    data = read_json(path)
    if not data.get("applied"):
        return None
    return Roi(**{key: data[key] for key in Roi.__dataclass_fields__})


class ComputedFrames:
    """The frames the stages after the masks compute, read on demand; position k is computed
    frame k. Whole processing-size frames, or, when the mask stage chose regions of interest,
    each frame's region cut from the input-size frame and scaled (bicubic, as the frames stage)
    to the regions' processing size. Cutting on reading keeps the regions' pixels out of the
    kept `masks/` folder (a few hundred bytes a frame there, docs/disk.md)."""

    def __init__(self, frames_dir: str | Path, masks_dir: str | Path) -> None:
        self.roi = read_roi(masks_dir)
        self.indices = computed_indices(masks_dir)
        folder = original_frames_dir(frames_dir) if self.roi else processing_frames_dir(frames_dir)
        paths = list_images(folder)
        self.paths = [paths[index] for index in self.indices]

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, position: int) -> np.ndarray:
        """Computed frame `position` (H, W, 3) uint8."""
        frame = read_rgb(self.paths[position])
        if self.roi is None:
            return frame
        crop = np.ascontiguousarray(frame[self.roi.box(self.indices[position])])
        size = (self.roi.size[0], self.roi.size[1])
        if (crop.shape[1], crop.shape[0]) == size:
            return crop
        return np.asarray(Image.fromarray(crop).resize(size, Image.BICUBIC))

    def read_range(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Computed frames start…stop-1 as (T, H, W, 3) uint8."""
        return np.stack([self.read(k) for k in range(len(self))[start:stop]])


def processing_size(frames_dir: str | Path, masks_dir: str | Path) -> tuple[int, int]:
    """(width, height) of the frames the stages after the masks see."""
    roi = read_roi(masks_dir)
    if roi:
        return roi.size[0], roi.size[1]
    meta = read_clip_meta(clip_meta_path(frames_dir))
    return meta.proc_width, meta.proc_height


def roi_cuts(masks_dir: str | Path) -> list[int]:
    """The regions' shot cuts as computed-frame positions (where a flow must not link frames:
    the region moves there), [] without regions."""
    roi = read_roi(masks_dir)
    if not roi:
        return []
    positions = {index: position for position, index in enumerate(computed_indices(masks_dir))}
    return sorted({positions[cut] for cut in roi.cuts if cut in positions})


def write_json(path: str | Path, data: dict) -> None:
    """Write JSON with stable formatting (sorted keys) so reruns give identical bytes."""
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_json(path: str | Path) -> dict:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_clip_meta(path: str | Path, meta: ClipMeta) -> None:
    """Write the frames stage's `meta.json`."""
    write_json(path, asdict(meta))


def read_clip_meta(path: str | Path) -> ClipMeta:
    """Read the frames stage's `meta.json`."""
    return ClipMeta(**read_json(path))


def _flow_chunk_path(folder: Path, start: int) -> Path:
    """The flow chunk file that starts at flow `start`."""
    return folder / f"chunk_{start:05d}.npz"


class FlowWriter:
    """Append bidirectional flows chunk by chunk to a flow folder (streaming, bounded memory)."""

    def __init__(self, folder: str | Path, dtype: str = "float16") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtype = dtype
        self.count = 0
        self.chunks: list[list[int]] = []
        self.shape: tuple[int, int] | None = None

    def append(self, forward: np.ndarray, backward: np.ndarray) -> None:
        """Store flows self.count … self.count+k-1; arrays are (k, 2, H, W)."""
        if forward.shape != backward.shape or forward.ndim != 4 or forward.shape[1] != 2:
            raise ValueError(f"flow chunk shapes {forward.shape} / {backward.shape} invalid")
        self.shape = (int(forward.shape[2]), int(forward.shape[3]))
        kind = FLOW_DTYPES[self.dtype]
        path = _flow_chunk_path(self.folder, self.count)
        np.savez(path, forward=forward.astype(kind), backward=backward.astype(kind))
        self.chunks.append([self.count, len(forward)])
        self.count += len(forward)

    def close(self, **extra: object) -> None:
        """Write `meta.json`; extra keys (e.g. shot cuts) are stored alongside."""
        height, width = self.shape or (0, 0)
        meta = {
            "count": self.count,
            "height": height,
            "width": width,
            "dtype": self.dtype,
            "chunks": self.chunks,
            **extra,
        }
        write_json(self.folder / _META, meta)


class FlowReader:
    """Random access to a flow folder, reading only the chunks a window needs."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.meta = read_json(self.folder / _META)
        self.count: int = self.meta["count"]

    @property
    def cuts(self) -> list[int]:
        """Frame indices that start a new shot (flows into them are meaningless)."""
        return list(self.meta.get("cuts", []))

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Flows start…stop-1 of both directions as float32 (k, 2, H, W)."""
        forward, backward = [], []
        for chunk_start, length in self.meta["chunks"]:
            lo, hi = max(start, chunk_start), min(stop, chunk_start + length)
            if lo >= hi:
                continue
            with np.load(_flow_chunk_path(self.folder, chunk_start)) as data:
                forward.append(data["forward"][lo - chunk_start : hi - chunk_start])
                backward.append(data["backward"][lo - chunk_start : hi - chunk_start])
        height, width = self.meta["height"], self.meta["width"]
        empty = np.zeros((0, 2, height, width), np.float32)
        fwd = np.concatenate(forward).astype(np.float32) if forward else empty
        bwd = np.concatenate(backward).astype(np.float32) if backward else empty
        return fwd, bwd


def iter_chunks(count: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) ranges covering 0…count-1 in steps of `size`."""
    for start in range(0, count, size):
        yield start, min(count, start + size)


def write_frame_folder(folder: str | Path, frames: Iterable[np.ndarray], first: int = 0) -> int:
    """Write RGB frames as numbered PNGs from index `first`; returns how many were written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for offset, frame in enumerate(frames):
        write_rgb(folder / frame_name(first + offset), frame)
        written += 1
    return written


def write_mask_folder(folder: str | Path, masks: Iterable[np.ndarray], first: int = 0) -> int:
    """Write bool masks as numbered PNGs from index `first`; returns how many were written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for offset, mask in enumerate(masks):
        write_mask(folder / frame_name(first + offset), mask)
        written += 1
    return written


def propagated_frames_dir(propagated_dir: str | Path) -> Path:
    """The propagated folder's frames (unfilled hole pixels mid-grey)."""
    return Path(propagated_dir) / _PROPAGATED_FRAMES


def propagated_holes_dir(propagated_dir: str | Path) -> Path:
    """The propagated folder's masks of the holes that propagation left."""
    return Path(propagated_dir) / _PROPAGATED_HOLES


def read_propagated(
    propagated_dir: str | Path, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Frames start…stop-1 of a propagated folder and their remaining holes."""
    return read_frames(propagated_frames_dir(propagated_dir), start, stop), read_masks(
        propagated_holes_dir(propagated_dir), start, stop
    )


def write_propagated(
    propagated_dir: str | Path, frames: np.ndarray, holes: np.ndarray, first: int
) -> None:
    """Store propagated frames and their remaining holes from frame index `first` on."""
    write_frame_folder(propagated_frames_dir(propagated_dir), frames, first=first)
    write_mask_folder(propagated_holes_dir(propagated_dir), holes, first)


def write_propagation_summary(propagated_dir: str | Path, summary: Mapping) -> None:
    """The propagated folder's `summary.json`."""
    write_json(Path(propagated_dir) / _SUMMARY, dict(summary))


def read_propagation_summary(propagated_dir: str | Path) -> dict:
    """The propagated folder's `summary.json` (as `write_propagation_summary` wrote it)."""
    return read_json(Path(propagated_dir) / _SUMMARY)


DETECTION_COLUMNS = {
    "frame": "int32",
    "track": "int32",
    "class": "string",
    "class_id": "int32",
    "confidence": "float32",
    "x1": "float32",
    "y1": "float32",
    "x2": "float32",
    "y2": "float32",
}
DETECTION_METADATA_KEY = b"vanish"


def detections_table(per_frame: Sequence[np.ndarray], names: Mapping[int, str]) -> pd.DataFrame:
    """The detections table of per-frame tracker rows `[x1, y1, x2, y2, track, conf, class_id]`."""
    import pandas as pd

    rows = [
        (frame, int(r[4]), names.get(int(r[6]), str(int(r[6]))), int(r[6]), r[5], *r[:4])
        for frame, array in enumerate(per_frame)
        for r in np.asarray(array).reshape(-1, 7)
    ]
    table = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    return table.astype(DETECTION_COLUMNS).sort_values(["frame", "track"], ignore_index=True)


def write_detections(path: str | Path, table: pd.DataFrame, metadata: Mapping) -> None:
    """Write `detections.parquet` (atomically) with `metadata` as JSON in the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(DETECTION_COLUMNS)
    arrow = pa.Table.from_pandas(table.astype(DETECTION_COLUMNS)[columns], preserve_index=False)
    schema_meta = dict(arrow.schema.metadata or {})
    schema_meta[DETECTION_METADATA_KEY] = json.dumps(dict(metadata), sort_keys=True).encode()
    arrow = arrow.replace_schema_metadata(schema_meta)
    with atomic_file(path) as tmp:
        pq.write_table(arrow, tmp)


def read_detections(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """The table of `detections.parquet` and its metadata."""
    import pyarrow.parquet as pq

    arrow = pq.read_table(path)
    raw = (arrow.schema.metadata or {}).get(DETECTION_METADATA_KEY, b"{}")
    table = arrow.to_pandas()
    missing = set(DETECTION_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}")
    return table.astype(DETECTION_COLUMNS), json.loads(raw)


def write_selection(path: str | Path, record: Mapping) -> None:
    """Write `selection.json` atomically."""
    with atomic_file(path) as tmp:
        write_json(tmp, dict(record))


def read_selection(path: str | Path) -> dict:
    """The record of `selection.json`."""
    return read_json(path)


def runtime_from_benchmarks(benchmark_files: Iterable[str | Path]) -> dict[str, float]:
    """Seconds per stage from Snakemake benchmark TSVs named `{stage}.tsv` (absent ones skipped)."""
    import pandas as pd

    runtime = {}
    for path in map(Path, benchmark_files):
        if path.is_file():
            table = pd.read_csv(path, sep="\t")
            runtime[path.stem] = float(table["s"].mean())
    return runtime


# ---- the run's own files in the results folder (vanish/status.py, vanish/runlock.py) -----------

STATUS_COLUMNS = ("sample", "state", "error", "log")


def run_status_path(results: str | Path) -> Path:
    """`{results}/status.csv`: every sample's state at the end of the last run."""
    return Path(results) / "status.csv"


def run_lock_path(results: str | Path) -> Path:
    """`{results}/vanish.lock`: the run that owns the results folder (JSON)."""
    return Path(results) / "vanish.lock"


def write_run_status(path: str | Path, rows: Iterable[Mapping[str, str]]) -> None:
    """Write the status table (columns `STATUS_COLUMNS`, one row per sample) atomically."""
    import csv

    with atomic_file(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=STATUS_COLUMNS)
        writer.writeheader()
        writer.writerows({key: row.get(key, "") for key in STATUS_COLUMNS} for row in rows)


def read_run_status(path: str | Path) -> list[dict[str, str]]:
    """The rows of a status table (empty fields as "")."""
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
