"""Every network's weights: one registry, one downloader, one loading and verification path.

`REGISTRY` lists the published files (name, role, URL of an exact release or revision, pinned
sha256, licence). The config's `weights:` section picks one per role (a registry name, or
`{path, sha256}` for a user's own file such as fine-tuned weights) and `resolve_weights` turns
it into `WeightSpec`s: where the file lives and the hash it must have. `download` fetches a spec's
file; `verified_file`, `verified_folder` and `load_state_dict` check it before anything opens it.
A missing file, a wrong hash or an unpinned file always fails with the same shape of message: the
role and registry name, the file, the expected path and the fix.

Files are pinned by sha256, not by name, because a fine-tuned checkpoint can carry the published
file name. This module does not import torch at module level (the workflow imports it while
planning); `load_state_dict` imports it when it runs.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import pickle
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DOWNLOAD_COMMAND = "snakemake --cores 1 download_weights"
DEFAULT_WEIGHTS_DIR = Path("resources/weights")

PROPAINTER_ROLES = ("raft", "flow_completion", "propainter")
DETECTOR_ROLES = ("yolo", "grounding_dino")
ROLES = (*PROPAINTER_ROLES, *DETECTOR_ROLES, "clip", "sam", "sam2", "sam3")

# Roles whose weights are a model folder (Hugging Face layout): the files fetched into it; the
# pinned sha256 is that of FOLDER_WEIGHTS_FILE (the rest is small JSON/text).
GROUNDING_DINO_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)
# SAM 3 (prompt.detector sam3): the Hugging Face checkpoint folder `Sam3VideoModel` and
# `Sam3VideoProcessor` load with local_files_only (docs/architecture.md, Weight registry).
SAM3_FILES = ("config.json", "model.safetensors", "tokenizer_config.json")
FOLDER_FILES: dict[str, tuple[str, ...]] = {
    "grounding_dino": GROUNDING_DINO_FILES,
    "sam3": SAM3_FILES,
}
# Roles whose published weights are gated (a licence to accept before downloading): the
# project never fetches them; the fix of every error says how the user gets and places them.
GATED: dict[str, str] = {
    "sam3": (
        "SAM 3's weights are gated: accept the SAM licence at "
        "https://huggingface.co/facebook/sam3, download the repository's files (e.g. "
        "`hf download facebook/sam3 --local-dir resources/weights/sam3`), then pin its "
        "model.safetensors"
    ),
}
FOLDER_WEIGHTS_FILE = "model.safetensors"

# Wrapper keys under which some training scripts nest the state dict ({'state_dict': {...}}).
# The published ProPainter files are plain state dicts; this only helps fine-tuned files.
STATE_DICT_KEYS = ("state_dict", "params", "model")

ALLOWED_SCHEMES = ("https", "http", "file")  # file:// serves local mirrors and the tests
PART_SUFFIX = ".part"
CHUNK = 1 << 20
TIMEOUT_S = 60
SHA256 = re.compile(r"[0-9a-f]{64}")

logger = logging.getLogger("vanish")


@dataclass(frozen=True)
class WeightFile:
    """One published file: data, like torchvision's weight enums."""

    name: str  # registry name, e.g. "sam_vit_h"
    role: str  # one of ROLES
    filename: str  # file name (a folder name for grounding_dino) under the weights dir
    url: str  # exact release/revision URL (never `main`); a folder's files are url/NAME
    sha256: str  # pinned hash of the file (for a folder: of its model.safetensors)
    licence: str
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def folder(self) -> bool:
        return self.role in FOLDER_FILES


@dataclass(frozen=True)
class WeightSpec:
    """A resolved checkpoint: what one stage loads, where it lives, the hash it must have."""

    role: str
    name: str | None  # registry name; None for a user's own file
    path: Path
    sha256: str | None  # None only for an own file not pinned yet (loading refuses it)
    url: str | None
    licence: str | None
    folder: bool


_PROPAINTER_URL = "https://github.com/sczhou/ProPainter/releases/download/v0.1.0"
_PROPAINTER_LICENCE = "S-Lab License 1.0 (non-commercial)"
_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything"
_SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_ULTRALYTICS_URL = "https://github.com/ultralytics/assets/releases/download/v8.3.0"
_CLIP_URL = (
    "https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/"
    "1a25a446712ba5ee05982a381eed697ef9b435cf/open_clip_model.safetensors"
)
_GROUNDING_DINO_URL = (
    "https://huggingface.co/IDEA-Research/grounding-dino-tiny/resolve/"
    "a2bb814dd30d776dcf7e30523b00659f4f141c71"
)

_FILES = (
    WeightFile(
        "raft-things",
        "raft",
        "raft-things.pth",
        f"{_PROPAINTER_URL}/raft-things.pth",
        "fcfa4125d6418f4de95d84aec20a3c5f4e205101715a79f193243c186ac9a7e1",
        "BSD-3-Clause (RAFT), distributed with ProPainter v0.1.0",
    ),
    WeightFile(
        "recurrent_flow_completion",
        "flow_completion",
        "recurrent_flow_completion.pth",
        f"{_PROPAINTER_URL}/recurrent_flow_completion.pth",
        "22939a1a7900da878dbe1ccd011d646b1bfb30b8290039d8ff0e0c2fefbfd283",
        _PROPAINTER_LICENCE,
    ),
    WeightFile(
        "ProPainter",
        "propainter",
        "ProPainter.pth",
        f"{_PROPAINTER_URL}/ProPainter.pth",
        "12c070c4b48f374c91d8a2a17851140b85c159621080989f9e191bbc18bd6591",
        _PROPAINTER_LICENCE,
    ),
    *(
        WeightFile(
            f"sam_{arch}",
            "sam",
            filename,
            f"{_SAM_URL}/{filename}",
            sha256,
            "Apache-2.0",
            {"arch": arch},
        )
        for arch, filename, sha256 in (
            (
                "vit_h",
                "sam_vit_h_4b8939.pth",
                "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
            ),
            (
                "vit_l",
                "sam_vit_l_0b3195.pth",
                "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
            ),
            (
                "vit_b",
                "sam_vit_b_01ec64.pth",
                "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
            ),
        )
    ),
    *(
        WeightFile(
            filename.removesuffix(".pt"),
            "sam2",
            filename,
            f"{_SAM2_URL}/{filename}",
            sha256,
            "Apache-2.0",
            {"arch": arch},
        )
        for arch, filename, sha256 in (
            (
                "hiera_l",
                "sam2.1_hiera_large.pt",
                "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
            ),
            (
                "hiera_b+",
                "sam2.1_hiera_base_plus.pt",
                "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
            ),
            (
                "hiera_s",
                "sam2.1_hiera_small.pt",
                "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
            ),
            (
                "hiera_t",
                "sam2.1_hiera_tiny.pt",
                "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
            ),
        )
    ),
    *(
        WeightFile(stem, "yolo", f"{stem}.pt", f"{_ULTRALYTICS_URL}/{stem}.pt", sha256, "AGPL-3.0")
        for stem, sha256 in (
            ("yolo11x", "7bc158aa95c0ebfdd87f70f01653c1131b93e92522dbe15c228bcd742e773a24"),
            ("yolov8x", "3df4ada6b4dad6d657868f2fdf7faecfb34dcfccf3a25c4b82079064718524c8"),
            ("yolov8m", "5d4a90cdc7a21786cc59cd19778e9eafff836df9e2da32524737c7ee6efe4fe5"),
            ("yolov8s", "1f47a78bf100391c2a140b7ac73a1caae18c32779be7d310658112f7ac9aa78a"),
            ("yolov8n", "f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36"),
        )
    ),
    WeightFile(
        "open_clip_vit_b32_laion2b_s34b_b79k",
        "clip",
        "open_clip_ViT-B-32_laion2b_s34b_b79k.safetensors",
        _CLIP_URL,
        "ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6",
        "MIT",
        {"arch": "ViT-B-32"},
    ),
    WeightFile(
        "grounding_dino_tiny",
        "grounding_dino",
        "grounding-dino-tiny",
        _GROUNDING_DINO_URL,
        "1a2412ef99bd74bcd3c2a246fa1e48581f8889a1300c9051974741314fc042f3",
        "Apache-2.0",
    ),
)
REGISTRY: dict[str, WeightFile] = {entry.name: entry for entry in _FILES}


class WeightsError(RuntimeError):
    """Base class: a checkpoint cannot be used as it is."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """The checkpoint file is not where the config says it is."""


class WeightChecksumError(WeightsError):
    """The checkpoint's sha256 is not the pinned one (or none is pinned)."""


def prompt_roles(detector: str, segmenter: str) -> tuple[str, ...]:
    """The roles of the prompt path's networks: SAM 3 alone (it detects, selects and segments),
    or the detector, CLIP and the segmenter (SAM or SAM 2)."""
    return ("sam3",) if detector == "sam3" else (detector, "clip", segmenter)


# --- resolving the config ---------------------------------------------------------------------


def _closest(word: str, choices: list[str]) -> list[str]:
    """`choices`, the closest to `word` first (difflib), then the rest in order."""
    close = difflib.get_close_matches(word, choices, n=len(choices), cutoff=0.0)
    return close + [c for c in choices if c not in close]


def registry_names(role: str) -> list[str]:
    """The registry names of one role, in registry order."""
    return [name for name, entry in REGISTRY.items() if entry.role == role]


def _sha256_field(value: object, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if not SHA256.fullmatch(text):
        raise ValueError(f"{where}: sha256 must be 64 hex digits (or null), got {value!r}")
    return text


def registry_spec(name: str, weights_dir: str | Path = DEFAULT_WEIGHTS_DIR) -> WeightSpec:
    """The spec of a registry file: weights_dir/filename, its pinned sha256, URL and licence."""
    entry = REGISTRY[name]
    return WeightSpec(
        role=entry.role,
        name=entry.name,
        path=Path(weights_dir) / entry.filename,
        sha256=entry.sha256,
        url=entry.url,
        licence=entry.licence,
        folder=entry.folder,
    )


def _resolve_one(role: str, entry: object, weights_dir: Path) -> WeightSpec:
    where = f"weights.{role}"
    if isinstance(entry, str):
        if entry not in REGISTRY:
            valid = _closest(entry, registry_names(role))
            raise ValueError(
                f"{where}: unknown weights {entry!r}; valid names for {role}: "
                f"{', '.join(valid)} (or {{path: ..., sha256: ...}} for your own file)"
            )
        if REGISTRY[entry].role != role:
            raise ValueError(
                f"{where}: {entry!r} is a {REGISTRY[entry].role} checkpoint, not a {role} one; "
                f"valid names for {role}: {', '.join(registry_names(role))}"
            )
        return registry_spec(entry, weights_dir)
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"path", "sha256", "url"}
        if unknown or not entry.get("path"):
            raise ValueError(
                f"{where}: an own file is {{path: ..., sha256: ...}} (optionally url: ...); "
                f"got the keys {sorted(entry)}"
            )
        url = entry.get("url")
        if url is not None and urllib.parse.urlparse(str(url)).scheme not in ALLOWED_SCHEMES:
            raise ValueError(f"{where}.url: the scheme must be one of {ALLOWED_SCHEMES}")
        sha256 = _sha256_field(entry.get("sha256"), where)
        return _file_spec(role, Path(str(entry["path"])), sha256, None if url is None else str(url))
    raise ValueError(
        f"{where} must be a registry name or {{path: ..., sha256: ...}}, got {entry!r}"
    )


def resolve_weights(
    section: Mapping[str, str | Mapping], weights_dir: str | Path
) -> dict[str, WeightSpec]:
    """The spec of every role in the config's `weights:` section.

    A role maps to a registry name (the file weights_dir/filename, pinned sha256, URL) or to
    `{path, sha256}` (optionally `url`) for an own file: its path as given; sha256 may be null,
    which makes loading fail with a message that prints the file's actual hash. An own entry
    pinned to a registry file's hash is that file at another path (its URL and licence too).
    """
    if not isinstance(section, Mapping):
        raise ValueError("config 'weights' must map a role to a registry name or {path, sha256}")
    unknown = [role for role in section if role not in ROLES]
    if unknown:
        raise ValueError(
            f"config 'weights': unknown role(s) {unknown}; the roles are "
            f"{', '.join(_closest(str(unknown[0]), list(ROLES)))}"
        )
    weights_dir = Path(weights_dir)
    return {role: _resolve_one(role, entry, weights_dir) for role, entry in section.items()}


def spec_for(role: str, path: str | Path, sha256: str | None) -> WeightSpec:
    """The spec of a stage's `weights_path` and `weights_sha256` (as the workflow passes them).

    A hash that pins a registry file of the role names it (for the messages); any other file is
    an own file.
    """
    if role not in ROLES:
        raise ValueError(f"unknown weights role {role!r}; the roles are {', '.join(ROLES)}")
    return _file_spec(role, Path(path), sha256.strip().lower() if sha256 else None, None)


def _file_spec(role: str, path: Path, sha256: str | None, url: str | None) -> WeightSpec:
    """The spec of a file given by path; a hash that pins a registry file of the role adds
    that file's name, URL (unless `url` is given) and licence."""
    entry = next((e for e in REGISTRY.values() if e.role == role and e.sha256 == sha256), None)
    return WeightSpec(
        role=role,
        name=entry.name if entry else None,
        path=path,
        sha256=sha256,
        url=url or (entry.url if entry else None),
        licence=entry.licence if entry else None,
        folder=role in FOLDER_FILES,
    )


# --- messages -----------------------------------------------------------------------------------


def spec_label(spec: WeightSpec) -> str:
    """How messages name a spec: its role and registry name (or "own file")."""
    return f"Weights for '{spec.role}' ({spec.name or 'own file'})"


def _own_file_hint(spec: WeightSpec, sha256: str = "...") -> str:
    return f"weights: {{{spec.role}: {{path: {spec.path}, sha256: {sha256}}}}}"


def _fix(spec: WeightSpec, problem: str, actual: str | None = None) -> str:
    """The fix every weights error ends with; `problem` is missing, mismatch or unpinned."""
    kind = "folder" if spec.folder else "file"
    fetch = []
    if spec.url:
        again = f"delete {hashed_file(spec)} and fetch it again" if problem == "mismatch" else ""
        source = spec.url + ("/<file>" if spec.folder else "")
        fetch = [
            f"{again or 'fetch it'} with: {DOWNLOAD_COMMAND}",
            f"or place the {kind} there by hand (from {source})",
        ]
    elif problem != "unpinned":
        fetch = [f"put the intended {kind} at {spec.path}"]
    if problem == "missing":
        own = f"or, for your own {kind}, set in the config: {_own_file_hint(spec)}"
    else:
        own = (
            f"or, if this {kind} is the one you mean (e.g. fine-tuned weights), pin it in the "
            f"config: {_own_file_hint(spec, actual or '...')}"
        )
    lines = [*fetch, own]
    if spec.role in GATED:
        lines.insert(0, f"{GATED[spec.role]} ({_own_file_hint(spec, '<its sha256>')})")
    elif not spec.name:
        names = ", ".join(registry_names(spec.role))
        lines.append(
            f"or use published weights: weights: {{{spec.role}: NAME}} (NAME: {names}), "
            f"then: {DOWNLOAD_COMMAND}"
        )
    lines[0] = lines[0].removeprefix("or, ").removeprefix("or ")
    return "Fix:\n" + "\n".join(f"  {line}" for line in lines)


def _missing(spec: WeightSpec, path: Path) -> MissingWeightsError:
    return MissingWeightsError(
        f"{spec_label(spec)} not found: expected {path}.\n{_fix(spec, 'missing')}"
    )


def _mismatch(spec: WeightSpec, path: Path, actual: str) -> WeightChecksumError:
    return WeightChecksumError(
        f"{spec_label(spec)}: sha256 mismatch for {path}.\n"
        f"  expected: {spec.sha256}\n  actual:   {actual}\n{_fix(spec, 'mismatch', actual)}"
    )


def _unpinned(spec: WeightSpec, path: Path, actual: str) -> WeightChecksumError:
    return WeightChecksumError(
        f"{spec_label(spec)}: {path} has no sha256 pinned; refusing to load an unverified file.\n"
        f"  actual:   {actual}\n{_fix(spec, 'unpinned', actual)}"
    )


# --- verification and loading -------------------------------------------------------------------


def sha256_file(path: str | Path, chunk_size: int = CHUNK) -> str:
    """Hex sha256 of a file, read in chunks so large checkpoints do not sit in memory twice."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def hashed_file(spec: WeightSpec) -> Path:
    """The file whose sha256 the spec pins: the file itself, or a folder's weights file."""
    return spec.path / FOLDER_WEIGHTS_FILE if spec.folder else spec.path


def _verify(spec: WeightSpec, path: Path) -> Path:
    """Check that `path` exists and has the spec's pinned sha256."""
    if not path.is_file():
        raise _missing(spec, path)
    actual = sha256_file(path)
    if not spec.sha256:
        raise _unpinned(spec, path, actual)
    if actual != spec.sha256.strip().lower():
        raise _mismatch(spec, path, actual)
    return path


def verified_file(spec: WeightSpec) -> Path:
    """The checkpoint file of a single-file spec, after checking existence and sha256."""
    if spec.folder:
        raise ValueError(f"weights '{spec.role}' are a folder: use verified_folder")
    return _verify(spec, Path(spec.path))


def verified_folder(spec: WeightSpec, required_files: tuple[str, ...]) -> Path:
    """A model folder (Hugging Face layout): every required file there, the weights pinned."""
    folder = Path(spec.path)
    for name in required_files:
        if not (folder / name).is_file():
            raise _missing(spec, folder / name)
    _verify(spec, folder / FOLDER_WEIGHTS_FILE)
    return folder


def _is_state_dict(obj: object) -> bool:
    import torch

    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def unwrap_state_dict(obj: object, spec: WeightSpec) -> dict[str, torch.Tensor]:
    """Return the state dict itself, or the one nested under a key of `STATE_DICT_KEYS`."""
    if _is_state_dict(obj):
        return dict(obj)  # type: ignore[arg-type]
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
    raise WeightsError(
        f"{spec_label(spec)} ({spec.path}): the checkpoint holds no state dict (a mapping of names "
        f"to tensors), neither at the top level nor under one of the keys "
        f"{list(STATE_DICT_KEYS)}."
    )


def load_state_dict(spec: WeightSpec) -> dict[str, torch.Tensor]:
    """Verify, then load a state dict on the CPU with `torch.load(weights_only=True)`."""
    import torch

    path = verified_file(spec)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{spec_label(spec)} ({path}) contain objects other than tensors and plain containers; "
            f"refusing to unpickle them (torch.load weights_only=True): {exc}"
        ) from exc
    return unwrap_state_dict(obj, spec)


# --- download -----------------------------------------------------------------------------------


def part_path(path: Path) -> Path:
    """The temporary sibling a download grows in until it is complete and verified."""
    return path.with_name(path.name + PART_SUFFIX)


def _open(url: str, offset: int):
    """The response for `url`, asking for the bytes from `offset` on when resuming."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - scheme checked


def _resumed(response, offset: int) -> bool:
    """Whether the server answered a Range request with the rest of the file (206)."""
    if not offset or getattr(response, "status", None) != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _fetch(
    spec: WeightSpec, url: str, target: Path, expected: str | None, log: Callable[[str], object]
) -> str:
    """Grow `target`'s `.part` sibling from `url` (resuming it where the server allows);
    return its sha256. The `.part` is left in place when the transfer fails."""
    if urllib.parse.urlparse(url).scheme not in ALLOWED_SCHEMES:
        raise WeightsError(
            f"{spec_label(spec)}: refusing to download from '{url}': the scheme must be one of "
            f"{ALLOWED_SCHEMES}"
        )
    part = part_path(target)
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    try:
        try:
            response = _open(url, offset)
        except urllib.error.HTTPError as error:
            if error.code != 416 or not offset:  # 416: nothing past the offset
                raise
            error.close()
            actual = sha256_file(part)
            if actual == expected:  # the .part was complete already
                return actual
            log(f"{spec_label(spec)}: {part} cannot be resumed; starting again")
            offset = 0
            response = _open(url, 0)
        with response:
            digest = hashlib.sha256()
            if _resumed(response, offset):
                log(f"{spec_label(spec)}: resuming {url} at byte {offset}")
                with part.open("rb") as done:
                    while chunk := done.read(CHUNK):
                        digest.update(chunk)
                mode = "ab"
            else:
                if offset:
                    log(f"{spec_label(spec)}: the server cannot resume {url}; starting again")
                mode = "wb"
            with part.open(mode) as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
    except (urllib.error.URLError, OSError) as error:
        raise WeightsError(
            f"{spec_label(spec)}: download of {url} failed ({error}). Run it again to resume it "
            f"({part} is kept), or fetch the file elsewhere and put it at {target}."
        ) from error
    return digest.hexdigest()


def _download_file(
    spec: WeightSpec, url: str | None, target: Path, expected: str | None, log
) -> None:
    """Make `target` a complete file: kept if present (and matching `expected`, when given),
    else fetched into its `.part` and renamed only once complete and verified."""
    if target.is_file():
        if expected is None:
            return
        actual = sha256_file(target)
        if actual == expected:
            log(f"{spec_label(spec)}: {target} already present and verified")
            return
        if not url:
            raise _mismatch(spec, target, actual)
        log(f"{spec_label(spec)}: {target} has sha256 {actual}, not {expected}; fetching it again")
    if not url:
        raise _missing(spec, target)
    log(f"{spec_label(spec)}: downloading {url} -> {target}")
    actual = _fetch(spec, url, target, expected, log)
    part = part_path(target)
    if expected is not None and actual != expected:
        part.unlink(missing_ok=True)
        raise WeightChecksumError(
            f"{spec_label(spec)}: the file downloaded from {url} has the wrong sha256; it was "
            f"deleted, not kept as {target}.\n  expected: {expected}\n  actual:   {actual}\n"
            "Fix: check the URL and the pinned sha256 (the server may serve another file), or "
            f"place the file at {target} by hand."
        )
    os.replace(part, target)


def download(spec: WeightSpec, log: Callable[[str], object] | None = None) -> Path:
    """Fetch a spec's file (or folder) unless a verified copy is there; return its path.

    Downloads grow in a `.part` sibling, resumed with an HTTP Range request where the server
    answers 206, and are renamed into place only when complete and matching the pinned sha256
    (a mismatch deletes them and raises WeightChecksumError). A folder spec fetches each file of
    its role from url/NAME into a `.part` folder renamed when complete. An own file without a
    pinned hash is kept and its hash printed: loading refuses it until the hash is pinned.
    """
    log = log_info if log is None else log
    path = Path(spec.path)
    expected = spec.sha256.strip().lower() if spec.sha256 else None
    if spec.folder:
        _download_folder(spec, path, expected, log)
    else:
        _download_file(spec, spec.url, path, expected, log)
    weights = hashed_file(spec)
    if expected is None:
        actual = sha256_file(weights)
        log(
            f"{spec_label(spec)}: {weights} has sha256 {actual}. No hash is pinned, so it will not "
            f"be loaded until you pin it (after checking it against the publisher's):\n"
            f"  {_own_file_hint(spec, actual)}"
        )
    else:
        log(f"{spec_label(spec)}: {path} verified (sha256 {expected})")
    return path


def _download_folder(spec: WeightSpec, folder: Path, expected: str | None, log) -> None:
    files = FOLDER_FILES[spec.role]
    weights = folder / FOLDER_WEIGHTS_FILE
    if all((folder / name).is_file() for name in files) and (
        expected is None or sha256_file(weights) == expected
    ):
        return
    if not spec.url:
        missing = next((folder / n for n in files if not (folder / n).is_file()), weights)
        if missing.is_file():
            raise _mismatch(spec, weights, sha256_file(weights))
        raise _missing(spec, missing)
    staging = part_path(folder)
    if folder.is_dir():  # an incomplete or wrong folder: keep what it has, fetch the rest
        if staging.exists():
            shutil.rmtree(folder)
        else:
            os.replace(folder, staging)
    staging.mkdir(parents=True, exist_ok=True)
    base = spec.url.rstrip("/")
    for name in files:
        _download_file(
            spec,
            f"{base}/{name}",
            staging / name,
            expected if name == FOLDER_WEIGHTS_FILE else None,
            log,
        )
    os.replace(staging, folder)


def log_info(text: str) -> None:
    """The downloader's default log: the `vanish` logger."""
    logger.info("%s", text)
