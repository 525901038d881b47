"""Runs of repeated frames: every stage computes each distinct frame once (docs/architecture.md,
Repeated frames).

Real footage repeats frames (frame-rate conversion, paused or static shots, slideshows, screen
recordings). A frame whose pixels equal the first frame of the current run is a *repeat*: it
reuses the result of that frame (its *source*). The frames stage finds pixel repeats; the mask
stages keep a frame a repeat only when its mask also equals its source's, so a repeat's result is
exactly its source's. Later stages see only the *computed* frames (sources of themselves), and
the compositor writes every frame, repeats as links to their source's file.

`tolerance` γ = 0 compares exact pixels (lossless). γ > 0 also takes a frame whose 8×8 block
means differ from the run's first frame's by at most γ (static shots with sensor noise): such a
frame's result is its source's, so its own noise inside the hole is lost (docs/benchmarks.md).

Sources are stored as one list: `sources[i]` is the frame whose result frame i reuses (i itself
for a computed frame). Runs are consecutive, so every repeat follows its source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 8  # side of the blocks whose means γ > 0 compares


def block_means(frame: np.ndarray) -> np.ndarray:
    """Mean of every BLOCK×BLOCK block (edge blocks padded by repetition), per channel."""
    height, width = frame.shape[:2]
    pad = ((0, -height % BLOCK), (0, -width % BLOCK)) + ((0, 0),) * (frame.ndim - 2)
    padded = np.pad(frame.astype(np.float32), pad, mode="edge")
    rows, cols = padded.shape[0] // BLOCK, padded.shape[1] // BLOCK
    blocks = padded.reshape(rows, BLOCK, cols, BLOCK, *padded.shape[2:])
    return blocks.mean(axis=(1, 3))


def same_pixels(frame: np.ndarray, first: np.ndarray, tolerance: float) -> bool:
    """Whether `frame` repeats `first`: equal (γ = 0), or no block mean differs by more than γ."""
    if frame.shape != first.shape:
        return False
    if tolerance <= 0:
        return np.array_equal(frame, first)
    return float(np.abs(block_means(frame) - block_means(first)).max()) <= tolerance


def keep_a_pair(sources: list[int]) -> list[int]:
    """A clip of ≥ 2 frames keeps ≥ 2 computed frames (flow needs a pair): a fully static clip
    computes its last frame too."""
    if len(sources) >= 2 and len(computed(sources)) < 2:
        sources = [*sources[:-1], len(sources) - 1]
    return sources


class PixelRuns:
    """Assigns streamed frames their sources by pixels (the frames stage); holds one frame."""

    def __init__(self, reuse: bool, tolerance: float) -> None:
        self.reuse, self.tolerance = reuse, tolerance
        self.first: np.ndarray | None = None  # the current run's first frame
        self.found: list[int] = []

    def add(self, frame: np.ndarray) -> None:
        """The next frame of the clip."""
        index = len(self.found)
        if self.reuse and self.first is not None and same_pixels(frame, self.first, self.tolerance):
            self.found.append(self.found[-1])
        else:
            self.first = frame
            self.found.append(index)

    @property
    def sources(self) -> list[int]:
        """The source of every frame added so far."""
        return keep_a_pair(self.found)


class MaskRuns:
    """Splits pixel runs where the mask changes (the mask stages): a repeat's source has the same
    pixels (within γ) and the same mask, so its result is the source's."""

    def __init__(self, pixel_sources: Sequence[int] | None) -> None:
        """`pixel_sources`: the frames stage's sources (None: no frame repeats another)."""
        self.pixel_sources = None if pixel_sources is None else list(pixel_sources)
        self.first: np.ndarray | None = None  # the current run's first mask
        self.found: list[int] = []

    def _pixel_source(self, index: int) -> int:
        if self.pixel_sources is None:
            return index
        if index >= len(self.pixel_sources):
            raise ValueError(f"{index + 1} masks for {len(self.pixel_sources)} frames")
        return self.pixel_sources[index]

    def add(self, mask: np.ndarray) -> None:
        """The next frame's mask (any size: compared to the run's first)."""
        index = len(self.found)
        pixel_source = self._pixel_source(index)
        if (
            self.first is not None
            and pixel_source == self._pixel_source(self.found[-1])
            and np.array_equal(mask, self.first)
        ):
            self.found.append(self.found[-1])
        else:
            self.first = mask
            self.found.append(index)

    @property
    def sources(self) -> list[int]:
        """The source of every frame added so far."""
        return keep_a_pair(self.found)


def computed(sources: Sequence[int]) -> list[int]:
    """The frames that are computed (their own source), in order."""
    return [index for index, source in enumerate(sources) if source == index]


def repeats_of(sources: Sequence[int]) -> dict[int, list[int]]:
    """Computed frame -> the frames (after it) that reuse its result."""
    out: dict[int, list[int]] = {index: [] for index in computed(sources)}
    for index, source in enumerate(sources):
        if source != index:
            out[source].append(index)
    return out
