"""Index logic of the ProPainter inference orchestration (docs/architecture.md §5.6), kept pure.

Every stage of the learned backend walks the clip in windows so that memory is bounded by the
window, never by the clip. The windows are reproduced exactly as the reference script forms them
because they change the numbers: the flow-completion net sees different temporal context per
window, and the generator's composite is a running average over overlapping windows in window
order. Nothing here touches tensors or files.
"""

from __future__ import annotations

from dataclasses import dataclass

RFC_PAD = 5  # flows of context on each side of a flow-completion sub-video (§5.6.3)


@dataclass(frozen=True)
class SubVideo:
    """A window [start, stop) that is computed, of which only [keep_start, keep_stop) is kept."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int

    @property
    def keep(self) -> slice:
        """The kept part, relative to the window's start."""
        return slice(self.keep_start - self.start, self.keep_stop - self.start)


def padded_windows(count: int, length: int, pad: int) -> list[SubVideo]:
    """Cover 0…count-1 with windows keeping `length` items and reading `pad` more on each side.

    One window covers everything when count ≤ length (the reference then makes a single call).
    """
    if length < 1:
        raise ValueError(f"window length must be >= 1, got {length}")
    if count <= length:
        return [SubVideo(0, count, 0, count)]
    windows = []
    for keep in range(0, count, length):
        keep_stop = min(count, keep + length)
        windows.append(SubVideo(max(0, keep - pad), min(count, keep_stop + pad), keep, keep_stop))
    return windows


def flow_completion_windows(num_flows: int, subvideo_length: int = 80) -> list[SubVideo]:
    """Flow-index windows of the flow-completion stage (§5.6.3): `subvideo_length` kept, 5 padded.

    A window over flows [start, stop) needs the masks of frames [start, stop + 1). The default
    mirrors the published inference script (the stages always pass `propainter.subvideo_length`).
    """
    return padded_windows(num_flows, subvideo_length, RFC_PAD)


def reference_count(num_frames: int, subvideo_length: int, ref_stride: int) -> int:
    """ref_num of §5.6.5: ⌊S / rs⌋ for clips longer than S, else -1 (no limit)."""
    return subvideo_length // ref_stride if num_frames > subvideo_length else -1


def reference_indices(
    mid: int, local: list[int], num_frames: int, ref_stride: int, ref_num: int
) -> list[int]:
    """Reference (non-local) frames of the generator window centred on `mid` (§5.6.5).

    Reproduces the reference literally: without a limit every multiple of `ref_stride` outside
    `local`; with one, a scan from max(0, mid - rs·⌊ref_num/2⌋) (not aligned to rs) that stops
    only once the list holds *more than* ref_num entries. With the scan range used here that
    bound can never be reached, but it is kept so that the rule reads as specified.
    """
    taken = set(local)
    if ref_num == -1:
        return [i for i in range(0, num_frames, ref_stride) if i not in taken]
    half = ref_stride * (ref_num // 2)
    refs: list[int] = []
    for i in range(max(0, mid - half), min(num_frames, mid + half), ref_stride):
        if i in taken:
            continue
        if len(refs) > ref_num:
            break
        refs.append(i)
    return refs


def generator_windows(
    num_frames: int, neighbor_length: int = 10, ref_stride: int = 10, subvideo_length: int = 80
) -> list[tuple[list[int], list[int]]]:
    """(local_indices, ref_indices) of every generator call, in the reference's order (§5.6.5).

    Windows are centred on 0, ns, 2ns, … with ns = ⌊neighbor_length / 2⌋ and hold the ≤ 2ns+1
    consecutive frames around the centre, plus reference frames for long-range context. The
    defaults mirror the published inference script (the stages always pass the `propainter`
    section's values).
    """
    step = neighbor_length // 2
    if step < 1:
        raise ValueError(f"neighbor_length must be >= 2, got {neighbor_length}")
    ref_num = reference_count(num_frames, subvideo_length, ref_stride)
    windows = []
    for mid in range(0, num_frames, step):
        local = list(range(max(0, mid - step), min(num_frames, mid + step + 1)))
        windows.append((local, reference_indices(mid, local, num_frames, ref_stride, ref_num)))
    return windows


def release_schedule(windows: list[tuple[list[int], list[int]]], num_frames: int) -> list[range]:
    """Frames whose composite is final after each window: no later window has them as local.

    Only local frames are composited, so a frame can be written (and dropped from memory) as soon
    as the window that last has it as a local frame is done. Relies on nothing but the lists.
    """
    suffix_min = [num_frames] * (len(windows) + 1)
    for index in range(len(windows) - 1, -1, -1):
        local = windows[index][0]
        suffix_min[index] = min(suffix_min[index + 1], min(local, default=num_frames))
    releases: list[range] = []
    done = 0
    for index in range(len(windows)):
        bound = max(done, suffix_min[index + 1])
        releases.append(range(done, bound))
        done = bound
    return releases
