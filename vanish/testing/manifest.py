"""Checkpoint manifests (`name shape dtype` TSV files) and the deterministic golden weight rule.

The manifests describe the published checkpoints' state dicts; the rule fills them with
pseudo-random tensors so that tests and benchmarks can exercise the real loading path and compare
against golden outputs without the (non-downloadable) published weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class ManifestRow:
    """One state-dict entry of a published checkpoint."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def _parse_shape(text: str) -> tuple[int, ...]:
    inner = text.strip().strip("()").strip()
    return tuple(int(part) for part in inner.split(",") if part.strip())


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse a manifest, skipping `#` comment lines and the `name shape dtype` header."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, shape, dtype = line.split("\t")[:3]
        if name == "name":
            continue
        rows.append(ManifestRow(name, _parse_shape(shape), dtype))
    return rows


def rule_weights(rows: list[ManifestRow], seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic weights for every float32 row, drawn in manifest order from one generator.

    Matrices get std 1/sqrt(fan_in); 1-d weights and running variances 1 + 0.1·N(0,1) (so batch
    norm stays defined); other 1-d tensors 0.02·N(0,1). Non-float rows draw nothing and keep the
    module's own buffer.
    """
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    weights: dict[str, torch.Tensor] = {}
    for row in rows:
        if row.dtype != "float32":
            continue
        x = torch.randn(row.shape, generator=generator, dtype=torch.float32)
        if len(row.shape) >= 2:
            weights[row.name] = x * (1.0 / math.sqrt(math.prod(row.shape[1:])))
        elif row.name.endswith("weight") or row.name.endswith("running_var"):
            weights[row.name] = 1.0 + 0.1 * x
        else:
            weights[row.name] = 0.02 * x
    return weights


def state_dict_layout(state_dict: dict[str, torch.Tensor]) -> list[ManifestRow]:
    """The `name shape dtype` layout of a state dict, in its own order, for manifest comparison."""
    return [
        ManifestRow(name, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."))
        for name, tensor in state_dict.items()
    ]
