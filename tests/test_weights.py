"""Checkpoint loading: clear errors for missing or wrong files, no arbitrary unpickling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vanish.weights import (
    DOWNLOAD_COMMAND,
    PUBLISHED_WEIGHTS,
    MissingWeightsError,
    WeightChecksumError,
    WeightsError,
    load_checkpoint,
    sha256_file,
    weight_specs,
)


class NotATensor:
    """A custom class: unpickling it would mean running code from the checkpoint."""

    def __init__(self) -> None:
        self.payload = 1


def _save(obj: object, path: Path) -> str:
    torch.save(obj, path)
    return sha256_file(path)


def test_missing_file_names_weight_path_and_command(tmp_path: Path) -> None:
    path = tmp_path / "raft-things.pth"
    with pytest.raises(MissingWeightsError) as info:
        load_checkpoint(path, "0" * 64, "raft")
    message = str(info.value)
    assert "'raft'" in message and str(path) in message and DOWNLOAD_COMMAND in message


def test_wrong_sha256_names_both_hashes(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    actual = _save({"a": torch.zeros(2)}, path)
    expected = "f" * 64
    with pytest.raises(WeightChecksumError) as info:
        load_checkpoint(path, expected, "propainter")
    message = str(info.value)
    assert expected in message and actual in message and str(path) in message


def test_unpinned_sha256_is_refused_and_shows_actual_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    actual = _save({"a": torch.zeros(2)}, path)
    with pytest.raises(WeightChecksumError, match=actual):
        load_checkpoint(path, None, "raft")


def test_loads_plain_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    digest = _save({"a": torch.arange(3.0)}, path)
    state_dict = load_checkpoint(path, digest.upper(), "raft")
    assert torch.equal(state_dict["a"], torch.arange(3.0))


def test_unwraps_nested_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    digest = _save({"state_dict": {"a": torch.ones(1)}, "epoch": 3}, path)
    assert list(load_checkpoint(path, digest, "raft")) == ["a"]


def test_refuses_pickled_custom_object(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    digest = _save({"a": torch.ones(1), "obj": NotATensor()}, path)
    with pytest.raises(WeightsError, match="refusing to unpickle"):
        load_checkpoint(path, digest, "raft")


def test_config_overrides_published_spec() -> None:
    specs = weight_specs({"weights": {"raft": {"path": "ft/raft.pth", "sha256": "ab" * 32}}})
    assert specs["raft"].path == Path("ft/raft.pth") and specs["raft"].sha256 == "ab" * 32
    assert specs["raft"].url == PUBLISHED_WEIGHTS["raft"].url
    assert specs["propainter"] == PUBLISHED_WEIGHTS["propainter"]


def test_config_rejects_unknown_network() -> None:
    with pytest.raises(ValueError, match="unknown network"):
        weight_specs({"weights": {"rafty": {"path": "x"}}})
