"""Paraformer-zh through FunASR: the Seed-TTS-eval zh judge (optional extra: pip install funasr).

As seed-tts-eval does: `AutoModel(model=...)`, `generate(input=audio, batch_size_s=300)`, take
`res[0]["text"]`. The traditional -> simplified conversion is part of the seedtts-zh protocol
(eval/normalize.py), so it is applied whichever judge produced the hypothesis.
"""

from __future__ import annotations

import torch

from eval.judges.base import JudgeError, to_judge_rate

DEFAULT_MODEL = "paraformer-zh"


class ParaformerJudge:
    def __init__(self, model: str = DEFAULT_MODEL, language: str = "zh", device: str = "cpu"):
        if language != "zh":
            raise JudgeError(f"paraformer-zh is a Chinese judge; it cannot judge language {language!r}")
        try:
            from funasr import AutoModel
        except ImportError as exc:
            raise JudgeError(
                "the paraformer-zh judge needs FunASR, which is not installed: pip install funasr "
                "(and a local model directory on offline machines: --asr-judge paraformer-zh:/path/to/model). "
                "A weaker offline alternative is --asr-judge whisper-base-offline"
            ) from exc
        self.model_id = model
        self.language = language
        self.device = str(device)
        self.name = "paraformer-zh"
        self.model = AutoModel(model=model, device=self.device, disable_update=True)

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": "asr", "backend": "funasr AutoModel", "model": self.model_id,
            "language": self.language, "device": self.device, "decoding": "funasr default (batch_size_s=300)",
        }

    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        audio = to_judge_rate(wav, sample_rate).numpy()
        res = self.model.generate(input=audio, batch_size_s=300)
        return str(res[0]["text"]).strip() if res else ""
