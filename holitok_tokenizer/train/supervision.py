"""Stage-III enrichment: frame-level WavLM distillation, utterance-level speaker distillation and
task-prompted LM supervision. The trainable heads live here; the frozen teachers in teachers.py.

Shapes: latents [B, T, D] at the tokenizer's frame rate (25 Hz), frame_mask [B, T] bool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from holitok_tokenizer.train.losses import cosine_distance


def match_frames(features: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Linear time interpolation [B, T_teacher, C] -> [B, num_frames, C] (50 Hz -> 25 Hz)."""
    x = F.interpolate(features.float().transpose(1, 2), size=num_frames, mode="linear", align_corners=False)
    return x.transpose(1, 2)


class FrameDistillHead(nn.Module):
    """Projection latents D -> teacher dim; loss = 1 - cos vs time-interpolated teacher features."""

    def __init__(self, latent_dim: int, teacher_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(latent_dim, teacher_dim)

    def forward(self, latents: torch.Tensor, teacher: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """latents [B, T, D]; teacher [B, T_teacher, C] -> scalar."""
        target = match_frames(teacher, latents.shape[1])
        return cosine_distance(self.proj(latents), target, frame_mask)


class UtteranceDistillHead(nn.Module):
    """Masked mean-pool of latents over time, projection D -> E; loss = 1 - cos vs teacher [B, E]."""

    def __init__(self, latent_dim: int, teacher_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(latent_dim, teacher_dim)

    def forward(self, latents: torch.Tensor, teacher: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        mask = frame_mask[:, :, None].to(latents.dtype)
        pooled = (latents * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # [B, D]
        return cosine_distance(self.proj(pooled), teacher)


DEFAULT_PROMPTS = {
    "asr": "Transcribe the speech.",
    "emotion": "What is the speaker's emotion?",
    "caption": "Describe the audio.",
    "sound": "Which sound events occur?",
}


@dataclass
class LMSupervisionConfig:
    """The causal Transformer over latents (paper: 24 layers, width 1536, FFN 6144) and the prompts."""

    layers: int = 24
    width: int = 1536
    ffn: int = 6144
    heads: int = 16
    train_lm: bool = False  # the decoder LM is frozen by default; gradients still reach the latents
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))  # task -> prompt

    def validate(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"lm_supervision.width {self.width} must be divisible by heads {self.heads}")


class LMSupervision(nn.Module):
    """latents -> causal Transformer -> projection to the LM's width -> [audio][prompt][target][eos].

    Cross-entropy on target + eos tokens only. One LM pass per task present in `labels`
    (task -> one label per item, None where an item has none); the mean over tasks is returned.
    """

    def __init__(self, latent_dim: int, cfg: LMSupervisionConfig, lm: nn.Module, tokenizer: Any) -> None:
        super().__init__()
        self.cfg, self.lm, self.tokenizer = cfg, lm, tokenizer
        self.inp = nn.Linear(latent_dim, cfg.width)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, cfg.ffn, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out = nn.Linear(cfg.width, lm.config.hidden_size)

    def encode(self, latents: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, H_lm] (causal: frame t sees frames <= t)."""
        steps = latents.shape[1]
        causal = torch.ones(steps, steps, dtype=torch.bool, device=latents.device).triu(1)  # True = masked
        return self.out(self.encoder(self.inp(latents), mask=causal, is_causal=True))

    def forward(
        self, latents: torch.Tensor, frame_lengths: torch.Tensor, labels: Mapping[str, Sequence[str | None]]
    ) -> torch.Tensor:
        audio = self.encode(latents)
        losses = [self._task_loss(audio, frame_lengths, task, texts) for task, texts in labels.items()]
        losses = [x for x in losses if x is not None]
        if losses:
            return torch.stack(losses).mean()
        # no labelled item in this batch: a zero that still touches every trainable parameter, so
        # DDP's reducer sees the same parameter set every step
        return sum((p.sum() * 0.0 for p in self.parameters() if p.requires_grad), latents.sum() * 0.0)

    def _task_loss(
        self, audio: torch.Tensor, frame_lengths: torch.Tensor, task: str, texts: Sequence[str | None]
    ) -> torch.Tensor | None:
        embed = self.lm.get_input_embeddings()
        prompt = self.tokenizer.encode(self.cfg.prompts[task], add_special_tokens=False)
        rows, targets = [], []
        for i, text in enumerate(texts):
            if text is None:
                continue
            target = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]
            ids = torch.tensor(prompt + target, device=audio.device)
            rows.append(torch.cat([audio[i, : int(frame_lengths[i])], embed(ids).to(audio.dtype)]))
            labels = torch.full((rows[-1].shape[0],), -100, device=audio.device)
            labels[-len(target) :] = ids[len(prompt) :]
            targets.append(labels)
        if not rows:
            return None
        inputs = nn.utils.rnn.pad_sequence(rows, batch_first=True)  # [B', L, H]
        label_ids = nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=-100)
        mask = nn.utils.rnn.pad_sequence([torch.ones(len(r), device=audio.device) for r in rows], batch_first=True)
        out = self.lm(inputs_embeds=inputs, attention_mask=mask.long(), labels=label_ids)
        return out.loss
