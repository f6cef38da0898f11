"""Signal metrics for reconstruction: PESQ (NB/WB), STOI, log-mel L1 distance, bitrates.

Definitions (also written into every reconstruction report):
- PESQ NB: ITU-T P.862 (the `pesq` package, mode "nb") on both signals resampled to 8 kHz.
- PESQ WB: P.862.2 (mode "wb") on both signals resampled to 16 kHz.
- STOI: classic STOI (pystoi, extended=False) on 16 kHz signals; pystoi resamples to 10 kHz itself.
- mel distance: mean |log10(max(mel_ref, 1e-5)) - log10(max(mel_rec, 1e-5))| over bins and frames,
  magnitude (power 1) mel spectrogram at the tokenizer's sample rate with MEL_CONFIG below.
- compression ratio: (sample_rate x 16 bit) PCM bits/s over (frame_rate x latent_dim x 32 bit)
  float latent bits/s; tokens/s = frame_rate (latent frames per second).
Signals are compared over their common length (the decoder may pad to whole frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from holitok_common.audio import resample


@dataclass(frozen=True)
class MelConfig:
    n_fft: int = 2048
    win_length: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = None  # None = Nyquist of the signal's rate
    power: float = 1.0
    log_floor: float = 1e-5


MEL_CONFIG = MelConfig()


def common_length(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(a.shape[-1], b.shape[-1])
    return a[..., :n], b[..., :n]


def pesq_score(ref: torch.Tensor, deg: torch.Tensor, sample_rate: int, mode: str) -> float:
    """PESQ of mono [S] signals at `sample_rate`; mode "nb" (8 kHz) or "wb" (16 kHz)."""
    from pesq import pesq

    fs = 8000 if mode == "nb" else 16000
    if not ref.abs().max() > 0 or not deg.abs().max() > 0:
        raise ValueError("a signal is all zeros; PESQ is undefined for silence")
    ref, deg = common_length(resample(ref, sample_rate, fs), resample(deg, sample_rate, fs))
    return float(pesq(fs, ref.double().numpy(), deg.double().numpy(), mode))


def stoi_score(ref: torch.Tensor, deg: torch.Tensor, sample_rate: int) -> float:
    from pystoi import stoi

    ref, deg = common_length(resample(ref, sample_rate, 16000), resample(deg, sample_rate, 16000))
    return float(stoi(ref.double().numpy(), deg.double().numpy(), 16000, extended=False))


def log_mel(wav: torch.Tensor, sample_rate: int, cfg: MelConfig = MEL_CONFIG) -> torch.Tensor:
    """[S] -> log10 mel magnitudes [n_mels, frames]."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
        n_mels=cfg.n_mels, f_min=cfg.f_min, f_max=cfg.f_max, power=cfg.power,
    )(wav.to(torch.float32))
    return torch.log10(mel.clamp_min(cfg.log_floor))


def mel_distance(ref: torch.Tensor, deg: torch.Tensor, sample_rate: int, cfg: MelConfig = MEL_CONFIG) -> float:
    ref, deg = common_length(ref, deg)
    return float((log_mel(ref, sample_rate, cfg) - log_mel(deg, sample_rate, cfg)).abs().mean())


@dataclass(frozen=True)
class Bitrates:
    tokens_per_s: float
    input_bits_per_s: float
    latent_bits_per_s: float
    compression_ratio: float


def bitrates(sample_rate: int, frame_rate: float, latent_dim: int) -> Bitrates:
    pcm = sample_rate * 16.0
    latent = frame_rate * latent_dim * 32.0
    return Bitrates(float(frame_rate), pcm, latent, pcm / latent)


def mel_config_dict() -> dict:
    return {**asdict(MEL_CONFIG), "sample_rate": "tokenizer sample rate", "scale": "torchaudio defaults (htk, no norm)"}
