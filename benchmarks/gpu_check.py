"""One prepared GPU check of the ProPainter backend and the prompt path (one run, < 8 min, H200).

Usage (from the repository root; the package need not be installed):
  PYTHONPATH=. python3 benchmarks/gpu_check.py --out DIR            # CUDA, 420 s budget
  PYTHONPATH=. python3 benchmarks/gpu_check.py --smoke --out DIR    # same code, CPU, tiny sizes

Sections, in the order they run (results are written after every row, so a kill keeps them):
  golden     (a) the CPU golden tests' comparisons, on the device in fp32 with TF32 off
  precision  (b) fp16 / bf16 (and fp32 with TF32 on) against fp32 and the golden, on the
                 pipeline golden, through `vanish.device.place` (the stages' `precision`)
  prompt     (d) SAM ViT-H encoder + decoder frames/s, CLIP ViT-B-32 crops/s (random weights)
  stages     (c) seconds and peak device memory of RAFT, flow completion, image propagation
                 and the transformer at 432x240, 854x480 (848x480), 1280x720, 50 and 200 frames,
                 fp32 and fp16, rule weights, synthetic panning frames with a moving hole
(d) runs before (c) because (c) is the one the time budget is meant to cut: its cases run
smallest first, and a case whose predicted time (from the cases before it) does not fit in what
is left of --budget-s is skipped with that reason. A watchdog writes the results and exits at
--hard-limit-s if a case overruns anyway.

Output: DIR/gpu_check.json and DIR/gpu_check.md (one table per section plus the environment).
Optional packages (segment_anything, open_clip and its ftfy/wcwidth) are taken from pure-Python
wheels in .whl/ (extracted to a temporary folder) when they are not installed; a section whose
packages are missing reports "skipped: <why>". `ffmpeg`/`imageio_ffmpeg` (imported by the
package's video I/O, never called here) are replaced by stubs when missing.
"""

from __future__ import annotations

import time

T0 = time.monotonic()  # the budget counts from here, before the heavy imports

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import zipfile  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"
VIDEO_ONLY_MODULES = ("ffmpeg", "imageio_ffmpeg")  # vanish.media imports them; unused here
OPTIONAL_MODULES = ("segment_anything", "open_clip", "ftfy", "wcwidth")

SIZES = [(432, 240), (848, 480), (1280, 720)]  # (W, H); 854 is processed at 848 (W - W mod 8)
FRAME_COUNTS = [50, 200]
SMOKE_SIZES = [(128, 128)]  # RAFT's minimum
SMOKE_FRAMES = [2]
FLOW_TOL = (1e-4, 1e-3)  # (rtol, atol), tests/data/golden/README.md §4
RFC_TOL = (1e-4, 2e-5)
GENERATOR_ATOL = 2e-4
PUBLISHED_NOTE = (
    "published GPU figure: none in this repository's docs (docs/benchmarks.md, "
    "tests/data/golden/README.md), so only our figures are reported"
)


# --------------------------------------------------------------------------------------------
# Project imports. Other work moves these (vanish/weights.py loading API, vanish/models/tiny.py
# and rule_checkpoints.py possibly to vanish/testing/, stage options): fix them here, one line each.
# --------------------------------------------------------------------------------------------


# The published inference script's generator windows (the schema's propainter defaults; the
# GPU image has no jsonschema to read them through vanish.config).
REFERENCE_WINDOWS = {"neighbor_length": 10, "ref_stride": 10, "subvideo_length": 80}


@functools.cache
def project() -> types.SimpleNamespace:
    """Every project callable this check uses, imported once."""
    from vanish.composite import composite_region
    from vanish.convert import frames_to_tensor, masks_to_tensor
    from vanish.demo import moving_ellipse_masks
    from vanish.device import configure_cuda, place
    from vanish.models.propagation import image_propagation
    from vanish.models.raft import chunk_bounds, chunk_length_for_width, load_raft
    from vanish.roi import choose_regions, mask_box, union
    from vanish.stages.complete import complete_flows, complete_window, load_flow_completion
    from vanish.stages.flows import raft_chunk_flows
    from vanish.stages.propagate import sub_videos
    from vanish.stages.transformer import TensorSource, inpaint_clip, load_generator
    from vanish.testing.rule_checkpoints import write_rule_checkpoints

    return types.SimpleNamespace(
        composite_region=composite_region,
        choose_regions=choose_regions,
        mask_box=mask_box,
        union=union,
        frames_to_tensor=frames_to_tensor,
        masks_to_tensor=masks_to_tensor,
        moving_ellipse_masks=moving_ellipse_masks,
        configure_cuda=configure_cuda,
        place=place,
        image_propagation=image_propagation,
        chunk_bounds=chunk_bounds,
        chunk_length_for_width=chunk_length_for_width,
        load_raft=load_raft,
        write_rule_checkpoints=write_rule_checkpoints,
        complete_flows=complete_flows,
        complete_window=complete_window,
        load_flow_completion=load_flow_completion,
        raft_chunk_flows=raft_chunk_flows,
        sub_videos=sub_videos,
        TensorSource=TensorSource,
        inpaint_clip=inpaint_clip,
        load_generator=load_generator,
    )


def write_rule_weights(folder: Path) -> dict[str, tuple[Path, str]]:
    """Rule checkpoints (seed 0) of raft / flow_completion / propainter: name -> (path, sha256)."""
    return project().write_rule_checkpoints(folder, seed=0)


def load_network(name: str, path: Path, sha256: str) -> torch.nn.Module:
    """A ProPainter-backend network through the real loading path (file + sha256), on the CPU."""
    api = project()
    loader = {
        "raft": api.load_raft,
        "flow_completion": api.load_flow_completion,
        "propainter": api.load_generator,
    }[name]
    return loader(path, sha256)


def place_model(model: torch.nn.Module, device: torch.device, precision: str) -> torch.nn.Module:
    """The project's placement (`vanish.device.place`, what the stages' `precision` does).

    `place` refuses half precision on the CPU; the smoke run casts directly there instead, so
    that the same code paths run.
    """
    if device.type == "cpu" and precision != "fp32":
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        return model.to(device=device, dtype=dtype).eval()
    return project().place(model, str(device), precision)


def tiny_prompt_configs() -> tuple[dict, dict]:
    """(SAM encoder config, open_clip config) of the test models, for the smoke run."""
    from vanish.testing.tiny import TINY_CLIP, TINY_SAM

    return dict(TINY_SAM), dict(TINY_CLIP)


def sam_segmenter(model: str | dict, device: torch.device, batch: int):
    """The project's SamSegmenter with random weights, built without a weight file.

    Mirrors `SamSegmenter.__init__` minus the checkpoint (a ViT-H state dict is 2.5 GB to write,
    hash and read back): embed/segment are the project's own methods.
    """
    from segment_anything.utils.transforms import ResizeLongestSide

    from vanish.models.sam import SamSegmenter, build_sam

    torch.manual_seed(0)
    segmenter = SamSegmenter.__new__(SamSegmenter)
    segmenter.sam = build_sam(model).to(device).eval()
    segmenter.device = device
    segmenter.batch = batch
    segmenter.transform = ResizeLongestSide(segmenter.sam.image_encoder.img_size)
    return segmenter


def clip_scorer(config: str | dict, folder: Path, device: torch.device, batch: int):
    """The project's ClipScorer with random weights, through its real (pinned-file) loading."""
    from vanish.models.clip import ClipScorer
    from vanish.testing.tiny import write_clip
    from vanish.weights import sha256_file

    architecture, weights = write_clip(folder, config)
    return ClipScorer(architecture, weights, sha256_file(weights), device, batch=batch)


# --------------------------------------------------------------------------------------------
# Environment: optional packages from wheels, stubs for unused video modules.
# --------------------------------------------------------------------------------------------


def add_wheels(folder: Path, notes: list[str]) -> None:
    """Extract the wheels of `folder` into a temporary dir appended to sys.path (installed
    packages keep priority)."""
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if not wheels:
        notes.append(f"wheels: none in {folder}")
        return
    target = Path(tempfile.mkdtemp(prefix="gpu_check_wheels_"))
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
    sys.path.append(str(target))
    importlib.invalidate_caches()
    notes.append(f"wheels: {', '.join(w.name for w in wheels)} (appended to sys.path)")


def stub_video_modules(notes: list[str]) -> None:
    """Stand-ins for video I/O packages that the package imports at the top but this never uses."""
    for name in VIDEO_ONLY_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            module = types.ModuleType(name)

            def missing(attribute: str, _name: str = name, _error: str = str(error)):
                # AttributeError, so that hasattr() and inspect treat the stub as a plain module
                raise AttributeError(f"{_name}.{attribute}: {_name} is not installed ({_error})")

            module.__getattr__ = missing  # type: ignore[attr-defined]
            sys.modules[name] = module
            notes.append(f"{name}: not installed, stubbed (video I/O only, not exercised)")


def optional_packages() -> dict[str, str]:
    """Where each optional package comes from (or why it is missing)."""
    found = {}
    for name in OPTIONAL_MODULES:
        try:
            module = importlib.import_module(name)
            version = getattr(module, "__version__", "")
            found[name] = f"{version} {Path(module.__file__).parent}".strip()
        except Exception as error:  # noqa: BLE001 - any import failure means "not usable"
            found[name] = f"missing: {type(error).__name__}: {error}"
    return found


def environment(device: torch.device, args: argparse.Namespace, notes: list[str]) -> dict:
    env: dict = {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "numpy": np.__version__,
        "device": str(device),
        "smoke": args.smoke,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }
    with contextlib.suppress(Exception):
        import torchvision

        env["torchvision"] = torchvision.__version__
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["gpu_name"] = props.name
        env["gpu_capability"] = f"{props.major}.{props.minor}"
        env["gpu_memory_GiB"] = round(props.total_memory / 2**30, 1)
        with contextlib.suppress(Exception):
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
    with contextlib.suppress(Exception):
        env["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    env["optional_packages"] = optional_packages()
    env["notes"] = notes
    return env


# --------------------------------------------------------------------------------------------
# Results: written (JSON + Markdown, atomically) after every row.
# --------------------------------------------------------------------------------------------

SECTION_TITLES = {
    "golden": "(a) Golden equivalence on the device (fp32)",
    "precision": "(b) Half precision on the pipeline golden",
    "prompt": "(d) Prompt path, published architectures, random weights",
    "stages": "(c) ProPainter backend per stage: time and peak device memory",
}


def _clean(value):
    """JSON-safe: numpy scalars to Python, non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return lines


class Report:
    """The results, saved after every change; safe to save from the watchdog or a signal."""

    def __init__(self, out: Path, budget_s: float, smoke: bool) -> None:
        self.out = out
        self.lock = threading.RLock()
        self.data: dict = {
            "run": {"budget_s": budget_s, "smoke": smoke, "complete": False, "current": None},
            "environment": {},
            "sections": {
                name: {"title": title, "status": "pending", "notes": [], "rows": []}
                for name, title in SECTION_TITLES.items()
            },
        }

    def section(self, name: str) -> dict:
        return self.data["sections"][name]

    def set_status(self, name: str, status: str) -> None:
        with self.lock:
            self.section(name)["status"] = status
            self.save()

    def note(self, name: str, text: str) -> None:
        with self.lock:
            self.section(name)["notes"].append(text)
            self.save()
        log(f"  note: {text}")

    def row(self, name: str, row: dict) -> None:
        with self.lock:
            self.section(name)["rows"].append(dict(row))
            self.save()
        log("  " + ", ".join(f"{k}={_cell(v)}" for k, v in row.items()))

    def current(self, what: str | None) -> None:
        with self.lock:
            self.data["run"]["current"] = what

    def save(self) -> None:
        with self.lock:
            self.data["run"]["elapsed_s"] = round(time.monotonic() - T0, 1)
            data = _clean(self.data)
            self.out.mkdir(parents=True, exist_ok=True)
            for name, text in (
                ("gpu_check.json", json.dumps(data, indent=1)),
                ("gpu_check.md", self.markdown(data)),
            ):
                tmp = self.out / f".{name}.tmp"
                tmp.write_text(text)
                os.replace(tmp, self.out / name)

    @staticmethod
    def markdown(data: dict) -> str:
        run, env = data["run"], data["environment"]
        lines = [
            "# GPU check (benchmarks/gpu_check.py)",
            "",
            f"{env.get('date_utc', '?')} UTC; {env.get('gpu_name', env.get('device', '?'))}; "
            f"torch {env.get('torch', '?')} (CUDA {env.get('torch_cuda')}, cuDNN "
            f"{env.get('cudnn')}); elapsed {run.get('elapsed_s')} s of a {run['budget_s']} s "
            f"budget; {'complete' if run['complete'] else 'INCOMPLETE'}"
            + (" (smoke run: CPU, tiny sizes, numbers are not meaningful)" if run["smoke"] else ""),
            "",
        ]
        if run.get("aborted"):
            lines += [f"**Aborted:** {run['aborted']}", ""]
        lines += ["## Environment", ""]
        flat = {k: v for k, v in env.items() if k not in ("notes", "optional_packages")}
        flat.update({f"package {k}": v for k, v in env.get("optional_packages", {}).items()})
        lines += markdown_table([{"key": k, "value": v} for k, v in flat.items()])
        lines += [f"- {note}" for note in env.get("notes", [])]
        for section in data["sections"].values():
            lines += ["", f"## {section['title']}", "", f"Status: {section['status']}", ""]
            lines += [f"- {note}" for note in section["notes"]]
            if section["rows"]:
                lines += [""] + markdown_table(section["rows"])
        return "\n".join(lines) + "\n"


def log(text: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {text}", flush=True)


# --------------------------------------------------------------------------------------------
# Timing, memory, comparisons.
# --------------------------------------------------------------------------------------------


class Context:
    """What every section shares: device, report, budget, rule weights, loaded models."""

    def __init__(self, args: argparse.Namespace, report: Report, work: Path) -> None:
        self.args, self.report, self.work = args, report, work
        self.smoke = args.smoke
        self.device = torch.device(args.device)
        self.weights: dict[str, tuple[Path, str]] | None = None
        self.models: dict[str, types.SimpleNamespace] = {}

    def elapsed(self) -> float:
        return time.monotonic() - T0

    def left(self) -> float:
        return self.args.budget_s - self.elapsed()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def rule_weights(self) -> dict[str, tuple[Path, str]]:
        if self.weights is None:
            start = time.perf_counter()
            self.weights = write_rule_weights(self.work / "weights")
            log(f"rule checkpoints written in {time.perf_counter() - start:.1f} s")
        return self.weights

    def network(self, name: str) -> torch.nn.Module:
        return load_network(name, *self.rule_weights()[name])

    def stack(self, precision: str) -> types.SimpleNamespace:
        """RAFT (always fp32, shared) plus flow completion and generator placed at `precision`,
        warmed up once (6 frames at 128x160, 2 RAFT iterations; not in the smoke run)."""
        if precision not in self.models:
            if "raft" not in self.models:
                raft = self.network("raft").to(self.device).eval()
                self.models["raft"] = types.SimpleNamespace(raft=raft)
            stack = types.SimpleNamespace(
                raft=self.models["raft"].raft,
                rfc=place_model(self.network("flow_completion"), self.device, precision),
                gen=place_model(self.network("propainter"), self.device, precision),
                precision=precision,
            )
            if not self.smoke:  # the smoke run's CPU time is too short for a warm-up
                start = time.perf_counter()
                frames, holes = synthetic_clip(6, 128, 160)
                run_chain(self, stack, frames, holes, iterations=2)
                self.sync()
                log(f"models {precision}: warm-up {time.perf_counter() - start:.1f} s")
            self.models[precision] = stack
        return self.models[precision]

    def free(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class Recorder:
    """Per-stage wall time (synchronised) and peak device memory (reset per stage)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.seconds: dict[str, float] = {}
        self.peak_gib: dict[str, float | None] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        ctx = self.ctx
        ctx.sync()
        if ctx.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(ctx.device)
        start = time.perf_counter()
        yield
        ctx.sync()
        self.seconds[stage] = time.perf_counter() - start
        self.peak_gib[stage] = (
            torch.cuda.max_memory_allocated(ctx.device) / 2**30
            if ctx.device.type == "cuda"
            else None
        )


class _NoRecord:
    def __call__(self, stage: str):
        return contextlib.nullcontext()


def compare(name: str, ours: torch.Tensor, ref: torch.Tensor, rtol: float, atol: float) -> dict:
    """max |diff| and whether every element is within atol + rtol·|ref| (assert_close's rule)."""
    ours, ref = ours.detach().float().cpu(), ref.detach().float().cpu()
    diff = (ours - ref).abs()
    allowed = atol + rtol * ref.abs()
    finite = bool(torch.isfinite(ours).all())
    row = {"tensor": name, "max_abs_diff": float(diff.max()) if diff.numel() else 0.0}
    if atol == 0 and rtol == 0:
        row["tolerance"] = "exact"
        row["differing_values"] = int((diff > 0).sum())
        row["pass"] = finite and row["differing_values"] == 0
    else:
        row["tolerance"] = f"rtol={rtol:g}, atol={atol:g}"
        row["worst_diff_over_allowed"] = float((diff / allowed).max())
        row["pass"] = finite and bool((diff <= allowed).all())
    return row


def compare_composite(ours: np.ndarray, ref: np.ndarray, holes: np.ndarray) -> dict:
    """README §4: outside the dilated masks exact; inside ≤ 2 and ≤ 0.1 % of values differing."""
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    hole = np.broadcast_to(holes[..., None], diff.shape)
    outside = int(diff[~hole].max()) if (~hole).any() else 0
    inside = int(diff[hole].max()) if hole.any() else 0
    fraction = float(np.count_nonzero(diff) / diff.size)
    return {
        "tensor": "comp_frames (uint8)",
        "max_abs_diff": int(diff.max()),
        "tolerance": "outside holes exact; inside ≤ 2 and ≤ 0.1 % of values",
        "outside_max": outside,
        "differing_fraction": fraction,
        "pass": outside == 0 and inside <= 2 and fraction <= 0.001,
    }


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    if where is not None:
        mask = np.broadcast_to(where[..., None], a.shape)
        a, b = a[mask], b[mask]
    mse = float(np.mean((a - b) ** 2)) if a.size else 0.0
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


# --------------------------------------------------------------------------------------------
# The ProPainter chain in memory, through the stages' own functions (no files).
# --------------------------------------------------------------------------------------------


def synthetic_clip(count: int, height: int, width: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(T, H, W, 3) uint8 view panning (1, 2) px a frame over a two-scale texture, and the
    (T, H, W) bool holes of the benchmark's moving ellipse."""
    import cv2

    rng = np.random.default_rng(seed)
    big_h, big_w = height + count + 8, width + 2 * count + 8
    fine = cv2.resize(rng.random((big_h // 4 + 2, big_w // 4 + 2, 3)), (big_w, big_h))
    coarse = cv2.resize(rng.random((big_h // 32 + 2, big_w // 32 + 2, 3)), (big_w, big_h))
    texture = (np.clip(0.45 * fine + 0.55 * coarse, 0, 1) * 255).astype(np.uint8)
    frames = np.stack([texture[t : t + height, 2 * t : 2 * t + width] for t in range(count)])
    holes = project().moving_ellipse_masks(count, width, height, seed=seed)
    return np.ascontiguousarray(frames), holes


def raft_in_memory(ctx: Context, raft, frames_t: torch.Tensor, iterations: int):
    """The `flows` stage's loop without files: width-rule chunks, one frame of overlap."""
    api = project()
    count, width = frames_t.shape[0], frames_t.shape[-1]
    forward, backward = [], []
    for start, stop in api.chunk_bounds(count, api.chunk_length_for_width(width)):
        f, b = api.raft_chunk_flows(raft, frames_t[start:stop], iterations)
        forward.append(f)
        backward.append(b)
    return (
        torch.from_numpy(np.concatenate(forward))[None],
        torch.from_numpy(np.concatenate(backward))[None],
    )


def propagate_in_memory(ctx: Context, frames_t, masks_t, forward, backward):
    """The `propagate` stage's sub-videos (80 kept, 10 of context), image propagation on the
    device in fp32 (the workflow runs this stage on the CPU). Returns the generator inputs:
    updated frames (0 in holes left) and the holes left."""
    api = project()
    count = frames_t.shape[1]
    frames_out, masks_out = [], []
    for lo, hi, keep_lo, keep_hi in api.sub_videos(0, count, 80, 10):
        f = frames_t[:, lo:hi].to(ctx.device)
        m = masks_t[:, lo:hi].to(ctx.device)
        with torch.inference_mode():
            prop, left = api.image_propagation(
                f * (1 - m),
                forward[:, lo : hi - 1].to(ctx.device, torch.float32),
                backward[:, lo : hi - 1].to(ctx.device, torch.float32),
                m,
                "nearest",
            )
            updated = f * (1 - m) + prop * m
        keep = slice(keep_lo - lo, keep_hi - lo)
        frames_out.append(updated[:, keep].cpu())
        masks_out.append(left[:, keep].cpu())
    return torch.cat(frames_out, dim=1), torch.cat(masks_out, dim=1)


def run_chain(ctx, stack, frames, holes, iterations=20, record=None, flows=None):
    """frames (T,H,W,3) uint8 + holes (T,H,W) bool → composites, RAFT flows, completed flows."""
    api = project()
    record = record or _NoRecord()
    frames_t, masks_t = api.frames_to_tensor(frames), api.masks_to_tensor(holes)
    if flows is None:
        with record("raft"):
            flows = raft_in_memory(ctx, stack.raft, frames_t[0], iterations)
    with record("flow_completion"):
        done = api.complete_flows(stack.rfc, flows[0], flows[1], masks_t, subvideo_length=80)
    with record("propagation"):
        updated, left = propagate_in_memory(ctx, frames_t, masks_t, *done)
    with record("transformer"):
        source = api.TensorSource(updated, left, masks_t, done[0], done[1], frames)
        comp = api.inpaint_clip(stack.gen, source, **REFERENCE_WINDOWS)
    return comp, flows, done


# --------------------------------------------------------------------------------------------
# (a) golden equivalence.
# --------------------------------------------------------------------------------------------


def load_golden(name: str) -> dict:
    return torch.load(GOLDEN / name, weights_only=True)


def golden_cases(ctx: Context):
    """(name, run-in-smoke, function returning rows) of every golden comparison."""
    api, dev = project(), ctx.device

    def raft_pt():
        stack = ctx.stack("fp32")
        g = load_golden("raft.pt")
        frames = g["frames"][0][:2] if ctx.smoke else g["frames"][0]
        pairs = frames.shape[0] - 1
        f, b = raft_in_memory(ctx, stack.raft, frames, 20)
        return [
            compare("flows_forward", f[0], g["flows_forward"][0][:pairs], *FLOW_TOL),
            compare("flows_backward", b[0], g["flows_backward"][0][:pairs], *FLOW_TOL),
        ]

    def rfc_pt():
        rfc = ctx.stack("fp32").rfc
        g = load_golden("rfc.pt")
        flows = (g["flows_forward"].to(dev), g["flows_backward"].to(dev))
        with torch.no_grad():
            preds, _ = rfc.forward_bidirect_flow(flows, g["masks"].to(dev))
        done = api.complete_window(rfc, g["flows_forward"], g["flows_backward"], g["masks"])
        return [
            compare("pred_flows_forward", preds[0], g["pred_flows_forward"], *RFC_TOL),
            compare("pred_flows_backward", preds[1], g["pred_flows_backward"], *RFC_TOL),
            compare("completed_flows_forward", done[0], g["completed_flows_forward"], *RFC_TOL),
            compare("completed_flows_backward", done[1], g["completed_flows_backward"], *RFC_TOL),
        ]

    def prop_pt():
        g = load_golden("inpaint_prop.pt")
        with torch.inference_mode():
            frames, masks = api.image_propagation(
                g["masked_frames"].to(dev),
                g["flows_forward"].to(dev),
                g["flows_backward"].to(dev),
                g["masks"].to(dev),
                "nearest",
            )
        rows = [
            compare("prop_frames", frames, g["prop_frames"], 0, 0),
            compare("updated_masks", masks, g["updated_masks"], 0, 0),
        ]
        holes = int(g["masks"].sum())
        for row in rows:  # README: ≤ 0.1 % of hole pixels may differ with other arithmetic
            row["differing_fraction_of_hole_values"] = row["differing_values"] / max(
                holes * (3 if row["tensor"] == "prop_frames" else 1), 1
            )
        return rows

    def forward(name):
        def run():
            gen = ctx.stack("fp32").gen
            g = load_golden(name)
            with torch.no_grad():
                out = gen(
                    g["masked_frames"].to(dev),
                    (g["flows_forward"].to(dev), g["flows_backward"].to(dev)),
                    g["masks_in"].to(dev),
                    g["masks_updated"].to(dev),
                    int(g["num_local_frames"]),
                )
            return [compare("output", out, g["output"], 0, GENERATOR_ATOL)]

        return run

    def pipeline_a():
        p, r = load_golden("pipeline.pt"), load_golden("pipeline_flows_raft.pt")
        frames_t = api.frames_to_tensor(p["frames_uint8"].numpy())[0]
        f, b = raft_in_memory(ctx, ctx.stack("fp32").raft, frames_t, 20)
        return [
            compare("gt_flows_forward", f, r["gt_flows_forward"], *FLOW_TOL),
            compare("gt_flows_backward", b, r["gt_flows_backward"], *FLOW_TOL),
        ]

    def pipeline_b():
        p, r = load_golden("pipeline.pt"), load_golden("pipeline_flows_raft.pt")
        c = load_golden("pipeline_flows_completed.pt")
        done = api.complete_flows(
            ctx.stack("fp32").rfc,
            r["gt_flows_forward"],
            r["gt_flows_backward"],
            p["masks_dilated"],
            subvideo_length=REFERENCE_WINDOWS["subvideo_length"],
        )
        return [
            compare("completed_flows_forward", done[0], c["completed_flows_forward"], *FLOW_TOL),
            compare("completed_flows_backward", done[1], c["completed_flows_backward"], *FLOW_TOL),
        ]

    def pipeline_c():
        p, c = load_golden("pipeline.pt"), load_golden("pipeline_flows_completed.pt")
        e = load_golden("pipeline_prop.pt")
        frames_t = api.frames_to_tensor(p["frames_uint8"].numpy())
        updated, left = propagate_in_memory(
            ctx,
            frames_t,
            p["masks_dilated"],
            c["completed_flows_forward"],
            c["completed_flows_backward"],
        )
        return [
            compare("updated_frames", updated, e["updated_frames"], 0, 0),
            compare("updated_masks", left, e["updated_masks"], 0, 0),
        ]

    def pipeline_d():
        p, c = load_golden("pipeline.pt"), load_golden("pipeline_flows_completed.pt")
        e = load_golden("pipeline_prop.pt")
        source = api.TensorSource(
            e["updated_frames"],
            e["updated_masks"],
            p["masks_dilated"],
            c["completed_flows_forward"],
            c["completed_flows_backward"],
            p["frames_uint8"],
        )
        comp = api.inpaint_clip(ctx.stack("fp32").gen, source, **REFERENCE_WINDOWS)
        holes = p["masks_dilated"][0, :, 0].numpy() > 0.5
        return [compare_composite(comp, p["comp_frames"].numpy(), holes)]

    def pipeline_chain():
        p = load_golden("pipeline.pt")
        holes = p["masks_dilated"][0, :, 0].numpy() > 0.5
        comp, _, _ = run_chain(ctx, ctx.stack("fp32"), p["frames_uint8"].numpy(), holes)
        return [compare_composite(comp, p["comp_frames"].numpy(), holes)]

    return [
        ("raft.pt" + (" (first pair only: smoke)" if ctx.smoke else ""), True, raft_pt),
        ("rfc.pt", True, rfc_pt),
        ("inpaint_prop.pt", True, prop_pt),
        ("inpaint_forward_small.pt", True, forward("inpaint_forward_small.pt")),
        ("inpaint_forward.pt", False, forward("inpaint_forward.pt")),
        ("pipeline stage A (RAFT, chunks of 12)", False, pipeline_a),
        ("pipeline stage B (flow completion)", False, pipeline_b),
        ("pipeline stage C (image propagation)", True, pipeline_c),
        ("pipeline stage D (generator + compositing)", False, pipeline_d),
        ("pipeline end to end (A→B→C→D in memory)", False, pipeline_chain),
    ]


def section_golden(ctx: Context) -> None:
    name = "golden"
    torch.backends.cuda.matmul.allow_tf32 = False  # (no effect on the CPU)
    torch.backends.cudnn.allow_tf32 = False
    ctx.report.note(
        name,
        f"fp32 on {ctx.device}; TF32 disabled (torch.backends.cuda.matmul.allow_tf32 = "
        f"{torch.backends.cuda.matmul.allow_tf32}, torch.backends.cudnn.allow_tf32 = "
        f"{torch.backends.cudnn.allow_tf32}); weights: the golden rule (seed 0) through the "
        "real loading path; tolerances of tests/data/golden/README.md §4 (CPU figures)",
    )
    ctx.stack("fp32")  # load (and warm up) outside the timed cases
    for case, in_smoke, run in golden_cases(ctx):
        if ctx.smoke and not in_smoke:
            ctx.report.row(name, {"golden": case, "status": "skipped: smoke run (CPU time)"})
            continue
        if ctx.left() <= 0:
            ctx.report.row(name, {"golden": case, "status": "skipped: time budget"})
            continue
        ctx.report.current(f"golden {case}")
        start = time.perf_counter()
        try:
            rows = run()
            ctx.sync()
            seconds = time.perf_counter() - start
            for row in rows:
                ctx.report.row(name, {"golden": case, **row, "seconds": seconds})
        except Exception as error:  # noqa: BLE001 - one failing case must not end the run
            ctx.report.row(name, {"golden": case, "status": failure(error)})
            ctx.free()


# --------------------------------------------------------------------------------------------
# (b) precision.
# --------------------------------------------------------------------------------------------


def section_precision(ctx: Context) -> None:
    name = "precision"
    p = load_golden("pipeline.pt")
    frames = p["frames_uint8"].numpy()
    holes = p["masks_dilated"][0, :, 0].numpy() > 0.5
    golden = p["comp_frames"].numpy()
    iterations = 20
    if ctx.smoke:
        frames, holes, golden, iterations = frames[:2], holes[:2], golden[:2], 2
        ctx.report.note(name, "smoke: first 2 frames, 2 RAFT iterations (vs golden: meaningless)")
    ctx.report.note(
        name,
        "pipeline golden (20 frames, 128x160) through the chain; RAFT runs fp32 at every "
        "precision (as the reference and the flows stage); flow completion and generator are "
        "placed by vanish.device.place (what the stages' `precision` option does); image "
        "propagation runs fp32 (the workflow's propagate stage has no precision). PSNR over all "
        "pixels and over the dilated holes (hole_psnr); seconds exclude the one warm-up",
    )
    raft_rec = Recorder(ctx)
    with raft_rec("raft"):
        flows = raft_in_memory(
            ctx, ctx.stack("fp32").raft, project().frames_to_tensor(frames)[0], iterations
        )
    ctx.report.row(
        name,
        {"precision": "RAFT (fp32 always)", "raft_s": raft_rec.seconds["raft"]},
    )
    reference = None
    variants = ["fp32", "fp16", "bf16", "fp32+tf32"]
    for variant in variants:
        if ctx.left() <= 0:
            ctx.report.row(name, {"precision": variant, "status": "skipped: time budget"})
            continue
        if variant == "fp32+tf32" and ctx.device.type != "cuda":
            ctx.report.row(name, {"precision": variant, "status": "skipped: TF32 is CUDA only"})
            continue
        precision = variant.split("+")[0]
        ctx.report.current(f"precision {variant}")
        try:
            stack = ctx.stack(precision)
            rec = Recorder(ctx)
            use_flows = flows
            if variant == "fp32+tf32":
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
                use_flows = None  # TF32 changes RAFT too
            try:
                comp, tf_flows, done = run_chain(
                    ctx, stack, frames, holes, iterations, record=rec, flows=use_flows
                )
            finally:
                if ctx.device.type == "cuda":
                    project().configure_cuda()
            row = {"precision": variant}
            row.update({f"{stage}_s": seconds for stage, seconds in rec.seconds.items()})
            if reference is not None:
                row["psnr_vs_fp32"] = psnr(comp, reference[0])
                row["hole_psnr_vs_fp32"] = psnr(comp, reference[0], holes)
                row["max_abs_diff_vs_fp32"] = int(
                    np.abs(comp.astype(np.int16) - reference[0].astype(np.int16)).max()
                )
                row["completed_flow_max_diff_vs_fp32"] = float(
                    max((a - b).abs().max() for a, b in zip(done, reference[1], strict=True))
                )
            row["psnr_vs_golden"] = psnr(comp, golden)
            row["hole_psnr_vs_golden"] = psnr(comp, golden, holes)
            if variant == "fp32+tf32":
                row["raft_flow_max_diff_vs_fp32"] = float(
                    max((a - b).abs().max() for a, b in zip(tf_flows, flows, strict=True))
                )
            if variant == "fp32":
                reference = (comp, done)
            ctx.report.row(name, row)
        except Exception as error:  # noqa: BLE001
            ctx.report.row(name, {"precision": variant, "status": failure(error)})
            ctx.free()


# --------------------------------------------------------------------------------------------
# (d) prompt path.
# --------------------------------------------------------------------------------------------


def section_prompt(ctx: Context) -> None:
    name = "prompt"
    missing = [
        module
        for module in ("segment_anything", "open_clip")
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        ctx.report.set_status(name, f"skipped: {', '.join(missing)} not importable")
        return
    if ctx.smoke:
        sam_model, clip_model = tiny_prompt_configs()
        frames_n, crops_n, sam_batches = 2, 8, [1, 2]
    else:
        sam_model, clip_model = "vit_h", "ViT-B-32"
        frames_n, crops_n, sam_batches = 8, 256, [1, 4]
    ctx.report.note(
        name,
        f"SAM {sam_model if isinstance(sam_model, str) else 'tiny'} and CLIP "
        f"{clip_model if isinstance(clip_model, str) else 'tiny'} with random weights, fp32 "
        f"(as the project runs them) on {ctx.device}; frames 432x240 synthetic; the encoder is "
        "timed through SamSegmenter.embed (CPU resize + preprocess included), the decoder through "
        "SamSegmenter.segment with 2 boxes a frame, CLIP through ClipScorer.encode_images "
        "(crops of 40-200 px, CPU resize included). First call of each is a warm-up",
    )
    frames, _ = synthetic_clip(frames_n, 240, 432)
    frames = list(frames)
    sam_rec = None
    try:
        start = time.perf_counter()
        segmenter = sam_segmenter(sam_model, ctx.device, 1)
        build = time.perf_counter() - start
        for batch in sam_batches:
            segmenter.batch = batch
            segmenter.embed(frames[:batch])  # warm-up
            sam_rec = Recorder(ctx)
            with sam_rec("encoder"):
                embeddings = segmenter.embed(frames)
            ctx.report.row(
                name,
                {
                    "model": f"SAM image encoder (batch {batch})",
                    "items": len(frames),
                    "seconds": sam_rec.seconds["encoder"],
                    "items_per_s": len(frames) / sam_rec.seconds["encoder"],
                    "peak_GiB": sam_rec.peak_gib["encoder"],
                    "build_s": build,
                },
            )
        boxes = np.array([[40, 30, 200, 200], [220, 60, 400, 220]], np.float32)
        segmenter.segment(embeddings[0], boxes)
        rec = Recorder(ctx)
        with rec("decoder"):
            for embedding in embeddings:
                segmenter.segment(embedding, boxes)
        ctx.report.row(
            name,
            {
                "model": "SAM prompt encoder + mask decoder (2 boxes)",
                "items": len(embeddings),
                "seconds": rec.seconds["decoder"],
                "items_per_s": len(embeddings) / rec.seconds["decoder"],
                "peak_GiB": rec.peak_gib["decoder"],
            },
        )
        del segmenter, embeddings
    except Exception as error:  # noqa: BLE001
        ctx.report.row(name, {"model": "SAM", "status": failure(error)})
    ctx.free()
    if ctx.left() <= 0:
        ctx.report.row(name, {"model": "CLIP", "status": "skipped: time budget"})
        return
    try:
        start = time.perf_counter()
        scorer = clip_scorer(clip_model, ctx.work / "clip", ctx.device, batch=32)
        build = time.perf_counter() - start
        rng = np.random.default_rng(1)
        crops = []
        for _ in range(crops_n):
            h, w = rng.integers(40, 200, size=2)
            y, x = rng.integers(0, 240 - min(h, 239)), rng.integers(0, 432 - w)
            crops.append(np.ascontiguousarray(frames[0][y : y + h, x : x + w]))
        scorer.encode_images(crops[:32])  # warm-up
        rec = Recorder(ctx)
        with rec("crops"):
            scorer.encode_images(crops)
        ctx.report.row(
            name,
            {
                "model": "CLIP image encoder (batch 32)",
                "items": len(crops),
                "seconds": rec.seconds["crops"],
                "items_per_s": len(crops) / rec.seconds["crops"],
                "peak_GiB": rec.peak_gib["crops"],
                "build_s": build,
            },
        )
        phrases = ["person", "dog", "red car", "bike", "ball", "tree", "shadow", "box"]
        scorer.encode_text(phrases)
        rec = Recorder(ctx)
        with rec("text"):
            scorer.encode_text(phrases)
        ctx.report.row(
            name,
            {
                "model": "CLIP text encoder",
                "items": len(phrases),
                "seconds": rec.seconds["text"],
                "items_per_s": len(phrases) / rec.seconds["text"],
                "peak_GiB": rec.peak_gib["text"],
            },
        )
    except Exception as error:  # noqa: BLE001
        ctx.report.row(name, {"model": "CLIP", "status": failure(error)})
    ctx.free()


# --------------------------------------------------------------------------------------------
# (c) stages.
# --------------------------------------------------------------------------------------------

STAGES = ("raft", "flow_completion", "propagation", "transformer")


def section_stages(ctx: Context) -> None:
    name = "stages"
    sizes = SMOKE_SIZES if ctx.smoke else ctx.args.sizes
    counts = SMOKE_FRAMES if ctx.smoke else ctx.args.frames
    iterations = 2 if ctx.smoke else ctx.args.raft_iterations
    precisions = ["fp32", "fp16"]
    ctx.report.note(
        name,
        f"rule weights (published architectures), RAFT {iterations} iterations (fp32 always: the "
        "fp16 rows reuse the fp32 case's flows and repeat its RAFT time), flow completion "
        "sub-videos of 80, propagation windows of 80+10 on the device in fp32 (the workflow "
        "runs that stage on the CPU), generator windows of 10 local frames + references every "
        "10; in memory through the stages' functions (no files, no video decode). Frames: a "
        "texture panning (1, 2) px a frame with the benchmark's moving ellipse as the hole. "
        "Peak = torch.cuda.max_memory_allocated, reset per stage (the resident weights "
        "included). 854x480 runs at 848x480 (ProPainter's W - W mod 8). TF32 off",
    )
    ctx.report.note(
        name,
        f"roi rows: config `roi` (vanish/roi.py) on the same frames with a small moving hole "
        f"(an ellipse of W/32 x H/24 half-axes moving W/5): the chain runs on the region (the "
        f"holes' union grown by {ROI_MARGIN} px, multiples of 8, >= 128 px; always taken here, "
        "whatever its share of the frame) and `composite` pastes its hole pixels back into the "
        "full frame",
    )
    ctx.report.note(name, PUBLISHED_NOTE)
    cases = sorted(((w, h, t) for w, h in sizes for t in counts), key=lambda c: c[0] * c[1] * c[2])
    coefficients: dict[tuple[str, str], float] = {}  # (precision, stage) -> s per frame·pixel
    for width, height, count in cases:
        label = f"{width}x{height}x{count}"
        clip = None
        flows = None
        raft_row = None
        for precision in precisions:
            case = {"size": f"{width}x{height}", "frames": count, "precision": precision}
            stages = STAGES if flows is None else STAGES[1:]
            if precision != "fp32" and flows is None:
                ctx.report.row(name, {**case, "status": "skipped: no fp32 RAFT flows"})
                continue
            work = count * width * height
            known = [coefficients.get((precision, s)) for s in stages]
            if ctx.left() <= 0:
                ctx.report.row(name, {**case, "status": "skipped: time budget"})
                continue
            if all(k is not None for k in known):
                predicted = 1.15 * sum(known) * work + 3
                if predicted > ctx.left():
                    ctx.report.row(
                        name,
                        {
                            **case,
                            "status": f"skipped: predicted {predicted:.1f} s > "
                            f"{ctx.left():.1f} s left of the budget",
                        },
                    )
                    continue
            ctx.report.current(f"stages {label} {precision}")
            log(f"stages: {label} {precision}")
            try:
                if clip is None:
                    clip = synthetic_clip(count, height, width)
                stack = ctx.stack(precision)
                rec = Recorder(ctx)
                _, raft_flows, _ = run_chain(
                    ctx, stack, clip[0], clip[1], iterations, record=rec, flows=flows
                )
                flows = raft_flows
                for stage, seconds in rec.seconds.items():
                    coefficients[(precision, stage)] = seconds / work
                if "raft" in rec.seconds:
                    raft_row = (rec.seconds["raft"], rec.peak_gib["raft"])
                rows = []
                for stage in STAGES:
                    if stage in rec.seconds:
                        seconds, peak, shared = rec.seconds[stage], rec.peak_gib[stage], False
                    elif stage == "raft" and raft_row is not None:
                        (seconds, peak), shared = raft_row, True
                    else:
                        continue
                    rows.append(
                        {
                            **case,
                            "stage": stage + (" (fp32 run)" if shared else ""),
                            "seconds": seconds,
                            "s_per_frame": seconds / count,
                            "peak_GiB": peak,
                        }
                    )
                rows.append(whole_path_row(case, rows, count, ctx.device.type == "cuda"))
                for row in rows:
                    ctx.report.row(name, row)
            except Exception as error:  # noqa: BLE001
                ctx.report.row(name, {**case, "status": failure(error)})
            finally:
                ctx.report.current(None)
                ctx.free()
        section_roi_case(ctx, name, width, height, count, iterations, coefficients)
        del clip, flows


def whole_path_row(case: dict, rows: list[dict], count: int, cuda: bool) -> dict:
    """The "whole path" row summing the per-stage `rows` of one case (peak memory: CUDA only)."""
    total = sum(r["seconds"] for r in rows)
    peak = max((r["peak_GiB"] or 0.0) for r in rows) if cuda else None
    return {**case, "stage": "whole path", "seconds": total, "s_per_frame": total / count,
            "frames_per_s": count / total, "peak_GiB": peak}  # fmt: skip


ROI_MARGIN = 64  # config roi.margin's default


def small_moving_hole(count: int, width: int, height: int) -> np.ndarray:
    """(T, H, W) bool: an ellipse of W/32 x H/24 half-axes moving W/5 to the right."""
    import cv2

    masks = np.zeros((count, height, width), np.uint8)
    for t in range(count):
        centre = (int(width * (0.4 + 0.2 * t / max(count - 1, 1))), height // 2)
        cv2.ellipse(masks[t], centre, (width // 32, height // 24), 10.0, 0, 360, 1, -1)
    return masks.astype(bool)


def section_roi_case(ctx, name, width, height, count, iterations, coefficients) -> None:
    """The stages of one case on its region of interest (fp32, then fp16 on the fp32 flows)."""
    api = project()
    holes = small_moving_hole(count, width, height)
    box = api.union(api.mask_box(hole) for hole in holes)
    [region] = api.choose_regions([box], (width, height), ROI_MARGIN, 1.0)
    rows_, cols = slice(region[1], region[3]), slice(region[0], region[2])
    size = f"{region[2] - region[0]}x{region[3] - region[1]}"
    work = count * (region[2] - region[0]) * (region[3] - region[1])
    flows, raft_row, frames = None, None, None
    for precision in ("fp32", "fp16"):
        case = {"size": f"{width}x{height}", "frames": count, "precision": precision, "roi": size}
        known = [coefficients.get((precision, s)) for s in STAGES]
        predicted = 1.15 * sum(k for k in known if k) * work + 3
        if ctx.left() <= 0 or (all(known) and predicted > ctx.left()):
            ctx.report.row(name, {**case, "status": "skipped: time budget"})
            continue
        if precision != "fp32" and flows is None:
            ctx.report.row(name, {**case, "status": "skipped: no fp32 RAFT flows"})
            continue
        ctx.report.current(f"stages roi {width}x{height}x{count} {precision}")
        log(f"stages: roi {size} of {width}x{height}x{count} {precision}")
        try:
            if frames is None:
                frames = synthetic_clip(count, height, width)[0]
            rec = Recorder(ctx)
            comp, flows, _ = run_chain(
                ctx, ctx.stack(precision), frames[:, rows_, cols], holes[:, rows_, cols],
                iterations, record=rec, flows=flows,
            )  # fmt: skip
            with rec("composite"):
                for index, result in enumerate(comp):
                    api.composite_region(result, frames[index], holes[index], (rows_, cols))
            raft_row = raft_row or (rec.seconds.get("raft"), rec.peak_gib.get("raft"))
            rows = []
            for stage in (*STAGES, "composite"):
                shared = stage not in rec.seconds
                seconds, peak = raft_row if shared else (rec.seconds[stage], rec.peak_gib[stage])
                label = stage + (" (fp32 run)" if shared else "")
                rows.append({**case, "stage": label, "seconds": seconds,
                             "s_per_frame": seconds / count, "peak_GiB": peak})  # fmt: skip
            rows.append(whole_path_row(case, rows, count, ctx.device.type == "cuda"))
            for row in rows:
                ctx.report.row(name, row)
        except Exception as error:  # noqa: BLE001
            ctx.report.row(name, {**case, "status": failure(error)})
        finally:
            ctx.report.current(None)
            ctx.free()


# --------------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------------

SECTIONS = {
    "golden": section_golden,
    "precision": section_precision,
    "prompt": section_prompt,
    "stages": section_stages,
}


def failure(error: BaseException) -> str:
    """One line for the report; the traceback goes to the log."""
    traceback.print_exc(file=sys.stdout)
    sys.stdout.flush()
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    kind = "OOM" if isinstance(error, oom) else "error"
    text = f"{kind}: {type(error).__name__}: {error}".replace("\n", " ")
    return text[:400]


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, < 60 s")
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument(
        "--hard-limit-s",
        type=float,
        default=None,
        help="watchdog: write the results and exit (default budget + 45 s)",
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [parse_size(x) for x in s.split(",")],
        default=SIZES,
        help="WxH list for the stages section (multiples of 8)",
    )
    parser.add_argument(
        "--frames", type=lambda s: [int(x) for x in s.split(",")], default=FRAME_COUNTS
    )
    parser.add_argument("--raft-iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--wheels", type=Path, default=REPO / ".whl")
    args = parser.parse_args(argv)
    args.device = args.device or ("cpu" if args.smoke else "cuda")
    if args.hard_limit_s is None:
        args.hard_limit_s = args.budget_s + 45
    if args.threads is None and args.smoke:
        args.threads = 2
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    return args


def install_watchdog(report: Report, limit_s: float) -> None:
    def fire() -> None:
        with report.lock:
            current = report.data["run"].get("current")
            report.data["run"]["aborted"] = f"watchdog: hard limit {limit_s:.0f} s reached" + (
                f" during {current}" if current else ""
            )
            report.save()
        log(f"watchdog: hard limit {limit_s:.0f} s reached; results written, exiting")
        os._exit(3)

    timer = threading.Timer(max(limit_s - (time.monotonic() - T0), 1.0), fire)
    timer.daemon = True
    timer.start()

    def on_term(signum, frame) -> None:
        with report.lock:
            report.data["run"]["aborted"] = f"signal {signum}"
            report.save()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    notes: list[str] = []
    add_wheels(args.wheels, notes)
    stub_video_modules(notes)
    report = Report(args.out, args.budget_s, args.smoke)
    install_watchdog(report, args.hard_limit_s)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        report.data["environment"] = environment(torch.device("cpu"), args, notes)
        for name in SECTIONS:
            report.section(name)["status"] = "error: CUDA is not available"
        report.save()
        log("CUDA is not available; use --smoke (CPU) or --device cpu")
        return 2
    if device.type == "cuda":
        project().configure_cuda()  # the project's CUDA settings: TF32 off
    report.data["environment"] = environment(device, args, notes)
    report.save()
    log(f"device {device}; results in {args.out}")
    chosen = args.sections.split(",")
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        ctx = Context(args, report, Path(tmp))
        for name, run in SECTIONS.items():
            if name not in chosen:
                report.set_status(name, "skipped: not selected (--sections)")
                continue
            if ctx.left() <= 0:
                report.set_status(name, "skipped: time budget")
                continue
            log(f"section {name}")
            report.set_status(name, "running")
            report.current(f"section {name}")
            start = time.monotonic()
            try:
                run(ctx)
                if report.section(name)["status"] == "running":
                    report.set_status(name, f"done in {time.monotonic() - start:.1f} s")
            except Exception as error:  # noqa: BLE001 - the other sections still run
                report.set_status(name, failure(error))
            finally:
                report.current(None)
                ctx.free()
    report.data["run"]["complete"] = True
    report.save()
    log(f"done; {args.out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
