"""ASR beam search over the KV cache (ASROptions.beam_size > 1; 1 is asr.py's greedy loop).

Every utterance keeps up to K = beam_size live hypotheses as rows of one KV-cached batch. Each
step scores all one-token extensions of an utterance's live hypotheses (sum of log-probabilities;
one batched top-2K over all utterances, one device-to-host copy per step) and walks its best 2K in
order: an <|eos|> closes a finished hypothesis (at most K are kept; a later <|eos|> of the same
length scores lower, so dropping it loses nothing), any other token extends a live one, until K
candidates are taken (one reaching the row's token budget is finished without <|eos|>, ended=False,
and still counts). With K live rows at most K of the 2K candidates are <|eos|>. The cache rows are
then gathered in the new hypotheses' parent order (`CachedBackbone.keep` accepts repeated rows), so
one backbone call per step serves every utterance's beam. An utterance is done once it has K
finished hypotheses or nothing live; its result is the best finished hypothesis by
sum log-prob / (tokens, + 1 for <|eos|>) ** length_penalty (1.0: mean log-prob per emitted token,
Whisper-like; 0.0: the raw sum, which favours short transcripts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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


def _best_candidates(logits: torch.Tensor, live: list[tuple[int, Hypothesis]], rows_of: dict[int, list[int]],
                     n: int) -> tuple[list[list[float]], list[list[int]]]:
    """The n best (row, token) extensions of each utterance in `rows_of` (its live rows), in one
    top-k. Returns values [U][n'] and flat indices [U][n'] into that utterance's [rows, V] grid."""
    width = max(len(rows) for rows in rows_of.values())
    index = torch.zeros(len(rows_of), width, dtype=torch.long)  # [U, R] rows of the batch
    valid = torch.zeros(len(rows_of), width, dtype=torch.bool)
    for i, rows in enumerate(rows_of.values()):
        index[i, :len(rows)] = torch.tensor(rows)
        valid[i, :len(rows)] = True
    device = logits.device
    base = torch.tensor([h.logprob for _, h in live], dtype=torch.float32, device=device)  # [A]
    total = base[:, None] + torch.log_softmax(logits.float(), dim=-1)  # [A, V]
    grid = total[index.to(device)].masked_fill(~valid.to(device)[..., None], float("-inf"))  # [U, R, V]
    values, flat = grid.flatten(1).topk(min(n, grid[0].numel()), dim=1)  # [U, n']
    return values.tolist(), flat.tolist()


def beam_search(kv: CachedBackbone, embed_tokens: Callable[[torch.Tensor], torch.Tensor], logits: torch.Tensor,
                budgets: list[int], eos: int, beam_size: int, length_penalty: float) -> list[Hypothesis]:
    """`kv` just prefilled with one row per utterance, `logits` [B, V] its next-token logits,
    `embed_tokens` ids [A, 1] -> embeds [A, 1, H]. Returns each utterance's best hypothesis."""
    utts = [_Utterance(b) for b in budgets]
    live: list[tuple[int, Hypothesis]] = [(u, Hypothesis([], 0.0)) for u in range(len(budgets))]  # row i <-> live[i]
    vocab = logits.shape[-1]
    while live:
        rows_of: dict[int, list[int]] = {}
        for row, (u, _) in enumerate(live):
            rows_of.setdefault(u, []).append(row)
        values, flats = _best_candidates(logits, live, rows_of, 2 * beam_size)
        new_live: list[tuple[int, Hypothesis]] = []
        parents: list[int] = []
        for u, vals, flat in zip(rows_of, values, flats):
            taken = 0
            for value, index in zip(vals, flat):
                if value == float("-inf"):
                    break  # padding rows of a narrower beam
                r, tok = rows_of[u][index // vocab], index % vocab
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
                taken += 1
                if taken == beam_size:
                    break
        # an utterance with K finished hypotheses stops; its live rows are dropped
        keep = [i for i, (u, _) in enumerate(new_live) if len(utts[u].finished) < beam_size]
        live = [new_live[i] for i in keep]
        if not live:
            break
        kv.keep(torch.tensor([parents[i] for i in keep], dtype=torch.long, device=logits.device))
        ids = torch.tensor([h.tokens[-1] for _, h in live], dtype=torch.long, device=logits.device)
        _, logits = kv.step(embed_tokens(ids[:, None]), logits=True)  # [A, V]
    return [max(u.finished, key=lambda h: h.score(length_penalty)) for u in utts]
