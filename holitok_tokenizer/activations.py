"""Anti-aliased SnakeBeta activation (BigVGAN's alias-free "Activation1d"), causal variant.

x [B, C, T] -> 2x upsample -> SnakeBeta -> 2x low-pass + decimate -> [B, C, T].
Resampling follows the alias-free GAN recipe (Karras et al. 2021; BigVGAN, Lee et al. 2023): a
Kaiser-windowed sinc low-pass with cutoff 0.5 / ratio and transition half-width 0.6 / ratio.
Causal: the upsampler is a transposed conv with no padding whose last `taps - ratio` outputs are
dropped, the downsampler left-pads by `taps - 1` with edge replication. The official runtime names
its submodules `act`, `upsample.filter`, `downsample.lowpass.filter`; ours are the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from holitok_tokenizer.layers import Pad1d


def kaiser_beta(taps: int, half_width: float) -> float:
    """Kaiser window beta for the attenuation A of a `taps`-long filter of transition `half_width`.

    A = 2.285 * (taps/2 - 1) * pi * (4 * half_width) + 7.95 dB (Kaiser's order formula solved for A),
    beta from Kaiser's empirical fit (A > 50, 21 <= A <= 50, A < 21).
    """
    attenuation = 2.285 * (taps // 2 - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21.0:
        return 0.5842 * (attenuation - 21.0) ** 0.4 + 0.07886 * (attenuation - 21.0)
    return 0.0


def kaiser_sinc_filter(taps: int, cutoff: float, half_width: float) -> torch.Tensor:
    """Low-pass FIR [taps] (cutoff in cycles/sample, 0.5 = Nyquist), taps summing to 1.

    Even lengths put the taps at half-integer times -taps/2 + 0.5, ..., taps/2 - 0.5 (a symmetric
    filter with its centre between two samples); odd lengths at integer times.
    """
    # float32 throughout: bit-identical to the buffers stored in the official checkpoints
    window = torch.kaiser_window(taps, periodic=False, beta=kaiser_beta(taps, half_width), dtype=torch.float32)
    if taps % 2 == 0:
        time = torch.arange(-(taps // 2), taps // 2, dtype=torch.float32) + 0.5
    else:
        time = torch.arange(taps, dtype=torch.float32) - taps // 2
    response = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return response / response.sum()


class SnakeBeta(nn.Module):
    """x + 1 / (exp(beta) + 1e-9) * sin(exp(alpha) * x)^2; alpha, beta [C] in log scale, init 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T]
        alpha = self.alpha.exp()[None, :, None]  # [1, C, 1]
        beta = self.beta.exp()[None, :, None]
        return x + (1.0 / (beta + 1e-9)) * torch.sin(x * alpha).pow(2)


def _filter_tensor(channels: int, taps: int, learnable: bool) -> torch.Tensor:
    """[1, 1, taps] shared fixed filter, or [C, 1, taps] per-channel copies when learnable."""
    base = kaiser_sinc_filter(taps, cutoff=0.25, half_width=0.3).view(1, 1, taps)
    return base.repeat(channels, 1, 1) if learnable else base


def _register_filter(module: nn.Module, channels: int, taps: int, learnable: bool) -> None:
    value = _filter_tensor(channels, taps, learnable)
    if learnable:
        module.filter = nn.Parameter(value)
    else:
        module.register_buffer("filter", value)


class UpSample2x(nn.Module):
    """Causal 2x band-limited upsampling: [B, C, T] -> [B, C, 2T]; `filter` [1 or C, 1, taps]."""

    ratio = 2

    def __init__(self, channels: int, taps: int = 12, learnable: bool = False) -> None:
        super().__init__()
        self.channels, self.taps = channels, taps
        _register_filter(self, channels, taps, learnable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.filter.expand(self.channels, 1, self.taps)
        y = F.conv_transpose1d(x, weight, stride=self.ratio, groups=self.channels)  # [B, C, 2T + taps - 2]
        # the interpolated signal has 1/ratio of the energy per sample: scale back by ratio
        return self.ratio * y[..., : y.shape[-1] - (self.taps - self.ratio)]


class LowPassFilter1d(nn.Module):
    """Causal low-pass + stride-2 decimation: [B, C, 2T] -> [B, C, T]; `filter` [1 or C, 1, taps]."""

    stride = 2

    def __init__(self, channels: int, taps: int = 12, learnable: bool = False) -> None:
        super().__init__()
        self.channels, self.taps = channels, taps
        self.pad = Pad1d(taps - 1, 0, mode="replicate")
        _register_filter(self, channels, taps, learnable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.filter.expand(self.channels, 1, self.taps)
        return F.conv1d(self.pad(x), weight, stride=self.stride, groups=self.channels)


class DownSample2x(nn.Module):
    """Holds the low-pass as `lowpass` (the official name `downsample.lowpass.filter`)."""

    def __init__(self, channels: int, taps: int = 12, learnable: bool = False) -> None:
        super().__init__()
        self.lowpass = LowPassFilter1d(channels, taps, learnable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, 2T] -> [B, C, T]
        return self.lowpass(x)


class AntiAliasedSnakeBeta(nn.Module):
    """upsample 2x -> SnakeBeta -> downsample 2x; [B, C, T] -> [B, C, T], causal.

    `learnable_filter`: per-channel trainable filters [C, 1, taps] (the decoder's final activation);
    otherwise one fixed buffer [1, 1, taps] shared by all channels (the AMP blocks).
    """

    def __init__(self, channels: int, taps: int = 12, learnable_filter: bool = False) -> None:
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample2x(channels, taps, learnable_filter)
        self.downsample = DownSample2x(channels, taps, learnable_filter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))
