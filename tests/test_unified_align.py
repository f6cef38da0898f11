"""TTS text-alignment aids: guided attention (unified_lm/align.py: the prior, the loss by hand on the
tiny model's own attention, TTS rows only, the eager requirement, what it trains) and character
units for the TTS text (text_tokenizer.tts_units) in training rows and in the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from holitok_common.config import ConfigError
from test_unified_model import D, batch_for, tiny_model, tok  # noqa: F401  (fixture)
from unified_lm.align import attention_modules, capture_attention, diagonal_prior, guided_attention_loss
from unified_lm.generate import TTSEngine, TTSOptions, TTSRequest
from unified_lm.sequences import asr_segments
from unified_lm.train.data import Utterance, tts_example

ALIGN = {"loss": {"align": 1.0, "align_layers": [1], "align_heads": 2}, "backbone": {"attn_implementation": "eager"}}


def test_diagonal_prior_peaks_on_the_normalised_diagonal():
    prior = diagonal_prior(8, 4, sigma=0.2)
    assert prior.shape == (8, 4) and float(prior.max()) <= 1.0
    assert prior.argmax(1).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # query k of 8 looks at text k // 2 of 4
    assert torch.allclose(diagonal_prior(5, 5, 0.2).diagonal(), torch.ones(5))


def test_loss_is_zero_for_diagonal_attention_and_ignores_asr_rows(tok):
    model = tiny_model(tok)
    batch = batch_for(model, tok)  # row 0: TTS (5 text tokens, 2 + 3 patches), row 1: ASR
    b, length = batch.input_ids.shape
    speech = batch.audio_slot[0].nonzero().flatten()
    n_text = int(speech[0]) - 2
    diagonal = torch.zeros(b, 4, length, length)
    for k, q in enumerate(speech.tolist()):  # exact diagonal with K == N
        diagonal[0, :, q, 1 + round((k + 0.5) / len(speech) * n_text - 0.5)] = 1.0
    loss, rows = guided_attention_loss([diagonal], batch, heads=0, sigma=0.2)
    worst = 1 - torch.exp(torch.tensor(-(0.5 / n_text) ** 2 / (2 * 0.2 ** 2)))  # rounding to a token
    assert rows == 1 and float(loss) <= float(worst) + 1e-6
    off = torch.zeros_like(diagonal)
    off[0, :, :, 0] = 1.0  # everything on <|tts|>: no text mass at all
    assert float(guided_attention_loss([off], batch, heads=0, sigma=0.2)[0]) == pytest.approx(1.0)
    asr_only = model.build([asr_segments(tok.special, torch.randn(7, D), tok.encode("A dog reads"))])
    attn = torch.rand(1, 4, asr_only.input_ids.shape[1], asr_only.input_ids.shape[1])
    assert guided_attention_loss([attn], asr_only, heads=0, sigma=0.2)[1] == 0


def test_model_align_loss_matches_its_attention_and_trains_the_backbone(tok):
    model = tiny_model(tok, **ALIGN).train()
    batch = batch_for(model, tok)
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert out.counts.align_rows == 1 and 0 < float(out.align.detach()) < 1
    assert torch.allclose(out.loss, out.text_ce + out.flow + out.stop + out.align)
    with capture_attention(attention_modules(model.backbone.lm, [1])) as attn:
        model.step(model.embed(batch), batch.attention_mask, batch.position_ids, compute_logits=False)
    expected, _ = guided_attention_loss(attn, batch, heads=2, sigma=0.2)
    assert torch.allclose(out.align, expected, atol=1e-6)
    out.align.backward()
    layers = model.backbone.lm.get_decoder().layers
    assert layers[1].self_attn.q_proj.weight.grad.abs().sum() > 0
    assert layers[3].self_attn.q_proj.weight.grad is None  # above the guided layer: untouched


def test_align_needs_eager_attention_and_valid_layers(tok):
    with pytest.raises(ConfigError, match="attn_implementation=eager"):
        tiny_model(tok, loss={"align": 1.0})
    with pytest.raises(ValueError, match="out of range"):
        tiny_model(tok, loss={"align": 1.0, "align_layers": [7]}, backbone={"attn_implementation": "eager"})
    with pytest.raises(ConfigError, match="align_sigma"):
        tiny_model(tok, loss={"align_sigma": 0.0})
    plain = tiny_model(tok)
    out = plain(batch_for(plain, tok), generator=torch.Generator().manual_seed(0))
    assert out.counts.align_rows == 0 and float(out.align) == 0.0


def test_character_tts_units_reach_training_rows_and_the_engine(tok, tmp_path):
    with pytest.raises(ConfigError, match="sentencepiece"):
        tiny_model(tok, text_tokenizer={"kind": "hf", "tts_units": "chars"})
    model = tiny_model(tok, text_tokenizer={"tts_units": "chars"})
    lat = tmp_path / "u.npy"
    np.save(lat, np.zeros((8, D), dtype=np.float32))
    utt = Utterance("u", "A dog reads", "s", str(lat), 8)
    row = tts_example(tok, utt, utt, units="chars")
    assert list(row[0].ids[1:-1]) == tok.encode("A dog reads A dog reads", units="chars")
    prepared = TTSEngine(model, TTSOptions(steps=2, max_seconds=1.0)).prepare(TTSRequest("x", "The cat sees"))
    assert list(prepared.ids) == tok.encode("The cat sees", units="chars")


def test_tts_ctc_reads_the_whole_text_off_prompt_and_target_frames(tok):
    model = tiny_model(tok, loss={"ctc_tts": 0.5})
    batch = batch_for(model, tok)  # row 0 TTS: 6 prompt frames (2 patches, the 2nd partial) + 9 target frames
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert out.counts.ctc_tts_rows == 1 and out.counts.ctc_utterances == 0  # loss.ctc is off
    assert torch.allclose(out.loss, out.text_ce + out.flow + out.stop + 0.5 * out.ctc_tts)
    hidden = model.step(model.embed(batch), batch.attention_mask, batch.position_ids, compute_logits=False).hidden
    v = model.backbone.vocab_size
    logits = model.ctc_head(hidden[0][batch.audio_slot[0]]).reshape(-1, 4, v + 1)  # [5 patches, P, V + 1]
    frames = torch.cat([logits[0], logits[1, :2], logits[2], logits[3], logits[4, :1]])  # 4 + 2 + 4 + 4 + 1 real frames
    ids = torch.tensor(tok.encode("The cat sees a dog"))
    expected = torch.nn.functional.ctc_loss(frames.log_softmax(-1)[:, None], ids[None], [15], [len(ids)], blank=v)
    assert torch.allclose(out.ctc_tts, expected, atol=1e-5)
    out.ctc_tts.backward()
    assert model.backbone.lm.get_input_embeddings().weight.grad.abs().sum() > 0
