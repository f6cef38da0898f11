"""Synthesise one utterance with one engine and store it as 16 kHz mono 16-bit FLAC.

Post-processing (deterministic, float32 on CPU): resample to the corpus rate, trim leading and
trailing silence (keeping `PAD_S` seconds), scale to an RMS of `TARGET_RMS` with the peak capped
at `PEAK` (about -1 dBFS). Every engine here is deterministic (checked by the corpus test).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from holitok_common.audio import read_audio, write_audio
from holitok_common.data.engines import VoiceSpec

PAD_S = 0.15  # seconds of silence kept before and after speech
SILENCE_DB = -45.0  # relative to the peak: quieter samples at the edges count as silence
TARGET_RMS = 0.06  # about -24.4 dBFS
PEAK = 0.89  # about -1 dBFS


class SynthesisError(RuntimeError):
    """An engine failed on one utterance (message names voice, text and the engine's stderr)."""


def engine_command(voice: VoiceSpec, text: str, wav_path: Path) -> tuple[list[str], str | None]:
    """(argv, stdin text) that makes `voice` say `text` into `wav_path`."""
    if voice.engine in ("espeak-ng", "mbrola"):
        return ["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "-w", str(wav_path), "--", text], None
    if voice.engine == "flite":
        return ["flite", "-voice", voice.name, "-t", text, "-o", str(wav_path)], None
    if voice.engine == "festival":
        return ["text2wave", "-eval", f"(voice_{voice.name})", "-o", str(wav_path)], text + "\n"
    if voice.engine == "pico":
        return ["pico2wave", "-l", voice.name, "-w", str(wav_path), "--", text], None
    if voice.engine == "rhvoice":
        return ["RHVoice-test", "-p", voice.name, "-o", str(wav_path)], text + "\n"
    raise SynthesisError(f"unknown engine {voice.engine!r} for voice {voice.voice_id}")


def postprocess(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """[S] float32 -> trimmed, loudness-normalised [S'] float32."""
    peak = wav.abs().max().item()
    if peak <= 0:
        return wav
    loud = (wav.abs() > peak * 10 ** (SILENCE_DB / 20)).nonzero().flatten()
    pad = int(PAD_S * sample_rate)
    start, end = max(0, int(loud[0]) - pad), min(wav.numel(), int(loud[-1]) + 1 + pad)
    wav = wav[start:end]
    rms = wav.pow(2).mean().sqrt().item()
    gain = min(TARGET_RMS / max(rms, 1e-8), PEAK / peak)
    return wav * gain


@dataclass(frozen=True)
class SynthJob:
    voice: VoiceSpec
    text: str
    out_path: Path  # the final .flac
    sample_rate: int


def synthesize(job: SynthJob) -> int:
    """Run one job; returns the stored number of samples. Raises SynthesisError on failure."""
    tmp = job.out_path.with_suffix(".tmp.wav")
    job.out_path.parent.mkdir(parents=True, exist_ok=True)
    argv, stdin = engine_command(job.voice, job.text, tmp)
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
            raise SynthesisError(f"{job.voice.voice_id}: engine failed on {job.text!r} "
                                 f"(exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
        wav, _ = read_audio(tmp, target_sr=job.sample_rate)
    finally:
        tmp.unlink(missing_ok=True)
    wav = postprocess(wav, job.sample_rate)
    write_audio(job.out_path, wav, job.sample_rate, subtype="PCM_16")
    return wav.numel()


def synthesize_safe(job: SynthJob) -> tuple[int, str | None]:
    """Pool-friendly: (num_samples, None) or (0, error message)."""
    torch.set_num_threads(1)
    try:
        return synthesize(job), None
    except Exception as exc:  # reported by the caller, never dropped silently
        return 0, f"{type(exc).__name__}: {exc}"
