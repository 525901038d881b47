"""The one place where checkpoint files are opened.

Every network's weights go through `load_checkpoint`, so a missing file, a wrong or tampered file
and an unsafe pickle all fail the same way, with a message that says how to fix it. Files are
pinned by sha256 (not by name) because a fine-tuned checkpoint can carry the published file name.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch

DOWNLOAD_COMMAND = "snakemake --cores 1 download_weights"
DEFAULT_WEIGHTS_DIR = Path("resources/weights")
RELEASE_URL = "https://github.com/sczhou/ProPainter/releases/download/v0.1.0"

# Wrapper keys under which some training scripts nest the state dict ({'state_dict': {...}}).
# The published ProPainter files are plain state dicts; this only helps fine-tuned files.
STATE_DICT_KEYS = ("state_dict", "params", "model")


@dataclass(frozen=True)
class WeightSpec:
    """Where a network's checkpoint lives, the sha256 it must have and where to fetch it."""

    name: str
    path: Path
    sha256: str | None
    url: str | None


# The published checkpoints (GitHub release assets of sczhou/ProPainter v0.1.0).
# sha256 is None on purpose: the files could not be downloaded where this code was written, and an
# invented hash would be worse than none. The config must pin it (`weights: {name: {sha256: ...}}`);
# `load_checkpoint` refuses an unpinned file and prints the hash it found.
PUBLISHED_WEIGHTS: dict[str, WeightSpec] = {
    name: WeightSpec(name, DEFAULT_WEIGHTS_DIR / file_name, None, f"{RELEASE_URL}/{file_name}")
    for name, file_name in (
        ("raft", "raft-things.pth"),
        ("flow_completion", "recurrent_flow_completion.pth"),
        ("propainter", "ProPainter.pth"),
    )
}


class WeightsError(RuntimeError):
    """Base class: a checkpoint cannot be used as it is."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """The checkpoint file is not where the config says it is."""


class WeightChecksumError(WeightsError):
    """The checkpoint's sha256 is not the pinned one (or none is pinned)."""


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large checkpoints do not sit in memory twice."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _pin_hint(name: str, path: Path, actual: str) -> str:
    return (
        f"If this file is intended (e.g. a fine-tuned checkpoint), pin it in the config:\n"
        f"  weights:\n    {name}:\n      path: {path}\n      sha256: {actual}\n"
        f"Otherwise delete it and re-download it with: {DOWNLOAD_COMMAND}"
    )


def verify_checkpoint(path: str | Path, expected_sha256: str | None, name: str) -> Path:
    """Check that the file exists and has the pinned sha256; return it as a Path."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(
            f"Weights '{name}' not found: expected the file {path}.\n"
            f"Fetch the published checkpoints with: {DOWNLOAD_COMMAND}\n"
            f"(or set weights: {{{name}: {{path: ..., sha256: ...}}}} in the config)."
        )
    actual = sha256_file(path)
    if not expected_sha256:
        raise WeightChecksumError(
            f"Weights '{name}' ({path}) have no sha256 pinned; refusing to load an unverified "
            f"file. Its sha256 is {actual}.\n" + _pin_hint(name, path, actual)
        )
    if actual != expected_sha256.strip().lower():
        raise WeightChecksumError(
            f"Weights '{name}': sha256 mismatch for {path}.\n"
            f"  expected: {expected_sha256}\n  actual:   {actual}\n" + _pin_hint(name, path, actual)
        )
    return path


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def unwrap_state_dict(obj: object, name: str) -> dict[str, torch.Tensor]:
    """Return the state dict itself, or the one nested under a key of `STATE_DICT_KEYS`."""
    if _is_state_dict(obj):
        return dict(obj)  # type: ignore[arg-type]
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
    raise WeightsError(
        f"Weights '{name}': the checkpoint holds no state dict (a mapping of names to tensors), "
        f"neither at the top level nor under one of the keys {list(STATE_DICT_KEYS)}."
    )


def load_checkpoint(
    path: str | Path, expected_sha256: str | None, name: str
) -> dict[str, torch.Tensor]:
    """Verify, then load a checkpoint on the CPU with `weights_only=True` (no arbitrary code).

    `expected_sha256` is required; None is accepted only to produce a helpful error that shows the
    file's actual hash.
    """
    path = verify_checkpoint(path, expected_sha256, name)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"Weights '{name}' ({path}) contain objects other than tensors and plain containers; "
            f"refusing to unpickle them (torch.load weights_only=True): {exc}"
        ) from exc
    return unwrap_state_dict(obj, name)


def spec_from_entry(
    default: WeightSpec, entry: Mapping[str, object], section: str = "weights"
) -> WeightSpec:
    """`default` overridden by a config entry {path, sha256, url} under `section`."""
    unknown = set(entry) - {"path", "sha256", "url"}
    if unknown:
        raise ValueError(
            f"{section}.{default.name}: unknown field(s) {sorted(unknown)}; "
            "allowed: path, sha256, url"
        )
    changes: dict[str, object] = {}
    if entry.get("path") is not None:
        changes["path"] = Path(str(entry["path"]))
    for field in ("sha256", "url"):
        if entry.get(field) is not None:
            changes[field] = str(entry[field])
    return replace(default, **changes)


def weight_specs(config: Mapping[str, object]) -> dict[str, WeightSpec]:
    """Specs for every network: the published defaults overridden by `config['weights']`.

    `config` is the workflow config; its optional `weights` section maps a network name
    (raft, flow_completion, propainter) to any of `path`, `sha256`, `url`.
    """
    section = config.get("weights") or {}
    if not isinstance(section, Mapping):
        raise ValueError(
            "config 'weights' must be a mapping of network name to {path, sha256, url}"
        )
    unknown = set(section) - set(PUBLISHED_WEIGHTS)
    if unknown:
        raise ValueError(
            f"config 'weights': unknown network(s) {sorted(unknown)}; "
            f"known: {sorted(PUBLISHED_WEIGHTS)}"
        )
    specs = dict(PUBLISHED_WEIGHTS)
    for name, entry in section.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"config 'weights.{name}' must be a mapping with path/sha256/url")
        specs[name] = spec_from_entry(PUBLISHED_WEIGHTS[name], entry)
    return specs


# PROVISIONAL: replaced by the one registry
_FILES = {
    "raft-things": "raft-things.pth",
    "recurrent_flow_completion": "recurrent_flow_completion.pth",
    "ProPainter": "ProPainter.pth",
    "yolo11x": "yolo11x.pt",
    "open_clip_vit_b32_laion2b_s34b_b79k": "open_clip_ViT-B-32_laion2b_s34b_b79k.safetensors",
    "sam_vit_h": "sam_vit_h_4b8939.pth",
    "grounding_dino_tiny": "grounding-dino-tiny",
}


def resolve_weights(section, weights_dir):
    out = {}
    for role, value in section.items():
        if isinstance(value, str):
            out[role] = WeightSpec(role, Path(weights_dir) / _FILES[value], None, None)
        else:
            out[role] = WeightSpec(role, Path(value["path"]), value.get("sha256"), None)
    return out
