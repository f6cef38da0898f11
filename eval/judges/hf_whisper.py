"""Whisper checkpoints in Hugging Face format (`openai/whisper-large-v3` or a local directory).

This is the Seed-TTS-eval en judge: whisper-large-v3, greedy, language forced. We call
`model.generate` directly (num_beams=1, do_sample=False, task "transcribe", forced language).
Audio longer than 30 s goes through transformers' sequential long-form path (truncation=False).
Hub ids need network access to download once; offline machines pass a local directory.
"""

from __future__ import annotations

from pathlib import Path

import torch

from eval.judges.base import JUDGE_SR, JudgeError, to_judge_rate

LANG_NAMES = {"en": "english", "zh": "chinese"}


class HFWhisperJudge:
    def __init__(self, model_id: str, language: str, device: str = "cpu"):
        try:
            from transformers import WhisperForConditionalGeneration, WhisperProcessor
        except ImportError as exc:
            raise JudgeError("transformers is required for HF Whisper judges") from exc
        self.model_id = model_id
        self.language = language
        self.device = device
        self.name = f"hf-whisper:{Path(model_id).name if Path(model_id).exists() else model_id}"
        # fp16 on CUDA (as the reference scripts do), fp32 on CPU.
        self.dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
        try:
            self.processor = WhisperProcessor.from_pretrained(model_id)
            self.model = WhisperForConditionalGeneration.from_pretrained(model_id, dtype=self.dtype)
        except OSError as exc:
            raise JudgeError(
                f"cannot load the Whisper checkpoint {model_id!r} ({exc}). Offline machines must pass a local "
                "directory holding config.json, model weights and the processor files"
            ) from exc
        self.model.to(device).eval()

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": "asr", "backend": "transformers WhisperForConditionalGeneration",
            "model": self.model_id, "language": self.language, "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "decoding": "greedy (num_beams=1, do_sample=False), language forced, task=transcribe",
        }

    @torch.inference_mode()
    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        audio = to_judge_rate(wav, sample_rate).numpy()
        long_form = len(audio) > 30 * JUDGE_SR
        kwargs = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long_form else {}
        inputs = self.processor(audio, sampling_rate=JUDGE_SR, return_tensors="pt", **kwargs)
        features = inputs.input_features.to(self.device, self.dtype)
        gen_kwargs = {"attention_mask": inputs.attention_mask.to(self.device)} if long_form else {}
        ids = self.model.generate(
            features, language=LANG_NAMES.get(self.language, self.language), task="transcribe",
            num_beams=1, do_sample=False, **gen_kwargs,
        )
        return self.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
