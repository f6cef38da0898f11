"""PromptVoice: a global voice vector of a TTS row from its voice prompt (cfg.voice.enabled).

The statistics of the prompt's normalised latents over its real frames, mean and standard
deviation per channel ([2D]; a tokenizer latent's per-utterance mean and spread carry the
speaker's timbre and loudness, as the channel statistics of a reference encoder do), projected to
the DiT condition width H and added to the condition of every target patch of the row
(UnifiedLM._flow_inputs in training, TTSEngine.steps in generation, the same function).

A row without a prompt (no prompt frames) gets zero statistics, i.e. the projection's bias: the
"no voice given" vector. The projection starts at zero, so switching the voice on changes nothing
until training moves it.
"""

from __future__ import annotations

import torch
from torch import nn


class PromptVoice(nn.Module):
    """[B, Na, P, D] normalised patches + [B, Na, P] prompt-frame mask -> voice vectors [B, H]."""

    def __init__(self, latent_dim: int, hidden: int):
        super().__init__()
        self.proj = nn.Linear(2 * latent_dim, hidden)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    @staticmethod
    def statistics(z: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Per-row mean and standard deviation over the masked frames, float32 [B, 2D] (zeros for a
        row with no frame; masked-out frames, whatever they hold, never enter)."""
        z = torch.where(frames[..., None], z.float(), torch.zeros((), dtype=torch.float32, device=z.device))
        count = frames.sum(dim=(1, 2)).float()  # [B]
        n = count.clamp(min=1.0)[:, None]  # [B, 1]
        mean = z.sum(dim=(1, 2)) / n  # [B, D]
        centred = torch.where(frames[..., None], z - mean[:, None, None], torch.zeros_like(z))
        var = centred.pow(2).sum(dim=(1, 2)) / n  # [B, D]
        std = torch.sqrt(var + 1e-6) * (count > 0).float()[:, None]  # [B, D]: zero without frames
        return torch.cat([mean, std], dim=-1)  # [B, 2D]

    def forward(self, z: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        return self.proj(self.statistics(z, frames).to(self.proj.weight.dtype))  # [B, H]
