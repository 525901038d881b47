"""Checkpoint files filled by the golden weight rule, in the published layouts.

The published weights cannot be downloaded everywhere (CI, tests, offline benchmarks), yet the
real loading path must run: these files have the published key names and shapes, deterministic
values, and go through the same `load_state_dict` (sha256, weights_only) as the real ones.

The manifests are the repository's `tests/data/reference/*.tsv` (found relative to this file, so
a source checkout is needed: the editable install of `make install`, as tests and benchmarks use).
"""

from __future__ import annotations

from pathlib import Path

import torch

from vanish.models.flow_completion import RecurrentFlowCompleteNet
from vanish.models.propainter import InpaintGenerator
from vanish.models.raft import build_raft
from vanish.testing.manifest import read_manifest, rule_weights
from vanish.weights import sha256_file

REPOSITORY = Path(__file__).resolve().parents[2]
REFERENCE = REPOSITORY / "tests" / "data" / "reference"  # the published checkpoints' manifests

MANIFESTS = {
    "raft": ("raft_large_torchvision.tsv", build_raft),
    "flow_completion": ("recurrent_flow_completion.tsv", RecurrentFlowCompleteNet),
    "propainter": ("propainter_inpaint_generator.tsv", InpaintGenerator),
}


def rule_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A network's full state dict: rule values for float tensors, the module's own buffers else."""
    manifest, build = MANIFESTS[name]
    path = REFERENCE / manifest
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: rule checkpoints need the repository's tests/data/reference "
            "(run from a source checkout with vanish installed editable)"
        )
    rows = read_manifest(path)
    state = build().state_dict()
    state.update(rule_weights(rows, seed))
    return state


def write_rule_checkpoints(folder: str | Path, seed: int = 0) -> dict[str, tuple[Path, str]]:
    """Save all three networks' rule checkpoints into `folder`; name -> (path, sha256)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in MANIFESTS:
        path = folder / f"{name}_rule_seed{seed}.pth"
        torch.save(rule_state_dict(name, seed), path)
        files[name] = (path, sha256_file(path))
    return files
