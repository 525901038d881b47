"""Runtime of the prompt models: fully offline, pinned weight files, device choice, downloads.

Importing this module sets the environment that keeps ultralytics, Hugging Face and open_clip
off the network (`YOLO_OFFLINE`, `HF_HUB_OFFLINE`, …) and makes ultralytics load checkpoints with
`torch.load(weights_only=True)` (`ULTRALYTICS_SAFE_LOAD`). The model modules import it before
they import any of those libraries. Weight files are verified against a pinned sha256 before they
are opened (`vanish.weights.verify_checkpoint`).
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch

from vanish.atomic import atomic_file
from vanish.device import select_device as device_for
from vanish.weights import (
    MissingWeightsError,
    WeightChecksumError,
    WeightsError,
    WeightSpec,
    load_checkpoint,
    sha256_file,
    spec_from_entry,
    verify_checkpoint,
)

OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",  # ultralytics: no online checks, no events, no downloads
    "YOLO_AUTOINSTALL": "0",  # ultralytics: never pip-install a missing requirement
    "ULTRALYTICS_SAFE_LOAD": "1",  # ultralytics: torch.load(weights_only=True) with allow-list
    "HF_HUB_OFFLINE": "1",  # huggingface_hub / transformers / open_clip: no hub calls
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "YOLO_VERBOSE": "0",
}
DOWNLOAD_COMMAND = "snakemake --cores 1 download_prompt_weights"
DEFAULT_ULTRALYTICS_DIR = Path("resources/weights/ultralytics")
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")

GROUNDING_DINO_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)
# The file of a model folder whose sha256 is pinned (the weights; the rest is JSON/text).
FOLDER_WEIGHTS_FILE = "model.safetensors"

# Published files. sha256 is None on purpose (as in vanish.weights): they could not be downloaded
# where this was written, and an invented hash would be worse than none. Pin them in the config
# (`prompt.weights.NAME.sha256`); loading an unpinned file fails and prints the hash it found.
PROMPT_WEIGHTS: dict[str, WeightSpec] = {
    "yolo": WeightSpec(
        "yolo",
        Path("resources/weights/yolo11x.pt"),
        None,
        "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11x.pt",
    ),
    "clip": WeightSpec(
        "clip",
        Path("resources/weights/open_clip_ViT-B-32_laion2b_s34b_b79k.safetensors"),
        None,
        "https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/main/"
        "open_clip_model.safetensors",
    ),
    "sam": WeightSpec(
        "sam",
        Path("resources/weights/sam_vit_h_4b8939.pth"),
        None,
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
    ),
    "grounding_dino": WeightSpec(
        "grounding_dino",
        Path("resources/weights/grounding-dino-tiny"),
        None,
        "https://huggingface.co/IDEA-Research/grounding-dino-tiny/resolve/main",
    ),
}


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


def weight_spec(name: str, entry: Mapping[str, object] | None = None) -> WeightSpec:
    """The published spec of a prompt model overridden by its `prompt.weights.NAME` entry."""
    if name not in PROMPT_WEIGHTS:
        raise ValueError(f"unknown prompt model {name!r}; known: {sorted(PROMPT_WEIGHTS)}")
    return spec_from_entry(PROMPT_WEIGHTS[name], entry or {}, section="prompt.weights")


def weight_specs(section: Mapping[str, object] | None) -> dict[str, WeightSpec]:
    """Every prompt model's spec from the config's `prompt.weights` section."""
    section = section or {}
    return {name: weight_spec(name, section.get(name)) for name in PROMPT_WEIGHTS}  # type: ignore[arg-type]


def _missing(spec: WeightSpec, path: Path) -> MissingWeightsError:
    return MissingWeightsError(
        f"Weights '{spec.name}' not found: expected the file {path}.\n"
        f"Fetch them (where there is internet) with: {DOWNLOAD_COMMAND}\n"
        f"(or set prompt.weights.{spec.name}: {{path: ..., sha256: ...}} in the config)."
    )


def _pin_hint(spec: WeightSpec, error: WeightChecksumError) -> WeightChecksumError:
    """Reword the generic hint (config key `weights:`) for the prompt section."""
    text = (
        str(error)
        .replace("  weights:\n", "  prompt:\n    weights:\n")
        .replace("snakemake --cores 1 download_weights", DOWNLOAD_COMMAND)
    )
    return WeightChecksumError(text)


@contextmanager
def _prompt_file(spec: WeightSpec) -> Iterator[Path]:
    """The spec's file, if it exists; missing-file and checksum errors that name the prompt
    section and its download rule."""
    path = Path(spec.path)
    if not path.is_file():
        raise _missing(spec, path)
    try:
        yield path
    except WeightChecksumError as error:
        raise _pin_hint(spec, error) from error


def verified_file(spec: WeightSpec) -> Path:
    """The checkpoint file of a single-file spec, after checking existence and sha256."""
    with _prompt_file(spec) as path:
        return verify_checkpoint(path, spec.sha256, spec.name)


def load_state_dict(spec: WeightSpec) -> dict[str, torch.Tensor]:
    """A single-file state dict, verified, loaded with `torch.load(weights_only=True)`."""
    with _prompt_file(spec) as path:
        return load_checkpoint(path, spec.sha256, spec.name)


def verified_folder(spec: WeightSpec, required: tuple[str, ...]) -> Path:
    """A model folder (Hugging Face layout): every required file there, the weights pinned."""
    folder = Path(spec.path)
    for name in required:
        if not (folder / name).is_file():
            raise _missing(spec, folder / name)
    try:
        verify_checkpoint(folder / FOLDER_WEIGHTS_FILE, spec.sha256, spec.name)
    except WeightChecksumError as error:
        raise _pin_hint(spec, error) from error
    return folder


def _download(spec: WeightSpec, url: str, target: Path) -> None:
    if urllib.parse.urlparse(url).scheme not in ("https", "http", "file"):
        raise WeightsError(f"Weights '{spec.name}': refusing to download from '{url}'")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        try:
            response = urllib.request.urlopen(url, timeout=60)  # noqa: S310 - scheme checked
            with response, tmp.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError) as error:
            raise WeightsError(
                f"Weights '{spec.name}': download of {url} failed ({error}). Without internet, "
                f"fetch the file elsewhere and put it at {target}."
            ) from error


def download(spec: WeightSpec, log: Callable[[str], object] = print) -> Path:
    """Fetch a spec's file(s) if absent, then verify the pinned sha256 (printing it if unpinned).

    A Grounding DINO spec is a folder: every file of `GROUNDING_DINO_FILES` is fetched from
    `url/NAME`; its `model.safetensors` carries the pin.
    """
    if not spec.url:
        raise WeightsError(
            f"Weights '{spec.name}' have no download URL: put the file at {spec.path} or set "
            f"prompt.weights.{spec.name}.url."
        )
    path = Path(spec.path)
    if spec.name == "grounding_dino":
        for name in GROUNDING_DINO_FILES:
            if not (path / name).is_file():
                log(f"weights '{spec.name}': downloading {spec.url.rstrip('/')}/{name}")
                _download(spec, f"{spec.url.rstrip('/')}/{name}", path / name)
        weights = path / FOLDER_WEIGHTS_FILE
    else:
        if not path.is_file():
            log(f"weights '{spec.name}': downloading {spec.url}")
            _download(spec, spec.url, path)
        weights = path
    actual = sha256_file(weights)
    if not spec.sha256:
        log(
            f"weights '{spec.name}': {weights} has sha256 {actual}. No hash is pinned, so it will "
            f"not be loaded until you pin it (after checking it against the publisher's):\n"
            f"  prompt:\n    weights:\n      {spec.name}:\n        sha256: {actual}"
        )
    elif actual != spec.sha256.strip().lower():
        weights.unlink()
        raise WeightChecksumError(
            f"Weights '{spec.name}': downloaded {weights} has sha256 {actual}, not the pinned "
            f"{spec.sha256}; it was deleted. Check the URL and the pinned hash in the config."
        )
    return path
