"""BigVGAN's discriminators: multi-period (MPD, HiFi-GAN) + multi-resolution STFT (MRD, UnivNet).

The paper does not publish its discriminators; BigVGAN's pair is the natural choice (SPEC.md).
Both take wav [B, S] and return per-sub-discriminator logits and feature maps (for feature
matching). Convs are weight-normalised as in BigVGAN. `channels` scales the widths (BigVGAN's
MPD uses 32, 128, 512, 1024, 1024; MRD 32).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


@dataclass
class DiscriminatorConfig:
    """periods for MPD; MRD resolutions as STFT window lengths in seconds (hop = window / 4 ... as
    BigVGAN: (1024, 120, 600), (2048, 240, 1200), (512, 50, 240) at 24 kHz ~ windows 25/50/10 ms)."""

    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    mpd_channels: list[int] = field(default_factory=lambda: [32, 128, 512, 1024, 1024])
    mrd_windows_s: list[float] = field(default_factory=lambda: [0.025, 0.05, 0.01])
    mrd_channels: int = 32


@dataclass
class DiscriminatorOutput:
    """logits: one tensor per sub-discriminator; features: their intermediate maps (same order)."""

    logits: list[torch.Tensor]
    features: list[list[torch.Tensor]]


class PeriodDiscriminator(nn.Module):
    """wav [B, S] -> reshape [B, 1, S / p, p] -> 2-D convs with kernel (5, 1), stride (3, 1)."""

    def __init__(self, period: int, channels: list[int]) -> None:
        super().__init__()
        self.period = period
        widths = [1, *channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(cin, cout, (5, 1), (3 if i < len(channels) - 1 else 1, 1), padding=(2, 0)))
            for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        pad = (-wav.shape[-1]) % self.period
        x = F.pad(wav[:, None, :], (0, pad), mode="reflect" if pad < wav.shape[-1] else "constant")
        x = x.view(x.shape[0], 1, -1, self.period)  # [B, 1, S / p, p]
        return _conv_stack(x, self.convs, self.post)


def _conv_stack(x: torch.Tensor, convs: nn.ModuleList, post: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Shared body of both discriminators: LeakyReLU(0.1) convs, then `post`; returns the flattened
    logits [B, N] and every layer's output (the feature-matching targets)."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class ResolutionDiscriminator(nn.Module):
    """wav [B, S] -> |STFT| [B, 1, frames, bins] -> 2-D convs (UnivNet / BigVGAN DiscriminatorR)."""

    def __init__(self, n_fft: int, channels: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, max(1, n_fft // 4)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
            ]
        )
        self.post = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wav.float(), self.n_fft, self.hop, window=self.window, center=True, return_complex=True)
        x = spec.abs().transpose(1, 2)[:, None]  # [B, 1, frames, bins]
        return _conv_stack(x, self.convs, self.post)


class Discriminators(nn.Module):
    """MPD + MRD as one module: wav [B, S] -> DiscriminatorOutput over all sub-discriminators."""

    def __init__(self, sample_rate: int, cfg: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.subs = nn.ModuleList(PeriodDiscriminator(p, cfg.mpd_channels) for p in cfg.periods)
        for window_s in cfg.mrd_windows_s:
            self.subs.append(ResolutionDiscriminator(max(16, round(window_s * sample_rate)), cfg.mrd_channels))

    def forward(self, wav: torch.Tensor) -> DiscriminatorOutput:
        logits, features = [], []
        for sub in self.subs:
            lg, ft = sub(wav)
            logits.append(lg)
            features.append(ft)
        return DiscriminatorOutput(logits, features)
