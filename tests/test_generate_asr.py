"""ASR engine invariants: KV-cached greedy and beam search == full recompute through the training path,
batched == unbatched, <|eos|> and the token budget end rows, refused inputs; with causal and with
bidirectional (audio_in.asr_bidirectional) encoding of the ASR audio."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from test_generate_fixtures import tiny_lm
from unified_lm.generate import ASREngine, ASROptions, GenerationInputError
from unified_lm.generate.beam import beam_search
from unified_lm.generate.kv import CachedBackbone
from unified_lm.sequences import TextSegment, asr_segments


@pytest.fixture(scope="module", params=[False, True], ids=["causal-audio", "bidirectional-asr-audio"])
def model(tmp_path_factory, request):
    # untied LM head: with tied embeddings a random tiny model just repeats its last input token
    return tiny_lm(tmp_path_factory.mktemp("asr"), backbone={"tie_word_embeddings": False},
                   audio_in={"asr_bidirectional": request.param})


def utterances() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return [torch.randn(n, 32, generator=g) for n in (21, 6, 13)]


@torch.no_grad()
def recompute(model, latents: torch.Tensor, budget: int) -> list[int]:
    """Greedy decoding that re-runs the whole sequence every token (training path, no cache)."""
    special, ids = model.text_tokenizer.special, []
    while len(ids) < budget:
        segments = asr_segments(special, latents) + ([TextSegment(tuple(ids))] if ids else [])
        batch, embeds = model.embed_segments([segments])
        logits = model.step(embeds, batch.attention_mask, batch.position_ids).logits[0, -1]  # [V]
        token = int(logits.argmax())
        if token == special.eos:
            break
        ids.append(token)
    return ids


def test_kv_cached_batch_equals_recompute_and_unbatched(model):
    engine = ASREngine(model, ASROptions(tokens_per_second=10.0))
    batched = engine.transcribe(utterances())
    assert len({len(r.token_ids) for r in batched}) > 1  # rows end at different steps
    for lat, got in zip(utterances(), batched):
        budget = engine.budget(lat.shape[0])
        assert got.token_ids == recompute(model, lat, budget)
        assert got.token_ids == engine.transcribe([lat])[0].token_ids
        assert got.text == model.text_tokenizer.decode(got.token_ids)
        assert got.ended == (len(got.token_ids) < budget)


def test_budget_and_eos(model, monkeypatch):
    engine = ASREngine(model, ASROptions(max_tokens=5))
    assert all(len(r.token_ids) <= 5 for r in engine.transcribe(utterances()))
    lm = model.backbone.lm
    head = nn.Linear(model.backbone.hidden_size, model.backbone.vocab_size)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[model.text_tokenizer.special.eos] = 10.0
    monkeypatch.setattr(lm, "get_output_embeddings", lambda: head)
    results = engine.transcribe(utterances())
    assert [(r.text, r.token_ids, r.ended) for r in results] == [("", [], True)] * 3


def test_bad_audio_is_refused(model):
    engine = ASREngine(model)
    with pytest.raises(GenerationInputError, match="longer than"):
        engine.transcribe([torch.zeros(model.cfg.max_audio_frames + 1, 32)])
    with pytest.raises(GenerationInputError, match="latents must be"):
        engine.transcribe([torch.zeros(0, 32)])


@torch.no_grad()
def beam_recompute(model, latents: torch.Tensor, budget: int, k: int, alpha: float) -> tuple[list[int], float]:
    """The beam search of beam.py, every hypothesis re-run through the training path (no cache)."""
    special = model.text_tokenizer.special
    live, finished = [([], 0.0)], []
    while live and len(finished) < k:
        candidates = []
        for ids, score in live:
            segments = asr_segments(special, latents) + ([TextSegment(tuple(ids))] if ids else [])
            batch, embeds = model.embed_segments([segments])
            logp = torch.log_softmax(model.step(embeds, batch.attention_mask, batch.position_ids).logits[0, -1].float(), -1)
            candidates += [(score + float(v), ids, t) for t, v in enumerate(logp)]
        candidates.sort(key=lambda c: -c[0])
        live, kept = [], 0
        for score, ids, t in candidates[:2 * k]:
            if t == special.eos:
                if len(finished) < k:
                    finished.append((ids, score, True))
                continue
            if len(ids) + 1 >= budget:
                finished.append((ids + [t], score, False))
            else:
                live.append((ids + [t], score))
            kept += 1
            if kept == k:
                break
    best = max(finished, key=lambda f: f[1] / max(len(f[0]) + int(f[2]), 1) ** alpha)
    return best[0], best[1]


class EosBias(nn.Module):
    """The model's LM head with `bias` added to the <|eos|> logit (hypotheses then end at various steps)."""

    def __init__(self, head: nn.Module, eos: int, bias: float):
        super().__init__()
        self.head, self.eos, self.bias = head, eos, bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.head(hidden)
        logits[..., self.eos] += self.bias
        return logits


@pytest.mark.parametrize("eos_bias", [0.0, 0.5], ids=["budget-ends", "eos-ends"])
@pytest.mark.parametrize("alpha", [1.0, 0.0])
def test_beam_search_equals_recompute_and_unbatched(model, alpha, eos_bias, monkeypatch):
    lm = model.backbone.lm
    head = EosBias(lm.get_output_embeddings(), model.text_tokenizer.special.eos, eos_bias)
    monkeypatch.setattr(lm, "get_output_embeddings", lambda: head)
    engine = ASREngine(model, ASROptions(tokens_per_second=10.0, beam_size=3, length_penalty=alpha))
    batched = engine.transcribe(utterances())
    for lat, got in zip(utterances(), batched):
        ids, score = beam_recompute(model, lat, engine.budget(lat.shape[0]), 3, alpha)
        assert got.token_ids == ids
        assert got.logprob == pytest.approx(score, abs=1e-4)
        assert got.token_ids == engine.transcribe([lat])[0].token_ids
        assert got.text == model.text_tokenizer.decode(got.token_ids)
        assert got.ended == (eos_bias > 0)  # budget-ends: every hypothesis runs out; eos-ends: none does


def test_beam_of_one_is_greedy(model):
    """beam.py at K = 1 (called directly: the engine sends K = 1 to its greedy loop) == greedy."""
    engine = ASREngine(model, ASROptions(tokens_per_second=10.0))
    greedy = engine.transcribe(utterances())
    special = model.text_tokenizer.special
    batch, embeds = model.embed_segments([asr_segments(special, lat) for lat in utterances()])
    kv = CachedBackbone(model)
    _, logits = kv.prefill(embeds, batch.lengths, logits=True)
    beam1 = beam_search(kv, model.backbone.embed_tokens, logits, [engine.budget(lat.shape[0]) for lat in utterances()],
                        special.eos, beam_size=1, length_penalty=0.0)
    for g, b in zip(greedy, beam1):
        assert (g.token_ids, g.ended) == (b.tokens, b.ended)
        assert g.logprob == pytest.approx(b.logprob, abs=1e-4)


class ScriptedKV:
    """A stand-in for CachedBackbone whose next-token distribution is a table keyed by each row's
    prefix (token 0 = <|eos|>, 1 = a, 2 = b): tests the search itself on hand-computed answers."""

    TABLE = {(): [1e-6, 0.6, 0.4], (1,): [0.3, 0.36, 0.34], (2,): [0.9, 0.05, 0.05], (1, 1): [0.98, 0.01, 0.01],
             (1, 2): [0.5, 0.25, 0.25]}

    def __init__(self, rows: int):
        self.prefixes = [()] * rows

    def logits(self) -> torch.Tensor:
        return torch.tensor([self.TABLE.get(p, [0.98, 0.01, 0.01]) for p in self.prefixes]).log()

    def keep(self, rows: torch.Tensor) -> None:
        self.prefixes = [self.prefixes[r] for r in rows.tolist()]

    def step(self, embeds: torch.Tensor, logits: bool = False):
        self.prefixes = [p + (int(t),) for p, t in zip(self.prefixes, embeds[:, 0, 0])]
        return None, self.logits()


def scripted_search(rows: int, budgets: list[int], k: int, alpha: float = 0.0):
    kv = ScriptedKV(rows)
    return beam_search(kv, lambda ids: ids[..., None].float(), kv.logits(), budgets, 0, k, alpha)


def test_beam_search_on_a_scripted_distribution():
    # greedy: a (0.6), a (0.36), <|eos|> -> p 0.21; the beam keeps b (0.4), whose <|eos|> (0.9) wins: p 0.36
    assert [(h.tokens, h.ended) for h in scripted_search(1, [10], 1)] == [([1, 1], True)]
    best = scripted_search(2, [10, 10], 2)  # two utterances in one batch, same answer
    assert [(h.tokens, h.ended) for h in best] == [([2], True)] * 2
    assert best[0].logprob == pytest.approx(math.log(0.4 * 0.9), abs=1e-6)
    # a beam wider than the vocabulary, and a budget of one token: finished without <|eos|>
    assert [(h.tokens, h.ended) for h in scripted_search(1, [10], 5)] == [([2], True)]
    assert [(h.tokens, h.ended) for h in scripted_search(1, [1], 2)] == [([1], False)]
    # different budgets in one batch: a budget of 2 ends `a a` without <|eos|>; b <|eos|> still wins
    assert [(h.tokens, h.ended) for h in scripted_search(2, [2, 10], 2)] == [([2], True), ([2], True)]


def test_bad_beam_options_are_refused(model):
    with pytest.raises(ValueError, match="beam_size"):
        ASREngine(model, ASROptions(beam_size=0))
    with pytest.raises(ValueError, match="length_penalty"):
        ASREngine(model, ASROptions(beam_size=2, length_penalty=-1.0))
    with pytest.raises(ValueError, match="length_penalty"):
        ASREngine(model, ASROptions(beam_size=2, length_penalty=float("nan")))
    with pytest.raises(ValueError, match="beam_size"):
        ASREngine(model, ASROptions(beam_size=True))
