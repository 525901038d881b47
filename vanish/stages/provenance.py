"""Stage `provenance`: what exactly produced a sample's results, to reproduce it months later.

Records the config subset that shapes the result, the sha256 of every input and weight file,
package versions, the git commit of the workflow and the thread settings.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import shutil
import subprocess
from pathlib import Path

from vanish import io
from vanish.atomic import atomic_file
from vanish.media import ffmpeg_exe
from vanish.weights import sha256_file

PACKAGES = (
    "vanish",
    "torch",
    "torchvision",
    "numpy",
    "opencv-python-headless",
    "scikit-image",
    "scipy",
    "pillow",
    "ffmpeg-python",
    "imageio-ffmpeg",
    "snakemake",
)


def sha256_path(path: str | Path) -> str:
    """sha256 of a file, or of a folder as the hash of its files' names and hashes (sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{sha256_file(item)}\n".encode())
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the result (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(repo: str | Path) -> dict[str, object]:
    """The workflow's git commit and whether its tracked files had local changes."""
    git = shutil.which("git")
    if git is None:
        return {"commit": None, "dirty": None}

    def run(*args: str) -> str:
        command = [git, "-C", str(repo), *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = run("rev-parse", "HEAD")
    return {
        "commit": commit or None,
        "dirty": bool(run("status", "--porcelain", "--untracked-files=no")),
    }


def ffmpeg_version() -> str:
    """First line of `ffmpeg -version` of the binary the workflow uses."""
    result = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else "unknown"


def write_provenance(
    sample: str,
    inputs: dict[str, str],
    weights: dict[str, str],
    config: dict,
    output: str | Path,
    repo: str | Path,
    threads: int,
) -> Path:
    """Write `provenance.json` for one sample."""
    record = {
        "sample": sample,
        "config": config,
        "inputs": {k: {"path": v, "sha256": sha256_path(v)} for k, v in inputs.items() if v},
        "weights": {k: {"path": v, "sha256": sha256_path(v)} for k, v in weights.items()},
        "packages": package_versions(),
        "ffmpeg": ffmpeg_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "workflow": git_commit(repo),
        "seed": config["seed"],
        "threads": threads,
    }
    with atomic_file(output) as tmp:
        io.write_json(tmp, record)
    return Path(output)
