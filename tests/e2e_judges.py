"""Fast deterministic stand-ins for the offline judges, for wiring tests that run `holitok-eval` as a
command: pass `--asr-judge python:e2e_judges:asr --sim-judge python:e2e_judges:sim` with tests/ on
PYTHONPATH. They exercise every code path around a judge (loading, reading wavs, scoring, reports),
not its quality: the real Whisper / resemblyzer are too slow for the default suite."""

from __future__ import annotations

import torch

from eval.judges.base import to_judge_rate

WORDS = ("the", "a", "man", "boat", "leaves", "at", "eight", "in", "dallas", "red")


class DurationAsr:
    """One word per started half-second of audio, from a fixed list: a deterministic transcript."""

    name = "fake-duration-asr"

    def describe(self) -> dict:
        return {"name": self.name, "kind": "asr", "note": "test stand-in; not a real judge"}

    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        n = max(1, int(wav.shape[-1] / sample_rate / 0.5) + 1)
        return " ".join(WORDS[i % len(WORDS)] for i in range(n))


class BandEnergySim:
    """Embedding = mean log energy in 16 linear frequency bands of the 16 kHz signal [16]."""

    name = "fake-band-energy-sim"

    def describe(self) -> dict:
        return {"name": self.name, "kind": "speaker", "note": "test stand-in; not a real judge"}

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        x = to_judge_rate(wav, sample_rate)
        spec = torch.stft(x, 512, 256, window=torch.hann_window(512), return_complex=True).abs() ** 2  # [257, F]
        bands = spec[:256].reshape(16, 16, -1).sum(1)  # [16, F]
        return torch.log(bands.mean(-1) + 1e-8)


def asr(language: str, device: str) -> DurationAsr:
    return DurationAsr()


def sim(device: str) -> BandEnergySim:
    return BandEnergySim()
