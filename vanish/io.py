"""Every on-disk format of the workflow's stage files, in one place.

- frame folders: `00000.png, 00001.png, …` lossless RGB PNG;
- mask folders: the same names, single-channel PNG, 0 = keep, 255 = remove;
- `meta.json` of the frames stage: fps, sizes, frame count, audio;
- flow folders: `meta.json` + `chunk_00000.npz, …`, each chunk holding `forward` and `backward`
  arrays (k, 2, H, W) for flows start…start+k-1 (forward[i]: frame i → i+1, backward[i]: frame
  i+1 → i; channel 0 = x, 1 = y, in processing-size pixels), stored as float16 or float32.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
FLOW_DTYPES = {"float16": np.float16, "float32": np.float32}


def frame_name(index: int) -> str:
    """File name of frame `index` in every frame and mask folder."""
    return f"{index:05d}.png"


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder, sorted by name (the frame order of DAVIS-style folders)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


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

    @property
    def resized(self) -> bool:
        """True when processing happens at another size than the input's."""
        return (self.width, self.height) != (self.proc_width, self.proc_height)


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
        name = f"chunk_{self.count:05d}.npz"
        np.savez(self.folder / name, forward=forward.astype(kind), backward=backward.astype(kind))
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
        write_json(self.folder / "meta.json", meta)


class FlowReader:
    """Random access to a flow folder, reading only the chunks a window needs."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.meta = read_json(self.folder / "meta.json")
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
            with np.load(self.folder / f"chunk_{chunk_start:05d}.npz") as data:
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
