"""Weight download: temp file + rename, sha256 pinning, clear failures (file:// URLs)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from vanish.download import download_weights
from vanish.weights import WeightChecksumError, WeightsError

PAYLOAD = b"not really a checkpoint\n" * 1000


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, str]:
    """A file:// URL serving PAYLOAD, and its sha256."""
    path = tmp_path / "mirror" / "ProPainter.pth"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path.as_uri(), hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_with_pinned_hash(source: tuple[str, str], tmp_path: Path) -> None:
    url, sha = source
    target = tmp_path / "weights" / "ProPainter.pth"
    assert download_weights("propainter", url, target, sha) == sha
    assert target.read_bytes() == PAYLOAD
    assert _leftovers(target.parent) == ["ProPainter.pth"]


def test_wrong_hash_keeps_nothing(source: tuple[str, str], tmp_path: Path) -> None:
    url, _ = source
    target = tmp_path / "weights" / "ProPainter.pth"
    with pytest.raises(WeightChecksumError, match="not kept"):
        download_weights("propainter", url, target, "0" * 64)
    assert _leftovers(target.parent) == []


def test_unpinned_download_is_kept_and_hash_printed(
    source: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, sha = source
    target = tmp_path / "weights" / "ProPainter.pth"
    with caplog.at_level(logging.INFO, logger="vanish"):
        assert download_weights("propainter", url, target, None) == sha
    assert target.exists()
    assert f"sha256: {sha}" in caplog.text


def test_verified_file_is_not_downloaded_again(source: tuple[str, str], tmp_path: Path) -> None:
    _, sha = source
    target = tmp_path / "ProPainter.pth"
    target.write_bytes(PAYLOAD)
    assert download_weights("propainter", "file:///does/not/exist", target, sha) == sha


def test_corrupt_existing_file_is_replaced(source: tuple[str, str], tmp_path: Path) -> None:
    url, sha = source
    target = tmp_path / "ProPainter.pth"
    target.write_bytes(b"truncated")
    download_weights("propainter", url, target, sha)
    assert target.read_bytes() == PAYLOAD


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    with pytest.raises(WeightsError, match="download of .* failed"):
        download_weights("propainter", (tmp_path / "nothing").as_uri(), target, None)
    assert not target.exists()


def test_no_url_and_bad_scheme_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no URL"):
        download_weights("raft", None, tmp_path / "raft.pth", None)
    with pytest.raises(WeightsError, match="scheme"):
        download_weights("raft", "ftp://example.org/raft.pth", tmp_path / "raft.pth", None)
