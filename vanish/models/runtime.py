"""Runtime of the prompt models: fully offline, ultralytics' safe loading, device choice.

Importing this module sets the environment that keeps ultralytics, Hugging Face and open_clip
off the network (`YOLO_OFFLINE`, `HF_HUB_OFFLINE`, …) and makes ultralytics load checkpoints with
`torch.load(weights_only=True)` (`ULTRALYTICS_SAFE_LOAD`). The model modules import it before
they import any of those libraries. Weight files are verified against their pinned sha256 before
they are opened (`vanish.weights`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import torch

from vanish.atomic import atomic_file
from vanish.device import select_device as device_for

OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",  # ultralytics: no online checks, no events, no downloads
    "YOLO_AUTOINSTALL": "0",  # ultralytics: never pip-install a missing requirement
    "ULTRALYTICS_SAFE_LOAD": "1",  # ultralytics: torch.load(weights_only=True) with allow-list
    "HF_HUB_OFFLINE": "1",  # huggingface_hub / transformers / open_clip: no hub calls
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "YOLO_VERBOSE": "0",
}
DEFAULT_ULTRALYTICS_DIR = Path("resources/weights/ultralytics")
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def configure_offline() -> None:
    """Set the offline/safe-load environment (idempotent; explicit user settings are kept).

    `ULTRALYTICS_SAFE_LOAD` is forced: unrestricted unpickling of a checkpoint is never allowed.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"


configure_offline()


def prepare_ultralytics_dir(folder: str | Path | None = None) -> Path:
    """Give ultralytics a config dir holding the fonts it would otherwise download.

    Ultralytics fetches Arial.ttf into its config dir the first time it draws; a copy of
    matplotlib's DejaVu Sans under those names means it never needs to. The folder is `folder`,
    else `$YOLO_CONFIG_DIR`, else resources/weights/ultralytics; `YOLO_CONFIG_DIR` is set to it
    (ultralytics reads it when imported: if it already was, its own config dir gets the fonts).
    """
    loaded = sys.modules.get("ultralytics.utils")
    if loaded is not None:
        config_dir = Path(loaded.USER_CONFIG_DIR)
    else:
        root = Path(folder or os.environ.get("YOLO_CONFIG_DIR") or DEFAULT_ULTRALYTICS_DIR)
        root = root.resolve()
        os.environ["YOLO_CONFIG_DIR"] = str(root)
        config_dir = root / "Ultralytics"
    config_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONT_NAMES:
        target = config_dir / name
        if not target.exists() and font.is_file():
            with atomic_file(target) as tmp:
                shutil.copyfile(font, tmp)
    return config_dir


def import_ultralytics(config_dir: str | Path | None = None):
    """Import ultralytics offline, with its safe (weights_only) checkpoint loading forced on."""
    prepare_ultralytics_dir(config_dir)
    import ultralytics
    import ultralytics.nn.tasks as tasks
    from ultralytics.utils import SETTINGS

    tasks.SAFE_LOAD = True  # also when ultralytics was imported before configure_offline()
    if SETTINGS.get("sync"):
        SETTINGS.update(sync=False)  # no usage events (YOLO_OFFLINE already stops them)
    return ultralytics


def select_device(name: str = "auto") -> torch.device:
    """The prompt models' device (config `prompt.device`), with the workflow's rules."""
    return device_for(name, key="prompt.device")
