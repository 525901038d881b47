"""Device and precision selection of the learned backend."""

from __future__ import annotations

import pytest
import torch

from vanish.device import DeviceError, model_dtype, place, select_device


def test_auto_picks_cuda_only_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected


def test_cpu_fp32() -> None:
    device = select_device("cpu")
    assert model_dtype("fp32", device) == torch.float32
    model = place(torch.nn.Linear(2, 2), "cpu", "fp32")
    assert next(model.parameters()).dtype == torch.float32
    assert not model.training


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_on_cpu_is_refused(precision: str) -> None:
    with pytest.raises(DeviceError, match="needs a CUDA device"):
        model_dtype(precision, torch.device("cpu"))


def test_unknown_precision_and_device() -> None:
    with pytest.raises(DeviceError, match="unknown"):
        model_dtype("fp8", torch.device("cpu"))
    with pytest.raises(DeviceError, match="not a device"):
        select_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_refused() -> None:
    with pytest.raises(DeviceError, match="0 CUDA device"):
        select_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_disables_tf32() -> None:
    select_device("cuda")
    assert not torch.backends.cuda.matmul.allow_tf32
    assert not torch.backends.cudnn.allow_tf32
    assert model_dtype("fp16", torch.device("cuda")) == torch.float16
