"""Where tensors live: one function turns a ``device`` setting into a ``torch.device``.

``device=auto|cpu|cuda|cuda:N`` is a scoring setting (and the one EZNAS statistics and GHN training
reuse), not a property of a proxy. :func:`resolve_device` is the only place that reads it:

* ``auto``: ``cuda`` (the current CUDA device) when ``torch.cuda.is_available()``, else ``cpu``;
* ``cpu``;
* ``cuda`` / ``cuda:N``: that GPU; an error naming the value when no GPU is visible or ``N`` is out
  of range.

:func:`deterministic_kernels` is the context the scorer runs CUDA work in: cuDNN deterministic
algorithms, no cuDNN benchmark autotuning, and TF32 off for matmuls and convolutions, so that a CUDA
score is a function of the cell alone (issue 11 asks for TF32 off unless shown to keep the
cross-machine tolerance; nobody has shown that yet).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from nasearch.errors import NasearchError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
_CUDA_N = re.compile(r"cuda:(\d+)")


class DeviceError(NasearchError):
    """An unknown device setting, or CUDA asked for where no GPU is visible."""


def parse_device(value: str | torch.device | None, where: str = "device") -> str:
    """The normalised setting (``auto``, ``cpu``, ``cuda`` or ``cuda:N``) without looking for a GPU: a
    driver that sends work to other machines (Ray) checks the spelling only; the workers resolve it."""
    if isinstance(value, torch.device):
        value = str(value)
    text = "cpu" if value is None else str(value).strip().lower()
    if text in ("cpu", "auto", "cuda") or _CUDA_N.fullmatch(text):
        return text
    raise DeviceError(
        f"unknown device {value!r} ({where}); accepted: auto, cpu, cuda, or cuda:N with N a GPU index"
    )


def resolve_device(value: str | torch.device | None, where: str = "device") -> torch.device:
    """The ``torch.device`` of a setting (``None`` means ``cpu``); ``where`` names the setting's origin
    in the error message (e.g. ``"config key device"``)."""
    text = parse_device(value, where)
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    m = _CUDA_N.fullmatch(text)
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {value!r} ({where}) asks for a GPU, but torch sees none (torch.cuda.is_available() is "
            f"False; torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use device=cpu or auto"
        )
    if m is not None:
        n, count = int(m.group(1)), torch.cuda.device_count()
        if n >= count:
            raise DeviceError(
                f"device {value!r} ({where}): GPU index {n} out of range, {count} GPU(s) visible (cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", n)
    return torch.device("cuda")


def is_cuda(device: torch.device | str | None) -> bool:
    return device is not None and torch.device(device).type == "cuda"


@contextmanager
def deterministic_kernels(device: torch.device | str | None) -> Iterator[None]:
    """On CUDA: cuDNN deterministic, no benchmark autotuning, TF32 off (restored on exit). On the CPU:
    nothing changes."""
    if not is_cuda(device):
        yield
        return
    saved = (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
    )
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        (
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
        ) = saved


__all__ = ["DEVICE_CHOICES", "DeviceError", "deterministic_kernels", "is_cuda", "parse_device", "resolve_device"]
