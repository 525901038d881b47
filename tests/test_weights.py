"""The weight registry, the config's `weights:` section, and the one loading path: clear errors
for missing, wrong or unpinned files, no arbitrary unpickling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vanish.weights import (
    DOWNLOAD_COMMAND,
    GATED,
    REGISTRY,
    ROLES,
    MissingWeightsError,
    WeightChecksumError,
    WeightsError,
    load_state_dict,
    registry_names,
    resolve_weights,
    sha256_file,
    spec_for,
    verified_file,
    verified_folder,
)

DEFAULT_SECTION = {
    "raft": "raft-things",
    "flow_completion": "recurrent_flow_completion",
    "propainter": "ProPainter",
    "yolo": "yolo11x",
    "clip": "open_clip_vit_b32_laion2b_s34b_b79k",
    "sam": "sam_vit_h",
    "sam2": "sam2.1_hiera_large",
    "grounding_dino": "grounding_dino_tiny",
}


class NotATensor:
    """A custom class: unpickling it would mean running code from the checkpoint."""

    def __init__(self) -> None:
        self.payload = 1


def _save(obj: object, path: Path) -> str:
    torch.save(obj, path)
    return sha256_file(path)


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entries_are_pinned_to_exact_releases(name: str) -> None:
    entry = REGISTRY[name]
    assert entry.name == name and entry.role in ROLES
    assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    assert entry.url.startswith("https://")
    assert "/main/" not in entry.url and "/resolve/main" not in entry.url
    assert entry.licence and entry.filename and "/" not in entry.filename


def test_registry_has_the_published_files() -> None:
    assert all(
        entry.role == role for role, entry in ((r, REGISTRY[n]) for r, n in DEFAULT_SECTION.items())
    )
    assert {REGISTRY[n].metadata["arch"] for n in registry_names("sam")} == {
        "vit_h",
        "vit_l",
        "vit_b",
    }
    assert REGISTRY["ProPainter"].url.endswith("/v0.1.0/ProPainter.pth")
    assert "S-Lab" in REGISTRY["ProPainter"].licence and REGISTRY["yolo11x"].licence == "AGPL-3.0"
    assert REGISTRY["grounding_dino_tiny"].folder and not REGISTRY["sam_vit_h"].folder
    assert len({e.filename for e in REGISTRY.values()}) == len(REGISTRY)  # no two share a path


def test_importing_weights_does_not_import_torch() -> None:
    code = "import sys, vanish.weights; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- resolving the config -------------------------------------------------------------------------


def test_registry_names_resolve_under_the_weights_dir(tmp_path: Path) -> None:
    specs = resolve_weights(DEFAULT_SECTION, tmp_path)
    assert set(specs) == set(ROLES) - set(GATED)  # gated weights have no registry entry
    sam = specs["sam"]
    assert sam.role == "sam" and sam.name == "sam_vit_h" and not sam.folder
    assert sam.path == tmp_path / "sam_vit_h_4b8939.pth"
    assert sam.sha256 == REGISTRY["sam_vit_h"].sha256 and sam.url == REGISTRY["sam_vit_h"].url
    assert sam.licence == "Apache-2.0"
    gd = specs["grounding_dino"]
    assert gd.folder and gd.path == tmp_path / "grounding-dino-tiny"


def test_own_files_keep_their_path_and_hash() -> None:
    specs = resolve_weights(
        {
            "raft": {"path": "ft/raft.pth", "sha256": "AB" * 32},
            "sam": {"path": "ft/sam.pth", "sha256": None},
            "grounding_dino": {"path": "ft/gd"},
        },
        "resources/weights",
    )
    assert specs["raft"].path == Path("ft/raft.pth") and specs["raft"].sha256 == "ab" * 32
    assert specs["raft"].name is None and specs["raft"].url is None
    assert specs["sam"].sha256 is None
    assert specs["grounding_dino"].folder


def test_an_own_entry_pinned_to_a_published_hash_is_that_file_elsewhere() -> None:
    sha = REGISTRY["sam_vit_b"].sha256
    spec = resolve_weights({"sam": {"path": "/data/sam.pth", "sha256": sha}}, "w")["sam"]
    assert spec.name == "sam_vit_b" and spec.url == REGISTRY["sam_vit_b"].url
    assert spec.path == Path("/data/sam.pth") and spec.licence == "Apache-2.0"


def test_a_name_of_another_role_names_both() -> None:
    with pytest.raises(
        ValueError, match=r"weights\.sam: 'yolo11x' is a yolo checkpoint, not a sam"
    ):
        resolve_weights({"sam": "yolo11x"}, "w")


def test_unknown_name_lists_the_role_names_closest_first() -> None:
    with pytest.raises(ValueError) as info:
        resolve_weights({"sam": "sam_vit_x"}, "w")
    message = str(info.value)
    assert "valid names for sam:" in message
    listed = message.split("valid names for sam: ")[1].split(" (")[0].split(", ")
    assert sorted(listed) == sorted(registry_names("sam"))
    with pytest.raises(ValueError, match="valid names for yolo: yolov8n, "):
        resolve_weights({"yolo": "yolov8nn"}, "w")


def test_unknown_role_and_bad_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        resolve_weights({"rafty": "raft-things"}, "w")
    with pytest.raises(ValueError, match="sha256 must be 64 hex digits"):
        resolve_weights({"raft": {"path": "x.pth", "sha256": "abc"}}, "w")
    with pytest.raises(ValueError, match="own file"):
        resolve_weights({"raft": {"sha256": "ab" * 32}}, "w")
    with pytest.raises(ValueError, match="own file"):
        resolve_weights({"raft": {"path": "x", "md5": "y"}}, "w")
    with pytest.raises(ValueError, match="scheme"):
        resolve_weights({"raft": {"path": "x", "url": "ftp://h/x"}}, "w")


def test_spec_for_recognises_a_registry_hash() -> None:
    published = spec_for("raft", "w/raft.pth", REGISTRY["raft-things"].sha256.upper())
    assert published.name == "raft-things" and published.url == REGISTRY["raft-things"].url
    own = spec_for("raft", "w/raft.pth", "ab" * 32)
    assert own.name is None and own.url is None
    assert spec_for("grounding_dino", "w/gd", None).folder


# --- errors ---------------------------------------------------------------------------------------


def test_missing_file_names_role_name_path_and_command(tmp_path: Path) -> None:
    spec = resolve_weights({"raft": "raft-things"}, tmp_path)["raft"]
    with pytest.raises(MissingWeightsError) as info:
        load_state_dict(spec)
    message = str(info.value)
    assert "'raft'" in message and "raft-things" in message
    assert str(tmp_path / "raft-things.pth") in message and DOWNLOAD_COMMAND in message
    assert "weights: {raft: {path:" in message
    assert isinstance(info.value, FileNotFoundError)


def test_wrong_sha256_names_both_hashes_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "ProPainter.pth"
    actual = _save({"a": torch.zeros(2)}, path)
    spec = resolve_weights({"propainter": "ProPainter"}, tmp_path)["propainter"]
    with pytest.raises(WeightChecksumError) as info:
        load_state_dict(spec)
    message = str(info.value)
    assert REGISTRY["ProPainter"].sha256 in message and actual in message
    assert str(path) in message and "'propainter'" in message and DOWNLOAD_COMMAND in message
    assert f"weights: {{propainter: {{path: {path}, sha256: {actual}}}}}" in message


def test_unpinned_file_is_refused_and_shows_actual_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    actual = _save({"a": torch.zeros(2)}, path)
    with pytest.raises(WeightChecksumError, match=actual) as info:
        load_state_dict(spec_for("raft", path, None))
    assert "'raft' (own file)" in str(info.value) and "no sha256 pinned" in str(info.value)


def test_folder_needs_its_files_and_pins_its_weights(tmp_path: Path) -> None:
    folder = tmp_path / "gd"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(MissingWeightsError, match=r"model\.safetensors"):
        verified_folder(spec_for("grounding_dino", folder, "0" * 64), ("config.json",))
    (folder / "model.safetensors").write_bytes(b"weights")
    digest = sha256_file(folder / "model.safetensors")
    assert verified_folder(spec_for("grounding_dino", folder, digest), ("config.json",)) == folder
    with pytest.raises(WeightChecksumError, match="mismatch"):
        verified_folder(spec_for("grounding_dino", folder, "0" * 64), ("config.json",))
    with pytest.raises(ValueError, match="folder"):
        verified_file(spec_for("grounding_dino", folder, digest))


# --- loading --------------------------------------------------------------------------------------


def test_loads_plain_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    digest = _save({"a": torch.arange(3.0)}, path)
    state_dict = load_state_dict(spec_for("raft", path, digest.upper()))
    assert torch.equal(state_dict["a"], torch.arange(3.0))


def test_unwraps_nested_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    digest = _save({"state_dict": {"a": torch.ones(1)}, "epoch": 3}, path)
    assert list(load_state_dict(spec_for("raft", path, digest))) == ["a"]


def test_refuses_pickled_custom_object(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    digest = _save({"a": torch.ones(1), "obj": NotATensor()}, path)
    with pytest.raises(WeightsError, match="refusing to unpickle"):
        load_state_dict(spec_for("raft", path, digest))


def test_a_file_without_state_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    digest = _save({"epoch": 3}, path)
    with pytest.raises(WeightsError, match="holds no state dict"):
        load_state_dict(spec_for("sam", path, digest))
