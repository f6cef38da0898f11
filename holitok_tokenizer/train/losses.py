"""Reconstruction, adversarial and feature-matching losses of tokenizer training.

Multi-scale mel L1 (SPEC: weight 45): L1 between log-mel spectrograms (natural log, magnitudes
clamped at `floor`, default 1e-5) at several STFT resolutions, averaged over resolutions. Resolutions are given as
window lengths in seconds so that one list serves 16 kHz (tiny) and 48 kHz: the default
(0.008, 0.016, 0.032, 0.064, 0.128) s with hop = window / 4, n_fft = window, and
(10, 20, 40, 80, 128) mel bands (fmin 0, fmax Nyquist); at 48 kHz that is n_fft 384 ... 6144.
Short windows pin down transients, long ones pitch harmonics (as in DAC / Vocos multi-scale mel).

GAN losses are least-squares (BigVGAN / HiFi-GAN): generator sum_d mean((1 - D(G(x)))^2);
discriminator sum_d mean((1 - D(x))^2) + mean(D(G(x))^2); feature matching
sum_d sum_layers mean |f_d(x) - f_d(G(x))| (HiFi-GAN's sum; lambda_fm = 2 is calibrated to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MelLossConfig:
    """Window lengths (seconds) and mel bands per resolution (equal-length lists); `floor`: the mel
    magnitude clamp before the log (1e-5 as in DAC / the paper; a higher floor stops digital silence
    in the data from dominating the L1 of a small, quiet-audio model)."""

    windows_s: list[float] = field(default_factory=lambda: [0.008, 0.016, 0.032, 0.064, 0.128])
    n_mels: list[int] = field(default_factory=lambda: [10, 20, 40, 80, 128])
    floor: float = 1e-5


class MultiScaleMelLoss(nn.Module):
    """L1 of log-mel spectrograms averaged over resolutions; inputs wav [B, S] at `sample_rate`."""

    def __init__(self, sample_rate: int, cfg: MelLossConfig = MelLossConfig()) -> None:
        super().__init__()
        import torchaudio

        if len(cfg.windows_s) != len(cfg.n_mels):
            raise ValueError("mel loss: windows_s and n_mels need the same length")
        if cfg.floor <= 0:
            raise ValueError("mel loss: floor must be positive")
        self.sample_rate, self.floor = sample_rate, cfg.floor
        self.mels = nn.ModuleList()
        for window_s, n_mels in zip(cfg.windows_s, cfg.n_mels):
            n_fft = max(16, round(window_s * sample_rate))
            self.mels.append(
                torchaudio.transforms.MelSpectrogram(
                    sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, power=1.0, center=True,
                    norm="slaney", mel_scale="slaney",
                )
            )

    def log_mels(self, wav: torch.Tensor) -> list[torch.Tensor]:
        """wav [B, S] -> list of log-mel [B, n_mels, frames], one per resolution (float32)."""
        wav = wav.float()
        return [mel(wav).clamp(min=self.floor).log() for mel in self.mels]

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Scalar loss; fake/real [B, S] (padding must be zeroed in both)."""
        losses = [F.l1_loss(f, r) for f, r in zip(self.log_mels(fake), self.log_mels(real))]
        return torch.stack(losses).mean()


def generator_adversarial_loss(fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares generator loss: sum over discriminators of mean((1 - D(G(x)))^2)."""
    return sum(((1 - logits.float()) ** 2).mean() for logits in fake_logits)


def discriminator_loss(real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares discriminator loss: sum_d mean((1 - D(x))^2) + mean(D(G(x))^2)."""
    total = 0.0
    for real, fake in zip(real_logits, fake_logits, strict=True):
        total = total + ((1 - real.float()) ** 2).mean() + (fake.float() ** 2).mean()
    return total


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]], fake_features: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """sum over discriminators and layers of mean |f(x) - f(G(x))|; real features are constants."""
    total = 0.0
    for real_maps, fake_maps in zip(real_features, fake_features, strict=True):
        for real, fake in zip(real_maps, fake_maps, strict=True):
            total = total + (real.detach().float() - fake.float()).abs().mean()
    return total


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of values [B, T] over positions where mask [B, T] is True (0 if none)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def cosine_distance(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """1 - cos over the last dim, averaged over [B, T] (masked) or [B]; teacher is a constant."""
    dist = 1 - F.cosine_similarity(student.float(), teacher.detach().float(), dim=-1, eps=1e-6)
    return dist.mean() if mask is None else masked_mean(dist, mask)
