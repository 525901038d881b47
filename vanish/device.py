"""Device and precision choice of the learned backend (config `propainter.device`/`precision`).

The reference runs RAFT in fp32 always and casts the other two networks (and their inputs) to half
only with `--fp16` on a GPU (docs/architecture.md §5.6.1). Half precision on the CPU is refused
rather than silently ignored: it is either unsupported or far slower there, and the user asked for
something they would not get. TF32 is switched off on CUDA because it changes fp32 matmuls and
convolutions enough to exceed the golden tolerances.
"""

from __future__ import annotations

import torch

from vanish.errors import VanishError

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


class DeviceError(VanishError):
    """The configured device or precision cannot be used on this machine."""


def select_device(name: str = "auto", key: str = "propainter.device") -> torch.device:
    """`auto` → the first CUDA device if there is one, else the CPU; otherwise the named device.

    A CUDA device that is not there is an error (naming the config key), not a silent fallback
    that would make a GPU job crawl on the CPU.
    """
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError as error:
            raise DeviceError(
                f"{key} '{name}' is not a device; use auto, cpu, cuda or cuda:N"
            ) from error
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise DeviceError(
                f"{key} is '{name}' but this machine has {count} CUDA device(s); "
                f"set {key} to auto or cpu, or run the job on a GPU node"
            )
        configure_cuda()
    return device


def configure_cuda() -> None:
    """fp32 fidelity on CUDA: no TF32 matmuls/convolutions, no reduced-precision reductions."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False


def model_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Compute dtype of the flow-completion net and the generator (never of RAFT)."""
    if precision not in PRECISIONS:
        raise DeviceError(
            f"propainter.precision '{precision}' is unknown; use one of {sorted(PRECISIONS)}"
        )
    dtype = PRECISIONS[precision]
    if dtype != torch.float32 and device.type != "cuda":
        raise DeviceError(
            f"propainter.precision '{precision}' needs a CUDA device, but the job runs on "
            f"'{device}'; set propainter.precision to fp32 (or run on a GPU node)"
        )
    return dtype


def place(
    model: torch.nn.Module, device_name: str = "auto", precision: str = "fp32"
) -> torch.nn.Module:
    """Move an eval-mode model to the chosen device and dtype (plain cast, as the reference)."""
    device = select_device(device_name)
    return model.to(device=device, dtype=model_dtype(precision, device)).eval()


def model_placement(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a model's parameters (inputs are cast to match)."""
    parameter = next(model.parameters())
    return parameter.device, parameter.dtype
