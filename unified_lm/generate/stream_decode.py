"""Latents -> audio while the latents are still being generated.

The HoliTok decoder is causal except `decoder_lookahead` frames (2 = 80 ms) at its first conv, so
the samples of frame t are final once frame t + lookahead exists. `open_stream_decoder` returns an
object with `push(latents [T_new, D]) -> wav [S]` (samples that became final) and
`flush() -> wav [S]` (the rest, at the end of the utterance); the concatenation of everything it
returns equals `HoliTok.decode` of all latents (tests/test_generate_stream.py).

When `holitok_tokenizer` provides a stateful streaming decoder it is used; until then
`RedecodeStreamer` re-decodes a sliding window (see its docstring for the cost).
"""

from __future__ import annotations

import math
from typing import Optional, Protocol

import torch


class StreamDecoder(Protocol):
    def push(self, latents: torch.Tensor) -> torch.Tensor: ...

    def flush(self) -> torch.Tensor: ...


def decoder_context_frames(cfg) -> int:
    """An upper bound (frames) on how far back the decoder's conv stack looks, from its config.

    conv_pre looks `k_pre - 1 - lookahead` frames back; each causal transposed-conv upsampler
    (kernel k, rate r) ceil((k - 1) / r) input samples; each AMP block, per dilation d,
    d (k - 1) + (k - 1) samples plus two anti-aliased activations (< taps samples each: a 2x
    upsampler and a 2x low-pass of `taps` taps); the final activation + conv_post the same way.
    Samples at a stage's rate R (samples per frame) count 1/R frames.
    """
    taps, rate, frames = cfg.activation_filter_taps, 1, float(cfg.decoder_pre_kernel - 1 - cfg.decoder_lookahead)
    for r, k in zip(cfg.decoder_upsample_rates, cfg.decoder_upsample_kernels):
        frames += math.ceil((k - 1) / r) / rate
        rate *= r
        block = max(sum(d * (ks - 1) + (ks - 1) + 2 * taps for d in ds)
                    for ks, ds in zip(cfg.resblock_kernels, cfg.resblock_dilations))
        frames += block / rate
    frames += (taps + cfg.decoder_post_kernel - 1) / rate
    return math.ceil(frames) + 1


class RedecodeStreamer:
    """Fallback streaming by re-decoding with overlap: exact, O(window) decoder work per push.

    The decode graph is post_proj -> dec_mi_layer (unidirectional LSTM: unbounded memory, cheap at
    25 Hz) -> decoder (conv stack: bounded memory, expensive at the sample rate). Each push re-runs
    the LSTM stack over all frames so far (exact, no access to its state), then runs the conv
    decoder only on [first unsent frame - context, last frame], `context` = decoder_context_frames,
    and emits the samples of frames that no later frame can change. Cost per push: one conv-decoder
    pass over about context + new + lookahead frames (~30 frames for the paper decoder), i.e.
    several times the offline cost per frame: the price of not holding the convs' state.

    `context_latents` [Tc, D]: decoded as left context (e.g. the TTS prompt) but never emitted.
    """

    def __init__(self, tokenizer, context_latents: Optional[torch.Tensor] = None, context_frames: Optional[int] = None):
        self.tok = tokenizer
        cfg = tokenizer.config
        self.lookahead, self.hop = cfg.decoder_lookahead, tokenizer.hop
        self.context = decoder_context_frames(cfg) if context_frames is None else context_frames
        d = tokenizer.latent_dim
        self.latents = torch.zeros(0, d) if context_latents is None else context_latents.detach().float().cpu()
        self.sent = self.latents.shape[0]  # frames whose samples were emitted (or skipped as context)

    def push(self, latents: torch.Tensor) -> torch.Tensor:
        """New raw latents [T_new, D] -> the newly final samples [S] (possibly empty)."""
        self.latents = torch.cat([self.latents, latents.detach().float().cpu()])
        return self._emit(self.latents.shape[0] - self.lookahead)

    def flush(self) -> torch.Tensor:
        """End of the utterance: the remaining samples (the decoder's right edge is zero padding,
        as in the offline decode)."""
        return self._emit(self.latents.shape[0])

    @torch.no_grad()
    def _emit(self, final_end: int) -> torch.Tensor:
        if final_end <= self.sent:
            return torch.zeros(0)
        tok = self.tok
        weight = tok.post_proj.weight
        z = self.latents.to(device=weight.device, dtype=weight.dtype)[None]  # [1, T, D]
        h = tok.post_proj(z.transpose(1, 2))  # [1, D, T]
        h = tok.dec_mi_layer(h.transpose(1, 2)).transpose(1, 2)  # [1, D, T]
        start = max(0, self.sent - self.context)
        wav = tok.decoder(h[:, :, start:])[0, 0]  # [(T - start) * hop]
        out = wav[(self.sent - start) * self.hop:(final_end - start) * self.hop]
        self.sent = final_end
        return out.float().cpu()


class _SkipContext:
    """Adapts a tokenizer's own streaming decoder: pushes the context latents, drops their samples."""

    def __init__(self, native, context_latents: Optional[torch.Tensor], hop: int):
        self.native, self.skip = native, 0
        if context_latents is not None and context_latents.shape[0]:
            self.skip = context_latents.shape[0] * hop
            self._drop(native.push(context_latents))

    def _drop(self, wav: torch.Tensor) -> torch.Tensor:
        wav = wav.reshape(-1)
        cut = min(self.skip, wav.numel())
        self.skip -= cut
        return wav[cut:].float().cpu()

    def push(self, latents: torch.Tensor) -> torch.Tensor:
        return self._drop(self.native.push(latents))

    def flush(self) -> torch.Tensor:
        return self._drop(self.native.flush())


def open_stream_decoder(tokenizer, context_latents: Optional[torch.Tensor] = None) -> StreamDecoder:
    """The tokenizer's own streaming decoder when it has one, else RedecodeStreamer.

    Contract expected from the tokenizer (HoliTok.stream_decoder meets it):
    `tokenizer.stream_decoder()` returns an object with `push(latents [T, D]) -> wav [S]` (the
    samples that became final) and `flush() -> wav [S]` (the rest), whose outputs concatenate
    to `decode(all latents)`.
    """
    factory = getattr(tokenizer, "stream_decoder", None)
    if callable(factory):
        return _SkipContext(factory(), context_latents, tokenizer.hop)
    return RedecodeStreamer(tokenizer, context_latents)
