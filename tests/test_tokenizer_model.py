"""HoliTok invariants on the tiny preset: causality by gradient, batch == single, input checks."""

from __future__ import annotations

import json

import pytest
import torch

from _tokenizer_checks import assert_decoder_causal

from holitok_tokenizer.checkpoint import CheckpointError
from holitok_tokenizer.checks import TokenizerInputError
from holitok_tokenizer.model import HoliTok

LOOKAHEAD = 2  # frames, both encoder and decoder (SPEC.md section 1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = HoliTok.from_preset("tiny").eval()
    with torch.no_grad():  # non-trivial activations so that gradients reach every frame
        for name, p in m.named_parameters():
            if name.endswith((".alpha", ".beta")):
                p.normal_(0.0, 0.3)
    return m


def test_properties(model):
    assert (model.sample_rate, model.hop, model.frame_rate, model.latent_dim) == (16000, 640, 25.0, 32)


def test_encoder_causality_by_gradient(model):
    hop, num_frames = model.hop, 9
    wav = (0.1 * torch.randn(1, num_frames * hop)).requires_grad_()
    enc = model.encode(wav, sample=False)
    for t in (0, 2, 4):
        (grad,) = torch.autograd.grad(enc.mean[0, t].sum() + enc.log_std[0, t].sum(), wav, retain_graph=True)
        limit = (t + 1 + LOOKAHEAD) * hop  # frame t's end + the lookahead
        assert grad[0, limit:].abs().max() == 0, f"frame {t} depends on samples >= {limit}"
        # exactly: each causal strided conv makes frame t see samples <= t * hop, plus 2 frames
        assert grad[0, (t + LOOKAHEAD) * hop + 1 :].abs().max() == 0
        assert grad[0, (t + LOOKAHEAD) * hop :].abs().max() > 0, "the lookahead is not used"


def test_decoder_causality_by_gradient(model):
    assert_decoder_causal(model, LOOKAHEAD)


def test_shapes_and_odd_lengths(model):
    with torch.no_grad():
        enc = model.encode(0.1 * torch.randn(2, 3 * 640 + 17))
        assert enc.latents.shape == (2, 4, 32) and enc.frame_lengths.tolist() == [4, 4]
        dec = model.decode(enc.latents, enc.frame_lengths)
        assert dec.wav.shape == (2, 4 * 640) and dec.lengths.tolist() == [2560, 2560]
        rec = model.reconstruct(0.1 * torch.randn(1, 1001), sample=False)
        assert rec.wav.shape == (1, 1001) and rec.wav.abs().max() <= 1.0


def test_batched_equals_single(model):
    torch.manual_seed(1)
    lengths = [16000, 9001, 3 * 640 + 17, 640]
    items = [0.1 * torch.randn(n) for n in lengths]
    batch = torch.zeros(len(items), max(lengths))
    for i, w in enumerate(items):
        batch[i, : len(w)] = w
    batch[1, lengths[1] :] = 0.7  # garbage in the padding must not leak either
    with torch.no_grad():
        enc = model.encode(batch, torch.tensor(lengths), sample=False)
        dec = model.decode(enc.latents, enc.frame_lengths)
        for i, w in enumerate(items):
            one = model.encode(w[None], sample=False)
            t = one.latents.shape[1]
            assert enc.frame_lengths[i] == t
            torch.testing.assert_close(enc.mean[i, :t], one.mean[0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(enc.log_std[i, :t], one.log_std[0], atol=1e-5, rtol=1e-4)
            assert enc.latents[i, t:].abs().sum() == 0
            single = model.decode(one.latents).wav[0]
            torch.testing.assert_close(dec.wav[i, : t * model.hop], single, atol=1e-5, rtol=1e-4)
            assert dec.wav[i, t * model.hop :].abs().sum() == 0


def test_sampling(model):
    wav = 0.1 * torch.randn(1, 3200)
    with torch.no_grad():
        a = model.encode(wav, generator=torch.Generator().manual_seed(3))
        b = model.encode(wav, generator=torch.Generator().manual_seed(3))
        m = model.encode(wav, sample=False)
    torch.testing.assert_close(a.latents, b.latents)
    assert not torch.allclose(a.latents, m.latents)
    torch.testing.assert_close(a.mean, m.latents)


def test_fold_weight_norm_keeps_outputs():
    torch.manual_seed(2)
    model = HoliTok.from_preset("tiny")
    wav = 0.1 * torch.randn(2, 4000)
    with torch.no_grad():
        before = model.reconstruct(wav, sample=False).wav
        assert model.has_weight_norm
        after = model.fold_weight_norm().reconstruct(wav, sample=False).wav
    assert not model.has_weight_norm
    torch.testing.assert_close(before, after, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    "wav,match",
    [
        (torch.zeros(1, 0), "empty"),
        (torch.zeros(0, 100), "empty"),
        (torch.full((1, 100), float("nan")), "NaN"),
        (torch.tensor([[0.0, float("inf")]]), "NaN or infinite"),
        (torch.zeros(100), r"shape \[B, S\].*wav\[None\]"),
        (torch.zeros(1, 1, 100), r"shape \[B, S\]"),
        (torch.zeros(1, 100, dtype=torch.int16), "floating-point"),
    ],
)
def test_bad_waveforms(model, wav, match):
    with pytest.raises(TokenizerInputError, match=match):
        model.encode(wav)


def test_bad_lengths_and_absurd_duration(model):
    with pytest.raises(TokenizerInputError, match=r"lengths must lie in \[1, 100\]"):
        model.encode(torch.zeros(2, 100), torch.tensor([100, 101]))
    with pytest.raises(TokenizerInputError, match="1-D tensor of 2"):
        model.encode(torch.zeros(2, 100), torch.tensor([100]))
    with pytest.raises(TokenizerInputError, match="integers"):
        model.encode(torch.zeros(1, 100), torch.tensor([100.0]))
    too_long = torch.empty(1, 1).expand(1, model.max_samples + 1)  # no memory: a broadcast view
    with pytest.raises(TokenizerInputError, match="max_seconds"):
        model.encode(too_long)


def test_bad_latents(model):
    with pytest.raises(TokenizerInputError, match="latent_dim is 32"):
        model.decode(torch.zeros(1, 5, 16))
    with pytest.raises(TokenizerInputError, match="channel-last"):
        model.decode(torch.zeros(5, 32))
    with pytest.raises(TokenizerInputError, match="NaN"):
        model.decode(torch.full((1, 5, 32), float("nan")))
    with pytest.raises(TokenizerInputError, match="frame_lengths must lie"):
        model.decode(torch.zeros(1, 5, 32), torch.tensor([6]))


def test_save_load_roundtrip_and_wrong_kind(model, tmp_path):
    model.save_pretrained(tmp_path / "ok")
    meta = json.loads((tmp_path / "ok" / "meta.json").read_text())
    assert meta["kind"] == "holitok-tokenizer" and meta["format_version"] == 1
    loaded = HoliTok.from_pretrained(tmp_path / "ok")
    wav = 0.1 * torch.randn(1, 2000)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(wav, sample=False).mean, model.encode(wav, sample=False).mean)
    meta["kind"] = "unified-lm"
    (tmp_path / "ok" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="kind is 'unified-lm'"):
        HoliTok.from_pretrained(tmp_path / "ok")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="missing"):
        HoliTok.from_pretrained(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="does not exist"):
        HoliTok.from_pretrained(tmp_path / "nowhere")
