"""Audio I/O: soundfile to read/write, torchaudio to resample, mono float32 in [-1, 1].

torchaudio.load/save need torchcodec + FFmpeg, which these machines lack; soundfile reads WAV,
FLAC and OGG everywhere. Every failure names the file and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class AudioError(ValueError):
    """A user-facing audio problem: missing, undecodable, empty, non-finite or mis-shaped audio."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    num_samples: int

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


def audio_info(path: str | Path) -> AudioInfo:
    """Header-only probe; raises AudioError for missing or undecodable files."""
    import soundfile as sf

    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file; pass a WAV/FLAC/OGG file")
    if not path.is_file():
        raise AudioError(f"{path}: audio file does not exist")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError subclasses
        raise AudioError(f"{path}: cannot decode audio ({exc}); expected WAV/FLAC/OGG") from exc
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))


MAX_PEAK = 2.0  # float audio may overshoot 1.0 a little (resampling, effects); beyond this it is mis-scaled


def read_audio(
    path: str | Path,
    target_sr: int | None = None,
    *,
    mono: bool = True,
    max_channels: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Read a file as float32 [S] (mono) or [C, S]; resample to `target_sr` when given.

    Multi-channel input is averaged to mono when `mono` (the usual speech-corpus convention);
    `max_channels` rejects inputs with more channels than expected (e.g. 1 for strict corpora).
    Returns (waveform, sample_rate).
    """
    import soundfile as sf

    info = audio_info(path)
    if max_channels is not None and info.channels > max_channels:
        raise AudioError(f"{path}: has {info.channels} channels, at most {max_channels} expected")
    if info.num_samples == 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # [S, C]
    except Exception as exc:
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio is empty (0 samples decoded)")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_PEAK:  # only float files can: integer PCM is read into [-1, 1)
        raise AudioError(f"{path}: samples reach {peak:.3g}, far outside [-1, 1] (integer sample values stored as "
                         "float?); rescale the file to [-1, 1]")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))  # [C, S]
    if mono:
        wav = wav.mean(dim=0)
    if target_sr is not None and target_sr != sr:
        wav = resample(wav, sr, target_sr)
        sr = target_sr
    return wav, sr


def resample(wav: torch.Tensor, orig_sr: int, target_sr: int) -> torch.Tensor:
    """Band-limited resampling along the last dim (torchaudio's sinc interpolation)."""
    if orig_sr == target_sr:
        return wav
    import torchaudio.functional as AF

    return AF.resample(wav, orig_freq=orig_sr, new_freq=target_sr)


def write_audio(path: str | Path, wav: torch.Tensor | np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write [S] or [C, S] audio; float32 WAV by default (no clipping or dithering surprises)."""
    import soundfile as sf

    if isinstance(wav, torch.Tensor):
        wav = wav.detach().to(torch.float32).cpu().numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.T
    elif wav.ndim != 1:
        raise AudioError(f"{path}: cannot write audio of shape {wav.shape}; expected [S] or [C, S]")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, sample_rate, subtype=subtype)
