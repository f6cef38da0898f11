"""Convolution primitives of the tokenizer: explicit padding, causal transposed conv, weight norm.

Padding is always its own parameter-free module (`Pad1d`), never hidden inside a conv: it is the
one place where a streaming implementation will keep the left context of the previous chunk, and
being parameter-free it leaves the state-dict names identical to the official runtime's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations, parametrize


class Pad1d(nn.Module):
    """Pad the time axis of [B, C, T] by (`left`, `right`) samples, zeros or edge replication."""

    def __init__(self, left: int, right: int = 0, mode: str = "constant") -> None:
        super().__init__()
        if left < 0 or right < 0:
            raise ValueError(f"padding must be non-negative, got ({left}, {right})")
        self.left, self.right, self.mode = left, right, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, left + T + right]
        if self.left == 0 and self.right == 0:
            return x
        return F.pad(x, (self.left, self.right), mode=self.mode)

    def extra_repr(self) -> str:
        return f"left={self.left}, right={self.right}, mode={self.mode}"


def conv_padding(kernel_size: int, dilation: int = 1, lookahead: int = 0) -> Pad1d:
    """Padding that makes a stride-1 (or strided) conv see `lookahead` steps of the future.

    A causal conv (lookahead 0) is left-padded by dilation * (k - 1); with stride s its output
    has ceil(T / s) steps and step i depends on inputs <= i * s only.
    """
    total = dilation * (kernel_size - 1)
    if lookahead > total:
        raise ValueError(f"lookahead {lookahead} exceeds the receptive field {total} of the conv")
    return Pad1d(total - lookahead, lookahead)


class PaddedConv1d(nn.Module):
    """`pad` then `layer` (a Conv1d); the official encoder's `generator.N.layer` convs."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, lookahead: int = 0) -> None:
        super().__init__()
        self.pad = conv_padding(kernel_size, 1, lookahead)
        self.layer = nn.Conv1d(c_in, c_out, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C_in, T] -> [B, C_out, ceil(T / stride)]
        return self.layer(self.pad(x))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Transposed conv with no padding that drops its last `kernel - stride` outputs.

    [B, C_in, T] -> [B, C_out, T * stride]; output sample n depends on inputs <= n // stride only.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int) -> None:
        super().__init__(c_in, c_out, kernel_size, stride=stride)
        self.trim = kernel_size - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)  # [B, C_out, (T - 1) * stride + kernel]
        return y[..., : y.shape[-1] - self.trim] if self.trim else y


def _weight_norm_targets(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]


def apply_weight_norm(module: nn.Module) -> None:
    """Weight-normalise every (transposed) conv in `module` that is not already (dim 0, as the runtime)."""
    for m in _weight_norm_targets(module):
        if not parametrize.is_parametrized(m, "weight"):
            parametrizations.weight_norm(m, name="weight", dim=0)


def fold_weight_norm(module: nn.Module) -> None:
    """Replace every weight-norm parametrisation in `module` by the plain weight g * v / |v|."""
    for m in _weight_norm_targets(module):
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)


def has_weight_norm(module: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in _weight_norm_targets(module))
