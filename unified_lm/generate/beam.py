"""ASR beam search over the KV cache (ASROptions.beam_size > 1; 1 is asr.py's greedy loop).

Every utterance keeps up to K = beam_size live hypotheses as rows of one KV-cached batch. Each
step scores all K x V one-token extensions of an utterance (sum of log-probabilities), walks its
best 2K in order: an <|eos|> closes a finished hypothesis, any other token extends a live one, until
K live ones are chosen (2K candidates always hold K that are not <|eos|>). The cache rows are then
gathered in the new hypotheses' parent order (`CachedBackbone.keep` accepts repeated rows), so one
backbone call per step serves every utterance's beam. A hypothesis that reaches the row's token
budget is finished without <|eos|> (ended=False). An utterance is done once it has K finished
hypotheses or nothing live; the result is its best finished hypothesis by
sum log-prob / (tokens, + 1 for <|eos|>) ** length_penalty (1.0: mean log-prob, Whisper's default;
0.0: the raw sum, which favours short transcripts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unified_lm.generate.kv import CachedBackbone


@dataclass
class Hypothesis:
    tokens: list[int]
    logprob: float  # sum of the log-probabilities of `tokens` (+ <|eos|> when ended)
    ended: bool = False

    def score(self, length_penalty: float) -> float:
        n = len(self.tokens) + int(self.ended)
        return self.logprob / max(n, 1) ** length_penalty


@dataclass
class _Utterance:
    budget: int
    finished: list[Hypothesis] = field(default_factory=list)


def beam_search(kv: CachedBackbone, embed_tokens, logits: torch.Tensor, budgets: list[int], eos: int,
                beam_size: int, length_penalty: float) -> list[Hypothesis]:
    """`kv` just prefilled with one row per utterance, `logits` [B, V] its next-token logits,
    `embed_tokens` ids [A, 1] -> embeds [A, 1, H]. Returns each utterance's best hypothesis."""
    utts = [_Utterance(b) for b in budgets]
    live = [(u, Hypothesis([], 0.0)) for u in range(len(budgets))]  # row i of the cache <-> live[i]
    while live:
        logp = torch.log_softmax(logits.float(), dim=-1)  # [A, V]
        rows_of: dict[int, list[int]] = {}
        for row, (u, _) in enumerate(live):
            rows_of.setdefault(u, []).append(row)
        new_live, parents, next_ids = [], [], []
        for u, rows in rows_of.items():
            base = torch.tensor([live[r][1].logprob for r in rows], dtype=logp.dtype, device=logp.device)
            total = (base[:, None] + logp[rows]).flatten()  # [len(rows) * V]
            values, flat = total.topk(min(2 * beam_size, total.numel()))
            kept = 0
            for value, index in zip(values.tolist(), flat.tolist()):
                r, tok = rows[index // logp.shape[1]], index % logp.shape[1]
                parent = live[r][1]
                if tok == eos:
                    if len(utts[u].finished) < beam_size:
                        utts[u].finished.append(Hypothesis(parent.tokens, value, ended=True))
                    continue
                hyp = Hypothesis(parent.tokens + [tok], value)
                if len(hyp.tokens) >= utts[u].budget:
                    utts[u].finished.append(hyp)  # out of budget: finished without <|eos|>
                else:
                    new_live.append((u, hyp))
                    parents.append(r)
                    next_ids.append(tok)
                kept += 1
                if kept == beam_size:
                    break
        # an utterance with K finished hypotheses stops; its live rows are dropped
        keep = [i for i, (u, _) in enumerate(new_live) if len(utts[u].finished) < beam_size]
        live = [new_live[i] for i in keep]
        if not live:
            break
        kv.keep(torch.tensor([parents[i] for i in keep], dtype=torch.long, device=logits.device))
        ids = torch.tensor([next_ids[i] for i in keep], dtype=torch.long, device=logits.device)
        _, logits = kv.step(embed_tokens(ids[:, None]), logits=True)  # [A, V]
    return [max(u.finished, key=lambda h: h.score(length_penalty)) for u in utts]
