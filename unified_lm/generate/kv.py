"""KV-cached backbone calls over a LEFT-padded batch (the usual layout for batched generation).

Training batches are right-padded (sequences.py); for generation every row must end at the same
column so one new column per step extends all rows. `left_pad` moves each row's real positions to
the right end; padding keeps attention_mask 0 (never attended to) and position 0 (unused), and
real positions keep 0..len-1, exactly as in training, so rotary phases match.

The cache is a `transformers.Cache` (DynamicCache in v5, created by the decoder on the first call
with use_cache=True); finished rows are dropped with `Cache.batch_select_indices`, which keeps the
per-step cost proportional to the rows still generating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from unified_lm.model import UnifiedLM


@dataclass
class LeftPadded:
    embeds: torch.Tensor  # [B, L, H]; zeros on padding
    attention_mask: torch.Tensor  # [B, L] long; 1 = real position
    position_ids: torch.Tensor  # [B, L] long; 0..len-1 on real positions, 0 on padding


def left_pad(embeds: torch.Tensor, lengths: torch.Tensor) -> LeftPadded:
    """Right-padded embeds [B, L, H] with real lengths [B] -> the same rows left-padded."""
    b, length, h = embeds.shape
    cols = torch.arange(length, device=embeds.device)[None, :]  # [1, L]
    shift = (length - lengths.to(embeds.device))[:, None]  # [B, 1]: padding columns on the left
    real = cols >= shift  # [B, L]
    source = (cols - shift).clamp(min=0)  # [B, L]: column of the right-padded row
    moved = embeds.gather(1, source[..., None].expand(b, length, h))  # [B, L, H]
    moved = moved * real[..., None].to(moved.dtype)
    return LeftPadded(moved, real.long(), torch.where(real, cols - shift, torch.zeros_like(cols)))


class CachedBackbone:
    """Incremental backbone evaluation: `prefill` once, then `step` one column at a time.

    Rows can be dropped, reordered or repeated (`keep`: finished rows, beam search). Holds the cache, the growing attention mask
    [A, L_total] and each row's next position id [A].
    """

    def __init__(self, model: UnifiedLM):
        self.model = model
        self.cache: Optional[Any] = None
        self.attention_mask: Optional[torch.Tensor] = None
        self.next_position: Optional[torch.Tensor] = None

    def prefill(self, embeds: torch.Tensor, lengths: torch.Tensor,
                logits: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Right-padded embeds [B, L, H], lengths [B] -> (hidden at each row's last position [B, H],
        next-token logits there [B, V] if `logits`)."""
        lp = left_pad(embeds, lengths)
        last = torch.zeros_like(lp.attention_mask, dtype=torch.bool)
        last[:, -1] = True  # [B, L]: left padding puts every row's last position in the last column
        out = self.model.step(lp.embeds, lp.attention_mask, lp.position_ids, use_cache=True,
                              logits_mask=last, compute_logits=logits)
        self.cache, self.attention_mask = out.past_key_values, lp.attention_mask
        self.next_position = lengths.to(embeds.device).long()  # [B]
        return out.hidden[:, -1], out.logits  # [B, H], [B, V] | None

    def step(self, embeds: torch.Tensor, logits: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """One new position per row: embeds [A, 1, H] -> (hidden [A, H], logits [A, V] if `logits`)."""
        if self.cache is None:
            raise RuntimeError("CachedBackbone.step before prefill")
        ones = torch.ones_like(self.attention_mask[:, :1])  # [A, 1]
        self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)  # [A, L_total + 1]
        out = self.model.step(embeds, self.attention_mask, self.next_position[:, None], self.cache,
                              use_cache=True, compute_logits=logits)
        self.cache = out.past_key_values
        self.next_position = self.next_position + 1
        return out.hidden[:, -1], None if out.logits is None else out.logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (indices into the current batch, [A'] long), in that order; an index may
        repeat (beam search: two hypotheses extending the same parent)."""
        self.cache.batch_select_indices(rows)
        self.attention_mask = self.attention_mask[rows]
        self.next_position = self.next_position[rows]
