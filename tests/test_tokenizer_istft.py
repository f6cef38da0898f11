"""The iSTFT-head decoder (`decoder_type: istft`): exact inverse STFT, causality by gradient,
streaming == offline, weight-norm folding, save/load, config checks."""

from __future__ import annotations

import pytest
import torch

from _tokenizer_checks import assert_decoder_causal, chunks

from holitok_common.config import ConfigError
from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.istft_decoder import IstftDecoder
from holitok_tokenizer.model import HoliTok

LOOKAHEAD = 2


def _config(**over) -> TokenizerConfig:
    cfg = TokenizerConfig.from_preset("tiny")
    values = {"decoder_type": "istft", "decoder_initial_channel": 32, "istft_layers": 2, **over}
    for key, value in values.items():
        setattr(cfg, key, value)
    cfg.validate()
    return cfg


@pytest.fixture(scope="module")
def model() -> HoliTok:
    torch.manual_seed(0)
    m = HoliTok(_config()).eval()
    with torch.no_grad():  # larger weights than the init, so that every path carries signal
        for p in m.decoder.parameters():
            p.normal_(0.0, 0.2)
    return m


def test_istft_inverts_a_hann_stft():
    dec = IstftDecoder(_config())
    x = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    spec = torch.stft(x, dec.n_fft, dec.hop, window=torch.hann_window(dec.n_fft), center=False, return_complex=True)
    y = dec.istft(spec.transpose(1, 2))[:, 0]  # [B, F * hop]
    assert y.shape == (2, spec.shape[-1] * dec.hop)
    start = dec.n_fft - dec.hop  # from here on every sample has all its overlapping frames
    torch.testing.assert_close(y[:, start:], x[:, start : y.shape[1]], atol=1e-5, rtol=0)


def test_decoder_is_the_istft_kind_and_shapes(model):
    assert isinstance(model.decoder, IstftDecoder)
    with torch.no_grad():
        out = model.decode(torch.randn(2, 5, model.latent_dim), torch.tensor([5, 3]))
    assert out.wav.shape == (2, 5 * model.hop) and out.lengths.tolist() == [3200, 1920]
    assert out.wav[1, 1920:].abs().max() == 0 and out.wav.abs().max() <= 1.0


def test_decoder_causality_by_gradient(model):
    assert_decoder_causal(model, LOOKAHEAD)


@pytest.mark.parametrize("seed,sizes", [(0, [1]), (1, [0, 1, 2, 3]), (2, [4, 9])])
def test_decode_stream_equals_offline(model, seed, sizes):
    latents = torch.randn(2, 11, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        offline = model.decode(latents).wav
    dec = model.stream_decoder(batch_size=2)
    parts = [dec.push(latents[:, a:b]) for a, b in chunks(latents.shape[1], sizes, seed)]
    streamed = torch.cat(parts + [dec.flush()], dim=1)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=0)


def test_weight_norm_fold_and_save_load(tmp_path):
    torch.manual_seed(1)
    m = HoliTok(_config())
    assert m.has_weight_norm
    wav = 0.1 * torch.randn(1, 3000)
    with torch.no_grad():
        before = m.reconstruct(wav, sample=False).wav
        folded = m.fold_weight_norm().reconstruct(wav, sample=False).wav
    torch.testing.assert_close(before, folded, atol=1e-6, rtol=1e-5)
    m.save_pretrained(tmp_path / "tok")
    loaded = HoliTok.from_pretrained(tmp_path / "tok")
    assert loaded.config.decoder_type == "istft" and isinstance(loaded.decoder, IstftDecoder)
    with torch.no_grad():
        torch.testing.assert_close(loaded.reconstruct(wav, sample=False).wav, folded)


@pytest.mark.parametrize(
    "over,match",
    [
        ({"decoder_type": "wavenet"}, "decoder_type must be"),
        ({"istft_upsample": 3}, "divisor of the hop"),
        ({"istft_n_fft": 100}, "multiple of the STFT hop"),
        ({"istft_n_fft": 80}, "even, >= and a multiple"),
    ],
)
def test_bad_istft_configs(over, match):
    with pytest.raises(ConfigError, match=match):
        _config(**over)
