"""The two judge interfaces every report names: ASR judges (wav -> text) and speaker judges
(wav -> embedding). Implementations import their heavy dependency lazily, in one place each."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from holitok_common.audio import resample

JUDGE_SR = 16000  # every judge here works at 16 kHz; inputs are resampled once, by `to_judge_rate`


class JudgeError(RuntimeError):
    """A judge cannot be loaded or run (missing package, missing weights, bad path)."""


@runtime_checkable
class AsrJudge(Protocol):
    name: str

    def describe(self) -> dict:
        """Name, model path/id, decoding settings, language: goes into every report."""
        ...

    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        """wav: mono float [S] at `sample_rate` Hz -> transcript."""
        ...


@runtime_checkable
class SpeakerJudge(Protocol):
    name: str

    def describe(self) -> dict:
        ...

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """wav: mono float [S] at `sample_rate` Hz -> speaker embedding [E]."""
        ...


def to_judge_rate(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mono float32 [S] at 16 kHz."""
    if wav.dim() != 1:
        raise ValueError(f"judges take mono audio [S], got shape {tuple(wav.shape)}")
    return resample(wav.to(torch.float32), sample_rate, JUDGE_SR)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two embeddings [E]."""
    a, b = a.flatten().to(torch.float64), b.flatten().to(torch.float64)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def speaker_similarity(judge: SpeakerJudge, wav_a: torch.Tensor, sr_a: int, wav_b: torch.Tensor, sr_b: int) -> float:
    return cosine(judge.embed(wav_a, sr_a), judge.embed(wav_b, sr_b))
