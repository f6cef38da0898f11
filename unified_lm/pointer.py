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
    this patch speaks;
    with `frame_units`, each of the patch's P frames also gets the units it speaks (the one current
    at that frame, the one before and the one after, projected to the DiT width) added to its DiT
    token, so the head need not work out at which frame each unit starts.

Training uses the aligner's s(k), a(k) (teacher forcing, SequenceBatch.pointer/advance). Generation
(generate/tts.py) keeps a fractional pointer per row, moves it by the advance head's EXPECTED
advance each patch (an argmax would speak every unit at its most likely, not its average, rate),
and uses a(k) = how many whole units that move crossed. The frames' units follow the same move:
frame f of a patch that moves the pointer from q0 to q1 speaks unit floor(q0 + (f + 1) / P * (q1 - q0)) - 1
(the crossed units start evenly over the patch), which is what training reads from an alignment
whose units start at those frames (sequences.SequenceBatch.frame_units).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from unified_lm.text_tokenizer import TextTokenizer, TextUnits, normalize_text


class TextPointer(nn.Module):
    """Window embedding, advance head and advance embedding. H = backbone hidden size."""

    FRAME_OFFSETS = (-1, 0, 1)  # the units a frame condition holds, relative to the frame's current unit

    def __init__(self, hidden: int, before: int, after: int, max_advance: int, frame_width: Optional[int] = None):
        super().__init__()
        self.before, self.after, self.max_advance = before, after, max_advance
        width = before + after
        self.window_proj = nn.Linear(width * hidden, hidden)
        self.outside = nn.Parameter(torch.zeros(width, hidden))  # stands for a unit beyond the text's ends
        self.advance_head = nn.Linear(hidden, max_advance + 1)
        self.advance_embed = nn.Embedding(max_advance + 1, hidden)
        nn.init.zeros_(self.window_proj.bias)
        self.frame_proj = None  # frame_width (the DiT width) given: per-frame unit conditioning
        if frame_width is not None:
            n = len(self.FRAME_OFFSETS)
            self.frame_proj = nn.Linear(n * hidden, frame_width)
            self.frame_outside = nn.Parameter(torch.zeros(n, hidden))
            nn.init.zeros_(self.frame_proj.bias)

    @staticmethod
    def _gather(unit_embeds: torch.Tensor, unit_counts: torch.Tensor, index: torch.Tensor, rows: torch.Tensor,
                outside: torch.Tensor) -> torch.Tensor:
        """Unit embeddings at `index` [N, ..., W] of rows `rows` [N] ([N, ..., W, H]); an index
        outside its row's text takes the matching row of `outside` [W, H]."""
        u = unit_embeds.shape[1]
        count = unit_counts[rows].view(-1, *([1] * (index.dim() - 1)))  # [N, 1, ..., 1]
        inside = (index >= 0) & (index < count)  # [N, ..., W]
        row_index = rows.view(-1, *([1] * (index.dim() - 1)))
        gathered = unit_embeds[row_index, index.clamp(0, max(u - 1, 0))]  # [N, ..., W, H]
        return torch.where(inside[..., None], gathered, outside.to(gathered.dtype))

    def window(self, unit_embeds: torch.Tensor, unit_counts: torch.Tensor, pointer: torch.Tensor,
               rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """unit_embeds [R, U, H] (the rows' TTS text unit embeddings), unit_counts [R], pointer [N]
        (0 <= pointer <= its row's count), rows [N] (which row each pointer reads; default: row i
        for pointer i, N = R) -> window vectors [N, H]."""
        rows = torch.arange(pointer.shape[0], device=pointer.device) if rows is None else rows
        offsets = torch.arange(-self.before, self.after, device=pointer.device)  # [W]
        units = self._gather(unit_embeds, unit_counts, pointer[:, None] + offsets, rows, self.outside)  # [N, W, H]
        return self.window_proj(units.reshape(pointer.shape[0], -1))

    def frame_condition(self, unit_embeds: torch.Tensor, unit_counts: torch.Tensor, current: torch.Tensor,
                        rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """unit_embeds [R, U, H], unit_counts [R], current [N, P] (each frame's current unit; may be
        -1 or >= the count: outside), rows [N] (default: row i for patch i) -> [N, P, frame_width],
        the per-frame DiT condition (DiTHead.velocity's frame_cond)."""
        if self.frame_proj is None:
            raise ValueError("this pointer has no frame conditioning (pointer.frame_units=false)")
        n, p = current.shape
        rows = torch.arange(n, device=current.device) if rows is None else rows
        offsets = torch.tensor(self.FRAME_OFFSETS, device=current.device)  # [3]
        units = self._gather(unit_embeds, unit_counts, current[..., None] + offsets, rows, self.frame_outside)
        return self.frame_proj(units.reshape(n, p, -1))  # [N, P, W_dit]

    @staticmethod
    def frame_units(start: torch.Tensor, end: torch.Tensor, patch_size: int) -> torch.Tensor:
        """The frames' current units of patches whose pointer moves from `start` to `end` [N]
        (fractional units; crossed units start evenly over the patch) -> [N, P] long."""
        frac = torch.arange(1, patch_size + 1, device=start.device, dtype=start.dtype) / patch_size  # [P]
        shape = (start.shape[0], patch_size)
        # lerp is exact at weight 1: the last frame's unit is floor(end) - 1, as the advance counts it
        return torch.lerp(start[:, None].expand(shape), end[:, None].expand(shape), frac).floor().long() - 1

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
