"""The one downloader: `.part` sibling renamed only when complete and verified, resume with HTTP
Range (a local server on 127.0.0.1), sha256 pinning, folders, clear failures (file:// URLs)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vanish.weights import (
    DOWNLOAD_COMMAND,
    GROUNDING_DINO_FILES,
    MissingWeightsError,
    WeightChecksumError,
    WeightsError,
    WeightSpec,
    download,
    part_path,
    resolve_weights,
)

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB: more than one read chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def file_spec(path: Path, url: str | None, sha256: str | None = SHA, name="ProPainter"):
    return WeightSpec("propainter", name, path, sha256, url, "S-Lab License 1.0", False)


@pytest.fixture
def source(tmp_path: Path) -> str:
    """A file:// URL serving PAYLOAD."""
    path = tmp_path / "mirror" / "ProPainter.pth"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path.as_uri()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class Lines(list):
    """A `log` callable that keeps what it is given."""

    def __call__(self, text: str) -> None:
        self.append(text)

    def __str__(self) -> str:
        return "\n".join(self)


def test_download_with_pinned_hash(source: str, tmp_path: Path) -> None:
    target = tmp_path / "weights" / "ProPainter.pth"
    assert download(file_spec(target, source), log=Lines()) == target
    assert target.read_bytes() == PAYLOAD
    assert _leftovers(target.parent) == ["ProPainter.pth"]


def test_wrong_hash_deletes_the_download(source: str, tmp_path: Path) -> None:
    target = tmp_path / "weights" / "ProPainter.pth"
    with pytest.raises(WeightChecksumError, match="deleted") as info:
        download(file_spec(target, source, "0" * 64), log=Lines())
    assert SHA in str(info.value) and "0" * 64 in str(info.value)
    assert _leftovers(target.parent) == []


def test_unpinned_own_file_is_kept_and_its_hash_printed(source: str, tmp_path: Path) -> None:
    target = tmp_path / "weights" / "mine.pth"
    spec = resolve_weights({"propainter": {"path": str(target), "url": source}}, "w")["propainter"]
    log = Lines()
    download(spec, log=log)
    assert target.read_bytes() == PAYLOAD
    assert f"sha256: {SHA}" in str(log) and "weights: {propainter: {path:" in str(log)
    log = Lines()
    download(replace(spec, url=None), log=log)  # present, no URL: kept, hash printed again
    assert SHA in str(log)


def test_verified_file_is_not_downloaded_again(tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    target.write_bytes(PAYLOAD)
    log = Lines()
    download(file_spec(target, "file:///does/not/exist"), log=log)
    assert "already present and verified" in str(log)


def test_corrupt_existing_file_is_replaced(source: str, tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    target.write_bytes(b"truncated")
    download(file_spec(target, source), log=Lines())
    assert target.read_bytes() == PAYLOAD


def test_missing_source_keeps_nothing_and_says_so(tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    with pytest.raises(WeightsError, match="download of .* failed"):
        download(file_spec(target, (tmp_path / "nothing").as_uri()), log=Lines())
    assert not target.exists()


def test_own_file_without_url_is_a_missing_weights_error(tmp_path: Path) -> None:
    target = tmp_path / "mine.pth"
    spec = resolve_weights({"sam": {"path": str(target), "sha256": SHA}}, "w")["sam"]
    with pytest.raises(MissingWeightsError) as info:
        download(spec, log=Lines())
    message = str(info.value)
    assert "'sam' (own file)" in message and str(target) in message
    assert "weights: {sam: {path:" in message


def test_bad_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="scheme"):
        download(file_spec(tmp_path / "x.pth", "ftp://example.org/x.pth"), log=Lines())


def test_registry_spec_downloads_from_its_url(source: str, tmp_path: Path) -> None:
    """A registry spec with its URL pointed at a mirror: the same path as `download_weights`."""
    spec = resolve_weights({"propainter": "ProPainter"}, tmp_path / "weights")["propainter"]
    with pytest.raises(WeightChecksumError, match="wrong sha256"):  # PAYLOAD is not ProPainter
        download(replace(spec, url=source), log=Lines())
    assert not spec.path.exists() and not part_path(spec.path).exists()
    assert DOWNLOAD_COMMAND == "snakemake --cores 1 download_weights"


# --- resume over HTTP -----------------------------------------------------------------------------


class RangeServer(ThreadingHTTPServer):
    """Serves PAYLOAD on 127.0.0.1; answers Range requests with 206 unless told not to."""

    daemon_threads = True

    def __init__(self, ranges: bool) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.ranges = ranges
        self.requests: list[str | None] = []
        self.sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ProPainter.pth"


class RangeHandler(BaseHTTPRequestHandler):
    server: RangeServer
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        wanted = self.headers.get("Range")
        self.server.requests.append(wanted)
        start = 0
        if wanted and self.server.ranges:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # counted before writing: the client may finish reading (and the test check the count)
        # before this thread returns from the write
        self.server.sent += len(body)
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _serve(ranges: bool, monkeypatch: pytest.MonkeyPatch) -> Iterator[RangeServer]:
    for key in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(key, "*")  # never through a proxy: the server is on this machine
    server = RangeServer(ranges)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[RangeServer]:
    yield from _serve(True, monkeypatch)


@pytest.fixture
def http_no_ranges(monkeypatch: pytest.MonkeyPatch) -> Iterator[RangeServer]:
    yield from _serve(False, monkeypatch)


def test_a_partial_download_is_resumed_with_a_range_request(http, tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    half = len(PAYLOAD) // 2 + 7
    part_path(target).write_bytes(PAYLOAD[:half])
    log = Lines()
    download(file_spec(target, http.url), log=log)
    assert target.read_bytes() == PAYLOAD and not part_path(target).exists()
    assert http.requests == [f"bytes={half}-"] and http.sent == len(PAYLOAD) - half
    assert f"resuming {http.url} at byte {half}" in str(log)


def test_a_server_without_ranges_restarts_the_download(http_no_ranges, tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    part_path(target).write_bytes(b"x" * 100)
    download(file_spec(target, http_no_ranges.url), log=Lines())
    assert target.read_bytes() == PAYLOAD and http_no_ranges.sent == len(PAYLOAD)


def test_a_complete_part_is_kept_when_nothing_is_left_to_fetch(http, tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    part_path(target).write_bytes(PAYLOAD)
    download(file_spec(target, http.url), log=Lines())
    assert target.read_bytes() == PAYLOAD and http.sent == 0


def test_a_wrong_resumed_download_is_deleted(http, tmp_path: Path) -> None:
    target = tmp_path / "ProPainter.pth"
    part_path(target).write_bytes(b"\0" * 1000)  # a prefix of some other file
    with pytest.raises(WeightChecksumError):
        download(file_spec(target, http.url), log=Lines())
    assert _leftovers(tmp_path) == []


# --- folders --------------------------------------------------------------------------------------


@pytest.fixture
def gd_mirror(tmp_path: Path) -> tuple[str, str]:
    """A file:// folder URL with every Grounding DINO file, and its weights' sha256."""
    folder = tmp_path / "mirror" / "grounding-dino-tiny"
    folder.mkdir(parents=True)
    for name in GROUNDING_DINO_FILES:
        (folder / name).write_bytes(PAYLOAD if name == "model.safetensors" else name.encode())
    return folder.as_uri(), SHA


def test_folder_spec_fetches_every_file(gd_mirror: tuple[str, str], tmp_path: Path) -> None:
    url, sha = gd_mirror
    spec = resolve_weights({"grounding_dino": "grounding_dino_tiny"}, tmp_path / "w")
    spec = replace(spec["grounding_dino"], url=url, sha256=sha)
    assert download(spec, log=Lines()) == spec.path
    assert sorted(p.name for p in spec.path.iterdir()) == sorted(GROUNDING_DINO_FILES)
    assert (spec.path / "config.json").read_bytes() == b"config.json"
    assert _leftovers(spec.path.parent) == ["grounding-dino-tiny"]
    log = Lines()
    download(replace(spec, url="file:///does/not/exist"), log=log)  # verified: not fetched
    assert "verified" in str(log)


def test_folder_with_wrong_weights_is_not_created(gd_mirror, tmp_path: Path) -> None:
    url, _ = gd_mirror
    spec = resolve_weights({"grounding_dino": "grounding_dino_tiny"}, tmp_path / "w")
    spec = replace(spec["grounding_dino"], url=url)
    with pytest.raises(WeightChecksumError):
        download(spec, log=Lines())
    assert not spec.path.exists()
    staged = part_path(spec.path)  # the small files stay staged for the next try
    assert not (staged / "model.safetensors").exists() and (staged / "config.json").is_file()
