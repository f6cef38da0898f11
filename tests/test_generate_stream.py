"""Streaming decode == offline decode, for the tokenizer alone and for whole TTS utterances."""

from __future__ import annotations

import pytest
import torch

from test_generate_fixtures import tiny_holitok, tiny_lm
from unified_lm.generate import (
    IncompatibleModelsError, RedecodeStreamer, Synthesizer, TTSOptions, TTSRequest, Transcriber, encode_waveforms,
    open_stream_decoder,
)
from unified_lm.generate.stream_decode import decoder_context_frames


@pytest.fixture(scope="module")
def tok():
    return tiny_holitok()


@pytest.mark.parametrize("context,push", [(0, 4), (5, 4), (3, 1), (0, 7)])
def test_redecode_streamer_equals_offline_decode(tok, context, push):
    latents = torch.randn(27, tok.latent_dim, generator=torch.Generator().manual_seed(context + push))
    with torch.no_grad():
        offline = tok.decode(latents[None]).wav[0, context * tok.hop:]  # [S]
    stream = RedecodeStreamer(tok, latents[:context] if context else None)
    chunks = [stream.push(latents[i:i + push]) for i in range(context, 27, push)] + [stream.flush()]
    assert all(c.numel() % tok.hop == 0 for c in chunks)
    assert chunks[0].numel() == max(0, min(push, 27 - context) - tok.config.decoder_lookahead) * tok.hop  # 80 ms lookahead
    torch.testing.assert_close(torch.cat(chunks), offline, atol=1e-6, rtol=0)
    assert offline.abs().max() > 1e-3  # a non-trivial signal was compared


def test_context_bound_covers_the_presets():
    from holitok_tokenizer.config import TokenizerConfig

    # tiny: conv_pre 2 + first upsampler 2 + its AMP blocks 14.4 + later stages ~3 frames
    assert 20 <= decoder_context_frames(TokenizerConfig.from_preset("tiny")) <= 30
    assert 25 <= decoder_context_frames(TokenizerConfig.from_preset("holitok-48k")) <= 40


def test_tts_stream_equals_offline_synthesis(tmp_path, tok):
    model = tiny_lm(tmp_path)
    synth = Synthesizer(model, tok, TTSOptions(steps=2, stop_threshold=0.6, max_seconds=1.5, seed=3))
    prompt = encode_waveforms(tok, [0.1 * torch.randn(9000, generator=torch.Generator().manual_seed(0))])[0]
    request = TTSRequest("s", "the cat sees the dog.", "a red ball.", prompt)
    offline = synth.synthesize([request])[0]
    chunks = list(synth.stream(request))
    assert len(chunks) > 1 and offline.wav.numel() == offline.num_patches * model.cfg.patch_size * tok.hop
    torch.testing.assert_close(torch.cat(chunks), offline.wav, atol=1e-6, rtol=0)


def test_incompatible_tokenizer_is_refused(tmp_path):
    model = tiny_lm(tmp_path)
    with pytest.raises(IncompatibleModelsError, match="16-dim"):
        Synthesizer(model, tiny_holitok(latent_dim=16))
    with pytest.raises(IncompatibleModelsError, match="Hz"):
        Transcriber(model, tiny_holitok(encoder_strides=[2, 4, 8, 20], decoder_upsample_rates=[10, 8, 4, 4],
                                        decoder_upsample_kernels=[20, 16, 8, 8]))


def test_a_native_tokenizer_stream_decoder_is_used_with_the_context_cut(tok):
    class WithStreaming:  # a tokenizer that has its own streaming decoder (here: the fallback, no context)
        hop, latent_dim, config = tok.hop, tok.latent_dim, tok.config
        calls = 0

        def stream_decoder(self):
            WithStreaming.calls += 1
            return RedecodeStreamer(tok)

    latents = torch.randn(19, tok.latent_dim, generator=torch.Generator().manual_seed(1))
    stream = open_stream_decoder(WithStreaming(), latents[:6])
    out = torch.cat([stream.push(latents[i:i + 4]) for i in range(6, 19, 4)] + [stream.flush()])
    with torch.no_grad():
        torch.testing.assert_close(out, tok.decode(latents[None]).wav[0, 6 * tok.hop:], atol=1e-6, rtol=0)
    assert WithStreaming.calls == 1
