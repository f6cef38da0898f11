"""The TTS text pointer: explicit text-to-audio alignment for small from-scratch TTS models.

A tiny backbone trained on a few hours learns to continue audio long before it learns WHICH part of
the text to speak (docs/tts_diagnosis.md: the shipped tiny model's flow loss is the same with
another utterance's text). The pointer hands it the answer, as duration-based TTS does (FastSpeech;
the alignment comes from a forced aligner, unified_lm/aligner/):

    the position that conditions target patch k gets, added to its input embedding, a window of the
    text units around pointer s(k) (the first unit not yet started when patch k begins;
    `before` units before it, `after` from it on, each with its own projection);
    an advance head on its hidden state predicts a(k) = units starting within patch k (0..max_advance);
    the DiT condition is hidden + window + embedding(a(k)), so the flow head knows which units
    this patch speaks.

Training uses the aligner's s(k), a(k) (teacher forcing, SequenceBatch.pointer/advance). Generation
(generate/tts.py) keeps a fractional pointer per row, moves it by the advance head's EXPECTED
advance each patch (an argmax would speak every unit at its most likely, not its average, rate),
and uses a(k) = how many whole units that move crossed.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from unified_lm.text_tokenizer import TextTokenizer, TextUnits, normalize_text


class TextPointer(nn.Module):
    """Window embedding, advance head and advance embedding. H = backbone hidden size."""

    def __init__(self, hidden: int, before: int, after: int, max_advance: int):
        super().__init__()
        self.before, self.after, self.max_advance = before, after, max_advance
        width = before + after
        self.window_proj = nn.Linear(width * hidden, hidden)
        self.outside = nn.Parameter(torch.zeros(width, hidden))  # stands for a unit beyond the text's ends
        self.advance_head = nn.Linear(hidden, max_advance + 1)
        self.advance_embed = nn.Embedding(max_advance + 1, hidden)
        nn.init.zeros_(self.window_proj.bias)

    def window(self, unit_embeds: torch.Tensor, unit_counts: torch.Tensor, pointer: torch.Tensor,
               rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """unit_embeds [R, U, H] (the rows' TTS text unit embeddings), unit_counts [R], pointer [N]
        (0 <= pointer <= its row's count), rows [N] (which row each pointer reads; default: row i
        for pointer i, N = R) -> window vectors [N, H]."""
        u = unit_embeds.shape[1]
        rows = torch.arange(pointer.shape[0], device=pointer.device) if rows is None else rows
        offsets = torch.arange(-self.before, self.after, device=pointer.device)  # [W]
        index = pointer[:, None] + offsets[None]  # [N, W]
        inside = (index >= 0) & (index < unit_counts[rows][:, None])  # [N, W]
        gathered = unit_embeds[rows[:, None], index.clamp(0, max(u - 1, 0))]  # [N, W, H]
        units = torch.where(inside[..., None], gathered, self.outside.to(gathered.dtype)[None])  # [N, W, H]
        return self.window_proj(units.reshape(pointer.shape[0], -1))

    def advance_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [N, H] -> advance logits [N, max_advance + 1]."""
        return self.advance_head(hidden)

    def condition(self, hidden: torch.Tensor, window: torch.Tensor, advance: torch.Tensor) -> torch.Tensor:
        """The DiT condition [N, H]: hidden + window + embedding of the advance [N] (clipped)."""
        return hidden + window.to(hidden.dtype) + self.advance_embed(advance.clamp(0, self.max_advance)).to(hidden.dtype)

    def expected_advance(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [N, H] -> expected advance [N] float32 under the advance head."""
        probs = self.advance_logits(hidden).float().softmax(-1)  # [N, A + 1]
        return probs @ torch.arange(self.max_advance + 1, device=probs.device, dtype=probs.dtype)


def row_units(input_ids: torch.Tensor, spans: list[tuple[int, torch.Tensor]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The TTS text units of the rows in `spans` (sequences.tts_text_spans): ids [R, U] (pad_id
    after each row's end) and counts [R]."""
    counts = torch.tensor([len(text) for _, text in spans], dtype=torch.long, device=input_ids.device)
    width = int(counts.max()) if len(spans) else 0
    ids = torch.full((len(spans), max(width, 1)), pad_id, dtype=torch.long, device=input_ids.device)
    for r, (b, text) in enumerate(spans):
        ids[r, :len(text)] = input_ids[b, text]
    return ids, counts


def unit_offset(tok: TextTokenizer, prompt_text: str, units: TextUnits) -> int:
    """Index of the target text's first unit in the TTS text (prompt transcript, a space, target
    text; sequences.tts_text), as training rows and the TTS engine both count it."""
    return len(tok.encode(prompt_text, units=units)) + 1 if normalize_text(prompt_text) else 0
