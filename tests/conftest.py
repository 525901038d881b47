"""Shared fixtures: tiny synthetic clips with known ground truth (CPU, fast)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
from synthetic import moving_box_masks, panning_clip, write_clip_folder, write_mask_folder

torch.set_num_threads(1)


@pytest.fixture
def clip_on_disk(tmp_path: Path) -> dict:
    """A 6-frame 48x64 panning clip with moving-box masks, as frame and mask folders."""
    frames = panning_clip(6, 48, 64)
    masks = moving_box_masks(6, 48, 64)
    return {
        "frames": frames,
        "masks": masks,
        "video": write_clip_folder(tmp_path / "input" / "frames", frames),
        "mask_dir": write_mask_folder(tmp_path / "input" / "masks", masks),
        "tmp": tmp_path,
    }


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt or DNS look-up during a test that uses this is a failure (the
    model loaders must stay offline: `pytestmark = pytest.mark.usefixtures("no_network")`)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
