"""ASR engine invariants: KV-cached greedy == full recompute through the training path,
batched == unbatched, <|eos|> and the token budget end rows, refused inputs; with causal and with
bidirectional (audio_in.asr_bidirectional) encoding of the ASR audio."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from test_generate_fixtures import tiny_lm
from unified_lm.generate import ASREngine, ASROptions, GenerationInputError
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
