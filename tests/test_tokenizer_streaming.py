"""Streaming == offline for any chunking (tiny preset and the golden w16 model), reset, batches,
latency, sampling, and the anti-aliased activation against its textbook definition."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from _tokenizer_checks import chunks
from safetensors.torch import load_file

from holitok_tokenizer.activations import AntiAliasedSnakeBeta
from holitok_tokenizer.checks import TokenizerInputError
from holitok_tokenizer.convert import convert_official
from holitok_tokenizer.model import HoliTok

GOLDEN = Path(__file__).parent / "assets" / "holitok_golden_w16"
ATOL = 1e-5
LOOKAHEAD = 2  # frames, encoder and decoder


def _tiny() -> HoliTok:
    torch.manual_seed(0)
    model = HoliTok.from_preset("tiny").fold_weight_norm().eval()
    with torch.no_grad():  # non-trivial SnakeBeta parameters, so that every path matters
        for name, p in model.named_parameters():
            if name.endswith((".alpha", ".beta")):
                p.normal_(0.0, 0.3)
    return model


@pytest.fixture(scope="module")
def tiny() -> HoliTok:
    return _tiny()


@pytest.fixture(scope="module")
def golden():
    model, _ = convert_official(f"{GOLDEN}.model.pt", f"{GOLDEN}.config.json")
    return model.fold_weight_norm().eval(), load_file(f"{GOLDEN}.io.safetensors")["input.audio"][:, 0]


def _stream_encode(model: HoliTok, wav: torch.Tensor, sizes: list[int], seed: int, **kw) -> torch.Tensor:
    enc = model.stream_encoder(batch_size=wav.shape[0], **kw)
    parts = [enc.push(wav[:, a:b]) for a, b in chunks(wav.shape[1], sizes, seed)]
    return torch.cat(parts + [enc.flush()], dim=1)  # [B, T, D]


def _stream_decode(model: HoliTok, latents: torch.Tensor, sizes: list[int], seed: int) -> torch.Tensor:
    dec = model.stream_decoder(batch_size=latents.shape[0])
    parts = [dec.push(latents[:, a:b]) for a, b in chunks(latents.shape[1], sizes, seed)]
    return torch.cat(parts + [dec.flush()], dim=1)  # [B, T * hop]


@pytest.mark.parametrize("seed,sizes", [(0, [1, 2, 5, 640, 1001]), (1, [0, 333, 1280, 4000]), (2, [7, 639, 641])])
def test_encode_stream_equals_offline(tiny, seed, sizes):
    wav = 0.1 * torch.randn(2, 7 * tiny.hop + 123, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        offline = tiny.encode(wav, sample=False).latents
    streamed = _stream_encode(tiny, wav, sizes, seed)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=ATOL, rtol=0)


def test_encode_one_sample_chunks(tiny):
    wav = 0.1 * torch.randn(1, 3 * tiny.hop + 5)
    with torch.no_grad():
        offline = tiny.encode(wav, sample=False).latents
    torch.testing.assert_close(_stream_encode(tiny, wav, [1], 0), offline, atol=ATOL, rtol=0)


@pytest.mark.parametrize("seed,sizes", [(0, [1]), (1, [0, 1, 2, 3]), (2, [4, 9])])
def test_decode_stream_equals_offline(tiny, seed, sizes):
    latents = torch.randn(2, 11, tiny.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        offline = tiny.decode(latents).wav
    streamed = _stream_decode(tiny, latents, sizes, seed)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=ATOL, rtol=0)


def test_chained_encode_decode_stream(tiny):
    """Audio chunks -> streaming encoder -> its frames straight into the streaming decoder."""
    wav = 0.1 * torch.randn(1, 6 * tiny.hop + 77)
    with torch.no_grad():
        offline = tiny.reconstruct(wav, sample=False)
    enc, dec = tiny.stream_encoder(), tiny.stream_decoder()
    out = [dec.push(enc.push(wav[:, a:b])) for a, b in chunks(wav.shape[1], [1, 100, 999], 3)]
    out += [dec.push(enc.flush()), dec.flush()]
    streamed = torch.cat(out, dim=1)
    assert streamed.shape[1] == offline.encoded.latents.shape[1] * tiny.hop
    torch.testing.assert_close(streamed[:, : wav.shape[1]], offline.wav, atol=ATOL, rtol=0)


def test_reset_and_back_to_back_utterances(tiny):
    a, b = 0.1 * torch.randn(1, 2000), 0.1 * torch.randn(1, 3000)
    with torch.no_grad():
        expected_a, expected_b = tiny.encode(a, sample=False).latents, tiny.encode(b, sample=False).latents
    enc = tiny.stream_encoder()
    enc.push(torch.randn(1, 1500))  # an abandoned utterance
    enc.reset()
    got_a = torch.cat([enc.push(a), enc.flush()], dim=1)  # flush resets: the next one starts clean
    got_b = torch.cat([enc.push(b[:, :10]), enc.push(b[:, 10:]), enc.flush()], dim=1)
    torch.testing.assert_close(got_a, expected_a, atol=ATOL, rtol=0)
    torch.testing.assert_close(got_b, expected_b, atol=ATOL, rtol=0)
    dec = tiny.stream_decoder()
    dec.push(torch.randn(1, 4, tiny.latent_dim))
    dec.reset()
    with torch.no_grad():
        expected = tiny.decode(expected_a).wav
    torch.testing.assert_close(torch.cat([dec.push(expected_a), dec.flush()], dim=1), expected, atol=ATOL, rtol=0)
    assert enc.flush().shape == (1, 0, tiny.latent_dim) and dec.flush().shape == (1, 0)


def test_latency_is_two_frames_each(tiny):
    hop, k = tiny.hop, 3
    enc = tiny.stream_encoder()
    # latent t is out once sample (t + 2) * hop has arrived: t = 0..k after (k + 2) * hop + 1 samples
    assert enc.push(0.1 * torch.randn(1, (k + LOOKAHEAD) * hop)).shape[1] == k
    assert enc.push(0.1 * torch.randn(1, 1)).shape[1] == 1
    assert enc.flush().shape[1] == LOOKAHEAD
    dec = tiny.stream_decoder()
    assert dec.push(torch.randn(1, k + LOOKAHEAD, tiny.latent_dim)).shape[1] == k * hop
    assert dec.flush().shape[1] == LOOKAHEAD * hop


def test_sampling_stream_equals_offline(tiny):
    wav = 0.1 * torch.randn(2, 5 * tiny.hop)
    with torch.no_grad():
        offline = tiny.encode(wav, generator=torch.Generator().manual_seed(7)).latents
    streamed = _stream_encode(tiny, wav, [1, 500, 900], 4, sample=True, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(streamed, offline, atol=ATOL, rtol=0)


def test_unbatched_items_and_bad_chunks(tiny):
    wav = 0.1 * torch.randn(2000)
    enc = tiny.stream_encoder()
    latents = torch.cat([enc.push(wav), enc.flush()], dim=0)  # [T, D]
    with torch.no_grad():
        torch.testing.assert_close(latents, tiny.encode(wav[None], sample=False).latents[0], atol=ATOL, rtol=0)
    dec = tiny.stream_decoder()
    assert torch.cat([dec.push(latents), dec.flush()]).shape == (latents.shape[0] * tiny.hop,)
    with pytest.raises(TokenizerInputError, match="B = 2"):
        tiny.stream_encoder(batch_size=2).push(torch.zeros(3, 100))
    with pytest.raises(TokenizerInputError, match="latent_dim is 32"):
        tiny.stream_decoder().push(torch.zeros(1, 2, 16))
    with pytest.raises(TokenizerInputError, match="NaN"):
        tiny.stream_decoder().push(torch.full((1, 2, 32), float("nan")))


def test_golden_model_streams_like_offline(golden):
    model, wav = golden  # 48 kHz, hop 1920, widths reduced
    with torch.no_grad():
        offline = model.encode(wav, sample=False).latents
        offline_wav = model.decode(offline).wav
    streamed = _stream_encode(model, wav, [1, 997, 1920, 5003], 5)
    torch.testing.assert_close(streamed, offline, atol=ATOL, rtol=0)
    torch.testing.assert_close(_stream_decode(model, offline, [0, 1, 2, 5], 6), offline_wav, atol=ATOL, rtol=0)


def _reference_up(up, x: torch.Tensor) -> torch.Tensor:
    """SPEC.md section 1 literally: transposed conv (stride 2), times 2, last taps - 2 dropped."""
    weight = up.filter.expand(x.shape[1], 1, up.taps)
    return 2 * F.conv_transpose1d(x, weight, stride=2, groups=x.shape[1])[..., : 2 * x.shape[-1]]


def _reference_down(lowpass, y: torch.Tensor) -> torch.Tensor:
    """Left replicate-pad taps - 1, stride-2 low-pass."""
    weight = lowpass.filter.expand(y.shape[1], 1, lowpass.taps)
    return F.conv1d(F.pad(y, (lowpass.taps - 1, 0), mode="replicate"), weight, stride=2, groups=y.shape[1])


def _reference_snake(snake, y: torch.Tensor) -> torch.Tensor:
    alpha, beta = snake.alpha.exp()[:, None], snake.beta.exp()[:, None]
    return y + 1.0 / (beta + 1e-9) * torch.sin(alpha * y) ** 2


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("grad", [False, True])
def test_polyphase_activation_equals_definition(learnable, grad):
    """The polyphase implementation (fused in-place path without autograd) == the definition."""
    torch.manual_seed(3)
    act = AntiAliasedSnakeBeta(6, 12, learnable_filter=learnable)
    with torch.no_grad():
        for p in act.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(2, 6, 101)
    with torch.set_grad_enabled(grad):
        up = _reference_up(act.upsample, x)
        expected = _reference_down(act.downsample.lowpass, _reference_snake(act.act, up))
        torch.testing.assert_close(act.upsample(x), up, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(act.downsample(up), _reference_down(act.downsample.lowpass, up), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(act(x), expected, atol=1e-6, rtol=1e-5)
    if grad:  # the training path keeps gradients to the input and every parameter
        act(x.requires_grad_()).sum().backward()
        assert x.grad is not None and all(p.grad is not None for p in act.parameters())
