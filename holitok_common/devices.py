"""The one resolution of a `--device` argument, shared by every CLI (library code only follows its
tensors: STYLE principle 6). An explicitly requested CUDA device that is not there is an error,
never a silent CPU run."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """A requested device that this machine does not have; the message says what to use instead."""


def resolve_device(name: str | None) -> torch.device:
    """"auto" (or None): cuda when available, else cpu; "cpu"; "cuda" / "cuda:N", checked to exist."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name} was requested but no CUDA device is available; use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) (cuda:0..); "
                              "pick one of them")
    return device
