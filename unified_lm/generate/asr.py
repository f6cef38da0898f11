"""ASR generation: greedy or beam-search text decoding with a KV cache, batched with left padding.

    prefill  <|asr|> <|audio_start|> [audio patches] <|audio_end|> <|text_start|>   (one call)
    greedy   argmax of the next-token logits, fed back one position at a time until <|eos|>
             or the row's token budget (ASROptions)
    beam     ASROptions.beam_size > 1: beam.py, on the same prefilled cache

Finished rows are dropped from the cache (kv.py), so a batch costs what its longest transcript
costs. Logits are computed only at the position being decoded (the LM head is the largest
matrix of a 0.5B backbone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from unified_lm.generate.beam import beam_search
from unified_lm.generate.kv import CachedBackbone
from unified_lm.generate.options import ASROptions, GenerationInputError
from unified_lm.model import UnifiedLM
from unified_lm.sequences import asr_segments


@dataclass
class ASRResult:
    text: str
    token_ids: list[int]  # decoded ids, <|eos|> excluded
    ended: bool  # True: <|eos|> was produced; False: the token budget ran out
    logprob: float  # sum of the log-probabilities of token_ids (+ <|eos|> when ended)


class ASREngine:
    """Greedy or beam-search transcription of raw tokenizer latents with one UnifiedLM (eval mode, any device)."""

    def __init__(self, model: UnifiedLM, options: ASROptions = ASROptions()):
        if model.text_tokenizer is None:
            raise ValueError("the model has no text tokenizer attached; ASR needs one")
        self.model, self.options = model, options.validate()

    def budget(self, num_frames: int) -> int:
        """Max tokens for an utterance of `num_frames` latent frames."""
        seconds = num_frames / self.model.cfg.frame_rate
        return min(self.options.max_tokens, self.model.cfg.max_text_tokens,
                   math.ceil(self.options.tokens_per_second * seconds) + 8)

    def check(self, latents: torch.Tensor, name: str = "audio") -> None:
        """GenerationInputError unless latents are [T >= 1, D] within the model's audio budget."""
        cfg = self.model.cfg
        if latents.dim() != 2 or latents.shape[1] != cfg.latent_dim or latents.shape[0] == 0:
            raise GenerationInputError(f"{name}: latents must be [T >= 1, {cfg.latent_dim}], got {tuple(latents.shape)}")
        if latents.shape[0] > cfg.max_audio_frames:
            raise GenerationInputError(
                f"{name}: {latents.shape[0] / cfg.frame_rate:.1f} s of audio is longer than the model's "
                f"{cfg.max_audio_frames / cfg.frame_rate:.1f} s limit (max_audio_frames); segment it first")

    @torch.no_grad()
    def transcribe(self, latents: Sequence[torch.Tensor]) -> list[ASRResult]:
        """RAW latents, one [T_i, D] per utterance -> one ASRResult each (same order)."""
        if not latents:
            return []
        for i, lat in enumerate(latents):
            self.check(lat, f"utterance {i}")
        model, special = self.model, self.model.text_tokenizer.special
        batch, embeds = model.embed_segments([asr_segments(special, lat) for lat in latents])  # [B, L, H]
        kv = CachedBackbone(model)
        _, logits = kv.prefill(embeds, batch.lengths, logits=True)  # [B, V]
        budgets = [self.budget(lat.shape[0]) for lat in latents]
        text_tok = model.text_tokenizer
        if self.options.beam_size > 1:
            best = beam_search(kv, model.backbone.embed_tokens, logits, budgets, special.eos,
                               self.options.beam_size, self.options.length_penalty)
            return [ASRResult(text_tok.decode(h.tokens), h.tokens, h.ended, h.logprob) for h in best]
        tokens: list[list[int]] = [[] for _ in latents]
        ended = [False] * len(latents)
        logprob = [0.0] * len(latents)
        active = list(range(len(latents)))
        while True:
            next_ids = logits.argmax(dim=-1)  # [A]
            chosen = torch.log_softmax(logits.float(), dim=-1).gather(1, next_ids[:, None])[:, 0]  # [A]
            keep = []
            for j, (row, tok, lp) in enumerate(zip(active, next_ids.tolist(), chosen.tolist())):
                logprob[row] += lp
                if tok == special.eos:
                    ended[row] = True
                    continue
                tokens[row].append(tok)
                if len(tokens[row]) < budgets[row]:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(active):
                rows = torch.tensor(keep, dtype=torch.long, device=next_ids.device)
                kv.keep(rows)
                next_ids, active = next_ids[rows], [active[j] for j in keep]
            embeds = model.backbone.embed_tokens(next_ids[:, None])  # [A, 1, H]
            _, logits = kv.step(embeds, logits=True)  # [A, V]
        return [ASRResult(text_tok.decode(ids), ids, e, lp) for ids, e, lp in zip(tokens, ended, logprob)]
