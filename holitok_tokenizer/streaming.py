"""Chunk-by-chunk encoding and decoding with carried state: the same numbers as offline.

    enc = tok.stream_encoder(batch_size=1, sample=False)
    latents = enc.push(wav_chunk)       # [B, s] samples -> [B, t, D] frames (t may be 0)
    latents = enc.flush()               # end of utterance: the frames still held back
    dec = tok.stream_decoder(batch_size=1)
    wav = dec.push(latents_chunk)       # [B, t, D] -> [B, t' * hop] samples (t' may be 0)
    wav = dec.flush()                   # end of utterance: the rest
    enc.reset(); dec.reset()            # drop an utterance without output

Any chunk sizes give, concatenated, the offline `encode` / `decode` output (to float precision;
tests/test_tokenizer_streaming.py). `flush()` also resets, so a stream object serves one
utterance after another. One item may be passed unbatched (wav [s], latents [t, D]) with
batch_size 1; the outputs are then unbatched too ([t, D], [s]).

What is carried (see `layers.Streamable`): the unconsumed input of every conv (`Pad1d`), the
overlapping outputs of the transposed convs (decoder upsamplers, 2x upsamplers of the anti-aliased
activations), the LSTM (h, c), the low-pass history of the downsamplers.

Latency (algorithmic): the encoder's causal part gives frame t once sample t * hop has arrived; its
output conv looks 2 frames ahead, so latent t is emitted once sample (t + 2) * hop has arrived.
The decoder emits frame t's hop samples once latent t + 2 has arrived (conv_pre's lookahead).
Together 4 frames = 160 ms at 25 Hz, plus compute time; `flush()` emits what the lookahead held
back, with the zero right padding of the offline path.

Posterior sampling (`sample=True`): noise is drawn frame by frame in time order from `generator`
(`bottleneck.posterior_sample`), so a stream equals `encode(..., generator=g)` for an equally
seeded g. A model may drive several streams (each owns its state and binds it to the model's
modules only while it runs a chunk), but not from several threads at once.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from holitok_tokenizer.bottleneck import posterior_sample
from holitok_tokenizer.checks import TokenizerInputError
from holitok_tokenizer.layers import Streamable


class _Stream:
    """Owns one utterance's carried state for the `Streamable` modules under `parts`."""

    def __init__(self, parts: list[nn.Module], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.batch_size = batch_size
        self._modules = [m for part in parts for m in part.modules() if isinstance(m, Streamable)]
        self.reset()

    def reset(self) -> None:
        """Forget the current utterance (no output)."""
        self._states: list[dict] = [{} for _ in self._modules]
        self._steps = 0  # input steps (samples or frames) seen in this utterance
        self._unbatched = False

    @contextmanager
    def _bound(self) -> Iterator[None]:
        """Bind this stream's state to the modules for one chunk; no autograd graph."""
        for module, state in zip(self._modules, self._states):
            module.stream = state
        try:
            with torch.no_grad():
                yield
        finally:
            for module in self._modules:
                module.stream = None

    def _batched(self, x: torch.Tensor, name: str, shape_doc: str, rank: int) -> torch.Tensor:
        """Check a chunk's rank, dtype and batch; an unbatched chunk of rank - 1 becomes [1, ...]."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TokenizerInputError(f"{name} must be a floating-point torch.Tensor {shape_doc}")
        if x.dim() == rank - 1 and self.batch_size == 1:
            x, self._unbatched = x[None], True
        if x.dim() != rank or x.shape[0] != self.batch_size:
            raise TokenizerInputError(f"{name} must have shape {shape_doc} with B = {self.batch_size}, got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise TokenizerInputError(f"{name} contains NaN or infinite values")
        return x

    def _out(self, y: torch.Tensor) -> torch.Tensor:
        return y[0] if self._unbatched else y


class StreamingEncoder(_Stream):
    """wav chunks [B, s] -> latent frames [B, t, D]; see the module docstring."""

    def __init__(self, tok: nn.Module, batch_size: int = 1, sample: bool = False, generator: torch.Generator | None = None):
        super().__init__([tok.audio_encoder, tok.enc_mi_layer], batch_size)
        self.tok, self.sample, self.generator = tok, sample, generator

    def push(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, s] (any s >= 0, at tok.sample_rate) -> the latents [B, t, D] completed by it."""
        wav = self._batched(wav, "wav", "[B, s] (batch, samples)", 2)
        self._steps += wav.shape[1]
        if self._steps > self.tok.max_samples:
            raise TokenizerInputError(f"the stream exceeds max_seconds ({self.tok.config.max_seconds} s); flush it")
        encoder = self.tok.audio_encoder
        with self._bound():
            h = encoder.causal_features(wav[:, None, :].to(self.tok.pre_proj.weight.dtype))  # [B, C, t]
            return self._out(self._latents(encoder.output_conv(h)))

    def flush(self) -> torch.Tensor:
        """End of utterance: the last `encoder_lookahead` frames [B, t, D]; then reset."""
        if self._steps == 0:
            out = self._out(self.tok.pre_proj.weight.new_zeros(self.batch_size, 0, self.tok.latent_dim))
        else:
            encoder = self.tok.audio_encoder
            conv = encoder.output_conv.layer
            right = encoder.output_conv.pad.right  # the zero frames offline encode pads with
            with self._bound():
                out = self._out(self._latents(encoder.output_conv(conv.weight.new_zeros(self.batch_size, conv.in_channels, right))))
        self.reset()
        return out

    def _latents(self, h: torch.Tensor) -> torch.Tensor:
        """Encoder features [B, D, t] -> latents [B, t, D] (posterior mean or sample)."""
        tok = self.tok
        if h.shape[-1] == 0:
            return h.new_zeros(h.shape[0], 0, tok.latent_dim)
        h = tok.enc_mi_layer(h.transpose(1, 2)).transpose(1, 2)  # [B, D, t]
        mean, log_std = tok.pre_proj(h).transpose(1, 2).chunk(2, dim=-1)  # 2 x [B, t, D]
        return posterior_sample(mean, log_std, self.generator) if self.sample else mean


class StreamingDecoder(_Stream):
    """latent chunks [B, t, D] -> waveform chunks [B, s]; see the module docstring."""

    def __init__(self, tok: nn.Module, batch_size: int = 1):
        super().__init__([tok.dec_mi_layer, tok.decoder], batch_size)
        self.tok = tok

    def push(self, latents: torch.Tensor) -> torch.Tensor:
        """latents [B, t, D] (any t >= 0) -> the samples [B, t' * hop] completed by them, in [-1, 1]."""
        tok = self.tok
        latents = self._batched(latents, "latents", f"[B, t, D={tok.latent_dim}] (channel-last)", 3)
        if latents.shape[2] != tok.latent_dim:
            raise TokenizerInputError(f"latents have {latents.shape[2]} channels, the tokenizer's latent_dim is {tok.latent_dim}")
        self._steps += latents.shape[1]
        if latents.shape[1] == 0:
            return self._out(latents.new_zeros(self.batch_size, 0))
        with self._bound():
            h = tok.post_proj(latents.to(tok.post_proj.weight.dtype).transpose(1, 2))  # [B, D, t]
            h = tok.dec_mi_layer(h.transpose(1, 2)).transpose(1, 2)  # [B, D, t]
            return self._out(self._wav(tok.decoder.pre(h)))

    def flush(self) -> torch.Tensor:
        """End of utterance: the samples of the last `decoder_lookahead` frames [B, s]; then reset."""
        decoder = self.tok.decoder
        if self._steps == 0:
            out = self._out(decoder.conv_pre.weight.new_zeros(self.batch_size, 0))
        else:
            zeros = decoder.conv_pre.weight.new_zeros(self.batch_size, decoder.conv_pre.in_channels, decoder.pre_pad.right)
            with self._bound():
                out = self._out(self._wav(decoder.pre(zeros)))
        self.reset()
        return out

    def _wav(self, x: torch.Tensor) -> torch.Tensor:
        """conv_pre output [B, C0, t] -> samples [B, t * hop]."""
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[0], 0)
        return self.tok.decoder.synthesize(x)[:, 0]
