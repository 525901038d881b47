"""Stage `complete`: fill the flow fields inside the holes.

Classical backend: harmonic (Laplace) interpolation from the hole boundary, per flow field. A
forward flow k lives on frame k's grid and takes frame k's hole; a backward flow k lives on frame
k+1's grid and takes frame k+1's hole. Output has the flow folder format of the `flows` stage.
"""

from __future__ import annotations

from pathlib import Path

from vanish import io
from vanish.atomic import atomic_dir
from vanish.models.classical import harmonic_fill


def classical_complete(
    flows_dir: str | Path, masks_dir: str | Path, out_dir: str | Path, chunk: int = 16
) -> Path:
    """Harmonically complete every flow of `flows_dir` inside the holes of `masks_dir`."""
    reader = io.FlowReader(flows_dir)
    mask_dir = Path(masks_dir) / "proc"
    with atomic_dir(out_dir) as tmp:
        writer = io.FlowWriter(tmp, reader.meta["dtype"])
        for start, stop in io.iter_chunks(reader.count, chunk):
            forward, backward = reader.read(start, stop)
            holes = io.read_masks(mask_dir, start, stop + 1)
            for offset in range(stop - start):
                forward[offset] = harmonic_fill(forward[offset], holes[offset])
                backward[offset] = harmonic_fill(backward[offset], holes[offset + 1])
            writer.append(forward, backward)
        writer.close(cuts=reader.cuts, method=f"{reader.meta.get('method', '?')}+harmonic")
    return Path(out_dir)
