"""Speaker-similarity judges: embeddings whose cosine is the SIM score.

- "wavlm-ecapa" (a local path is required): a WavLMForXVector checkpoint in Hugging Face format
  (e.g. a copy of `microsoft/wavlm-base-plus-sv`), 16 kHz, its feature extractor's normalisation.
  NOTE: Seed-TTS-eval's official SIM model is UniSpeech's WavLM-Large + ECAPA-TDNN (`.pth`), which is
  not a transformers checkpoint; scores from an HF x-vector model are comparable only with each other.
  The report names the exact checkpoint directory.
- "resemblyzer" (offline default): resemblyzer's GE2E LSTM encoder (weights ship in the package).
  A different judge with a different scale (same speaker ~0.86-0.93, different ~0.40-0.71 here);
  never compare its numbers with WavLM-based SIM. Input goes through resemblyzer's own
  `preprocess_wav` (volume normalisation + long-silence trimming with webrtcvad), as its authors use it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from eval.judges.base import JUDGE_SR, JudgeError, to_judge_rate


class ResemblyzerJudge:
    name = "resemblyzer"

    def __init__(self, device: str = "cpu"):
        try:
            with warnings.catch_warnings():  # resemblyzer/webrtcvad import deprecated scipy/pkg_resources APIs
                warnings.simplefilter("ignore", (UserWarning, DeprecationWarning))
                from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError as exc:
            raise JudgeError(
                f"the resemblyzer judge cannot be imported ({exc}); pip install resemblyzer 'setuptools<81' "
                "(it imports pkg_resources)"
            ) from exc
        self._preprocess = preprocess_wav
        self.device = str(device)
        self.encoder = VoiceEncoder(device=self.device, verbose=False)

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": "speaker", "backend": "resemblyzer VoiceEncoder (GE2E, 256-d)",
            "model": "weights shipped in the resemblyzer package", "sample_rate": JUDGE_SR,
            "note": "NOT the Seed-TTS WavLM-Large+ECAPA-TDNN judge; scale differs, compare only with resemblyzer SIM",
        }

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        audio = self._preprocess(to_judge_rate(wav, sample_rate).numpy(), source_sr=JUDGE_SR)
        if len(audio) == 0:
            raise JudgeError("resemblyzer found no voiced audio (the waveform is silent after VAD trimming)")
        return torch.from_numpy(self.encoder.embed_utterance(audio))


class WavLMXVectorJudge:
    def __init__(self, model_dir: str | Path, device: str = "cpu"):
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise JudgeError(
                f"wavlm-ecapa: {self.model_dir} is not a Hugging Face model directory (no config.json); "
                "pass a local copy of a WavLMForXVector checkpoint such as microsoft/wavlm-base-plus-sv"
            )
        from transformers import AutoFeatureExtractor, WavLMForXVector

        self.name = f"wavlm-ecapa:{self.model_dir.name}"
        self.device = device
        self.extractor = AutoFeatureExtractor.from_pretrained(str(self.model_dir))
        self.model = WavLMForXVector.from_pretrained(str(self.model_dir)).to(device).eval()

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": "speaker", "backend": "transformers WavLMForXVector",
            "model": str(self.model_dir), "sample_rate": JUDGE_SR,
            "note": "HF x-vector checkpoint; the official Seed-TTS SIM uses UniSpeech WavLM-Large+ECAPA-TDNN",
        }

    @torch.inference_mode()
    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        audio = to_judge_rate(wav, sample_rate).numpy()
        inputs = self.extractor(audio, sampling_rate=JUDGE_SR, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return self.model(**inputs).embeddings[0].float().cpu()  # [E]
