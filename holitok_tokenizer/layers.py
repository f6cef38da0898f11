"""Convolution primitives of the tokenizer: explicit padding, causal transposed conv, weight norm.

Padding is always its own parameter-free module (`Pad1d`), never hidden inside a conv: it is the
one place where streaming keeps the left context of the previous chunk, and being parameter-free
it leaves the state-dict names identical to the official runtime's.

Streaming (see `streaming.py`): every module that carries state between chunks derives from
`Streamable`. Its `stream` attribute is None offline; while a stream object runs a chunk it is that
stream's dict for this module (the stream owns the dicts, so several streams can share one model).
Offline forward == streaming from an empty state, so both paths run the same code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations, parametrize


class Streamable:
    """Mixin: `self.stream` is None offline, else this module's carried state (a dict) in a stream."""

    stream: dict | None = None


class Pad1d(Streamable, nn.Module):
    """Pad the time axis of [B, C, T] by (`left`, `right`) samples, zeros or edge replication.

    It feeds a conv of extent `left + right + 1` samples and `stride`. Streaming: the left padding
    is the unconsumed end of the previous chunks (zeros, or the first sample repeated, at the start);
    `right` is not applied (the stream pushes `right` zeros itself at the end of the utterance).
    """

    def __init__(self, left: int, right: int = 0, mode: str = "constant", stride: int = 1) -> None:
        super().__init__()
        if left < 0 or right < 0 or stride < 1:
            raise ValueError(f"padding must be non-negative and stride positive, got ({left}, {right}), {stride}")
        self.left, self.right, self.mode, self.stride = left, right, mode, stride

    @property
    def extent(self) -> int:
        """Input samples one output of the following conv spans (dilation * (kernel - 1) + 1)."""
        return self.left + self.right + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, left + T + right]
        if self.stream is not None:
            return self._continue(x)
        if self.left == 0 and self.right == 0:
            return x
        return F.pad(x, (self.left, self.right), mode=self.mode)

    def _continue(self, x: torch.Tensor) -> torch.Tensor:
        """Streaming: [B, C, t] -> [B, C, carried + t]; keeps what the conv will not consume."""
        tail = self.stream.get("tail")
        if tail is None:  # start of the stream: the offline left padding
            tail = x[..., :1].expand(-1, -1, self.left) if self.mode == "replicate" else x.new_zeros(*x.shape[:-1], self.left)
        buf = torch.cat([tail, x], dim=-1)
        outputs = max(0, (buf.shape[-1] - self.extent) // self.stride + 1)
        self.stream["tail"] = buf[..., outputs * self.stride :]
        return buf

    def allocate(self, like: torch.Tensor, length: int) -> torch.Tensor:
        """An uninitialised [..., left + length] buffer (leading dims and dtype of `like`): a producer
        writes its [..., length] output into buf[..., left:] in place, then `fill_left(buf)` completes
        it (= forward(output), without the copy). Left padding only; `stride` must divide `length`."""
        if self.right:
            raise ValueError("allocate/fill_left support left padding only")
        return like.new_empty(*like.shape[:-1], self.left + length)

    def fill_left(self, buf: torch.Tensor, initial: torch.Tensor | None = None) -> torch.Tensor:
        """Write the left padding into buf [..., left + T]: the carried tail while streaming, else
        `initial` (broadcast) if given, else zeros / the first sample (mode)."""
        tail = None if self.stream is None else self.stream.get("tail")
        if tail is not None:
            buf[..., : self.left] = tail
        elif initial is not None:
            buf[..., : self.left] = initial
        elif self.mode == "replicate":
            buf[..., : self.left] = buf[..., self.left : self.left + 1]
        else:
            buf[..., : self.left] = 0
        if self.stream is not None:
            body = buf.shape[-1] - self.left
            if body % self.stride:
                raise ValueError(f"fill_left needs a length divisible by the stride {self.stride}, got {body}")
            self.stream["tail"] = buf[..., body:]
        return buf

    def extra_repr(self) -> str:
        return f"left={self.left}, right={self.right}, mode={self.mode}, stride={self.stride}"


def conv_padding(kernel_size: int, dilation: int = 1, lookahead: int = 0, stride: int = 1) -> Pad1d:
    """Padding that makes a (strided) conv see `lookahead` steps of the future.

    A causal conv (lookahead 0) is left-padded by dilation * (k - 1); with stride s its output
    has ceil(T / s) steps and step i depends on inputs <= i * s only.
    """
    total = dilation * (kernel_size - 1)
    if lookahead > total:
        raise ValueError(f"lookahead {lookahead} exceeds the receptive field {total} of the conv")
    return Pad1d(total - lookahead, lookahead, stride=stride)


def padded_conv(pad: Pad1d, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """conv(pad(x)); while streaming, [B, C_out, 0] when the chunk completes no output step."""
    buf = pad(x)
    if buf.shape[-1] < pad.extent:
        return buf.new_empty(buf.shape[0], conv.out_channels, 0)
    return conv(buf)


class PaddedConv1d(nn.Module):
    """`pad` then `layer` (a Conv1d); the official encoder's `generator.N.layer` convs."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, lookahead: int = 0) -> None:
        super().__init__()
        self.pad = conv_padding(kernel_size, 1, lookahead, stride)
        self.layer = nn.Conv1d(c_in, c_out, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C_in, T] -> [B, C_out, ceil(T / stride)]
        return padded_conv(self.pad, self.layer, x)


class CausalConvTranspose1d(Streamable, nn.ConvTranspose1d):
    """Transposed conv with no padding that drops its last `kernel - stride` outputs.

    [B, C_in, T] -> [B, C_out, T * stride]; output sample n depends on inputs <= n // stride only.
    Streaming: the `kernel - stride` outputs that overlap the next input steps are carried and
    added to the next chunk's first outputs (offline they are dropped).
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int) -> None:
        super().__init__(c_in, c_out, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose1d(x, self.weight, stride=self.stride)  # [B, C_out, T * stride + overlap], no bias
        keep = x.shape[-1] * self.stride[0]
        if self.stream is not None:
            tail = self.stream.get("tail")
            if tail is not None:
                y[..., : tail.shape[-1]] += tail
            self.stream["tail"] = y[..., keep:]
        y = y[..., :keep]
        return y + self.bias[:, None] if self.bias is not None else y


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
