"""Fetch a checkpoint from its URL, verified against the pinned sha256 before it is kept.

The file is streamed to a temporary sibling and renamed only when complete and (if a hash is
pinned) matching, so an interrupted or tampered download never looks like a usable checkpoint.
Without a pinned hash the file is kept and its hash printed: loading still refuses it until the
user pins that hash in the config (`vanish.weights.verify_checkpoint`), which is the point where
they decide to trust it.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from vanish.atomic import atomic_file
from vanish.weights import WeightChecksumError, WeightsError, sha256_file

log = logging.getLogger("vanish")
ALLOWED_SCHEMES = ("https", "http", "file")  # file:// serves local mirrors and the tests
CHUNK = 1 << 20
TIMEOUT_S = 60


def _fetch(url: str, target: Path) -> str:
    """Stream `url` into `target` chunk by chunk (checkpoints never sit in memory); sha256."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ALLOWED_SCHEMES:
        raise WeightsError(
            f"refusing to download from '{url}': the scheme must be one of {ALLOWED_SCHEMES}"
        )
    digest = hashlib.sha256()
    response = urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 - scheme checked
    with response, target.open("wb") as out:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def download_weights(
    name: str, url: str | None, path: str | Path, sha256: str | None = None
) -> str:
    """Download `url` to `path` unless a verified copy is there; returns the file's sha256.

    Raises WeightChecksumError (and keeps nothing) when the download does not match the pinned
    `sha256`; WeightsError when there is no URL or the download fails.
    """
    path = Path(path)
    expected = sha256.strip().lower() if sha256 else None
    if path.is_file() and expected and sha256_file(path) == expected:
        log.info("weights '%s': %s already present and verified", name, path)
        return expected
    if not url:
        raise WeightsError(
            f"Weights '{name}': no URL to download from. Put the checkpoint at {path} "
            f"or set weights: {{{name}: {{url: ...}}}} in the config."
        )
    log.info("weights '%s': downloading %s", name, url)
    with atomic_file(path) as tmp:
        try:
            actual = _fetch(url, tmp)
        except (urllib.error.URLError, OSError) as error:
            raise WeightsError(
                f"Weights '{name}': download of {url} failed ({error}). Check the network, or "
                f"fetch the file by hand and put it at {path}."
            ) from error
        if expected and actual != expected:
            raise WeightChecksumError(
                f"Weights '{name}': the file downloaded from {url} has sha256 {actual}, not the "
                f"pinned {expected}; it was not kept. The URL may serve another file; check the "
                "URL and the pinned hash in the config."
            )
    if expected:
        log.info("weights '%s': %s verified (sha256 %s)", name, path, actual)
    else:
        log.warning(
            "weights '%s': saved %s with sha256 %s. No hash is pinned, so it will not be loaded "
            "until you pin it in the config:\n  weights:\n    %s:\n      sha256: %s",
            name,
            path,
            actual,
            name,
            actual,
        )
    return actual
