"""Character CTC on the latents: an ASR-aware auxiliary loss for tokenizer training (`loss.ctc`).

Not in the paper (its latents learn content only in stage III, from a frozen LLM). A small head
reads the latents [B, T, D] and predicts characters with CTC, so the encoder is pushed to keep
what distinguishes words, not only what lowers the mel L1. Off by default and in the tiny recipe:
on the tiny corpus it did not make the held-out resyntheses more intelligible (docs/tts_diagnosis.md,
session 13). The head is training-only: it is saved with the generator, never exported with the
tokenizer.

Labels need whole utterances: the trainer passes the transcript of an item only when the item was
not cropped (`data.crop_seconds` >= its duration), None otherwise; items without a label (or whose
transcript has no character of the vocabulary) are left out of the loss. The head emits `upsample` character slots per latent frame (2: 50 Hz),
so that fast speech still has more slots than characters.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from holitok_common.numbers_en import cardinal

BLANK = 0
CHARS = " 'abcdefghijklmnopqrstuvwxyz"  # ids 1..28; 0 is the CTC blank
_CHAR_ID = {c: i + 1 for i, c in enumerate(CHARS)}
VOCAB = len(CHARS) + 1


def char_ids(text: str) -> list[int]:
    """Transcript -> character ids: lowercase, digits spelled out (cardinals), every other character
    outside a-z and the apostrophe becomes a word break, spaces collapsed. Empty -> []."""
    text = re.sub(r"\d+", lambda m: f" {cardinal(int(m.group()))} ", text.lower())
    text = "".join(c if c in _CHAR_ID else " " for c in text.replace("-", " "))
    return [_CHAR_ID[c] for c in " ".join(text.split())]


class CharCTCHead(nn.Module):
    """latents [B, T, D] -> character log-probs [B, T * upsample, VOCAB]: conv (kernel 5, centred),
    GELU, linear to `upsample` slots of VOCAB logits per frame."""

    def __init__(self, latent_dim: int, hidden: int = 256, upsample: int = 2) -> None:
        super().__init__()
        if upsample < 1 or hidden < 1:
            raise ValueError(f"ctc head: upsample and hidden must be >= 1, got {upsample}, {hidden}")
        self.upsample = upsample
        self.conv = nn.Conv1d(latent_dim, hidden, 5, padding=2)
        self.out = nn.Linear(hidden, upsample * VOCAB)

    def log_probs(self, latents: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.conv(latents.transpose(1, 2))).transpose(1, 2)  # [B, T, H]
        logits = self.out(h).float()  # [B, T, up * V]
        return logits.reshape(logits.shape[0], -1, VOCAB).log_softmax(-1)  # [B, T * up, V]

    def forward(
        self, latents: torch.Tensor, frame_lengths: torch.Tensor, texts: Sequence[str | None]
    ) -> torch.Tensor:
        """Mean CTC loss per character over the labelled items (None = no label). With no labelled
        item, a zero that still touches every parameter (DDP sees the same parameter set each step)."""
        if len(texts) != latents.shape[0]:
            raise ValueError(f"ctc: {len(texts)} labels for a batch of {latents.shape[0]}")
        rows = [(i, char_ids(t)) for i, t in enumerate(texts) if t is not None]
        rows = [(i, ids) for i, ids in rows if ids]
        mask = torch.arange(latents.shape[1], device=latents.device)[None, :] < frame_lengths[:, None]
        lp = self.log_probs(latents * mask[:, :, None].to(latents.dtype))  # padding never leaks in
        if not rows:
            return sum((p.sum() * 0.0 for p in self.parameters()), lp.sum() * 0.0)
        index = torch.tensor([i for i, _ in rows], device=latents.device)
        targets = torch.tensor([c for _, ids in rows for c in ids], device=latents.device)
        target_lengths = torch.tensor([len(ids) for _, ids in rows], device=latents.device)
        input_lengths = frame_lengths[index] * self.upsample
        loss = F.ctc_loss(lp[index].transpose(0, 1), targets, input_lengths, target_lengths,
                          blank=BLANK, reduction="sum", zero_infinity=True)
        return loss / target_lengths.sum()
