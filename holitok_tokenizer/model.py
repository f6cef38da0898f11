"""`HoliTok`: the tokenizer interface every other package uses.

    wav [B, S] (samples at `sample_rate`) --encode--> latents [B, T, D] at `frame_rate` Hz
    latents [B, T, D] --decode--> wav [B, T * hop]

T = ceil(S / hop). Latents are channel-last. The module tree (`audio_encoder`, `enc_mi_layer`,
`pre_proj`, `post_proj`, `dec_mi_layer`, `decoder`) mirrors the official runtime, so its state-dict
names are the official ones (weight norm aside, see `convert.py`). Two forms: training (weight norm
active on every conv of encoder and decoder) and inference (`fold_weight_norm()`: plain weights,
same outputs). Sample rate is a property: callers resample (the CLI does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from holitok_tokenizer import checks
from holitok_tokenizer.bottleneck import posterior_sample, temporal_stack
from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.decoder import Decoder
from holitok_tokenizer.encoder import AudioEncoder
from holitok_tokenizer.istft_decoder import IstftDecoder
from holitok_tokenizer.layers import apply_weight_norm, fold_weight_norm, has_weight_norm

if TYPE_CHECKING:
    from holitok_tokenizer.streaming import StreamingDecoder, StreamingEncoder


@dataclass
class EncodeOutput:
    """latents/mean/log_std [B, T, D] (zero beyond each item's frames); frame_lengths [B] (frames)."""

    latents: torch.Tensor
    frame_lengths: torch.Tensor
    mean: torch.Tensor
    log_std: torch.Tensor


@dataclass
class DecodeOutput:
    """wav [B, T * hop] in [-1, 1] (zero beyond each item's length); lengths [B] (samples)."""

    wav: torch.Tensor
    lengths: torch.Tensor


@dataclass
class ReconstructOutput:
    """Decoded waveform (trimmed to the input's sample count) and the encoding it came from."""

    wav: torch.Tensor  # [B, S]
    lengths: torch.Tensor  # [B] samples
    encoded: EncodeOutput


def _frame_mask(frame_lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """[B] -> [B, T] bool, True on valid frames."""
    return torch.arange(num_frames, device=frame_lengths.device)[None, :] < frame_lengths[:, None]


class HoliTok(nn.Module):
    """The HoliTok VAE tokenizer (SPEC.md section 1)."""

    def __init__(self, config: TokenizerConfig, weight_norm: bool = True) -> None:
        super().__init__()
        config.validate()
        self.config = config
        d, h = config.latent_dim, config.bottleneck_hidden
        self.audio_encoder = AudioEncoder(config)
        self.enc_mi_layer = temporal_stack(d, h, config.bottleneck_layers)
        self.pre_proj = nn.Conv1d(d, 2 * d, 1)  # -> [mean ++ log_std]
        self.post_proj = nn.Conv1d(d, d, 1)
        self.dec_mi_layer = temporal_stack(d, h, config.bottleneck_layers)
        # each decoder type initialises itself (BigVGAN's N(0, 0.01); Vocos-style for istft)
        self.decoder = IstftDecoder(config) if config.decoder_type == "istft" else Decoder(config)
        if weight_norm:
            self.apply_weight_norm()

    # --- construction / persistence -------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, weight_norm: bool = True) -> "HoliTok":
        """Randomly initialised model of a named preset ('holitok-48k', 'tiny'); training form by default."""
        return cls(TokenizerConfig.from_preset(name), weight_norm=weight_norm)

    @classmethod
    def from_pretrained(cls, directory: str | Path, weight_norm: bool = False) -> "HoliTok":
        """Load a directory written by `save_pretrained` (CPU tensors; inference form unless `weight_norm`)."""
        from holitok_tokenizer.checkpoint import load_pretrained

        return load_pretrained(cls, directory, weight_norm=weight_norm)

    def save_pretrained(self, directory: str | Path, extra_meta: dict | None = None) -> Path:
        """Write model.safetensors + config.json + meta.json into `directory` (created if needed)."""
        from holitok_tokenizer.checkpoint import save_pretrained

        return save_pretrained(self, directory, extra_meta)

    def apply_weight_norm(self) -> "HoliTok":
        """Training form: weight-normalise every conv of the encoder and decoder (not the 1x1 projections)."""
        apply_weight_norm(self.audio_encoder)
        apply_weight_norm(self.decoder)
        return self

    def fold_weight_norm(self) -> "HoliTok":
        """Inference form: plain weights w = g * v / |v|; outputs are unchanged."""
        fold_weight_norm(self)
        return self

    @property
    def has_weight_norm(self) -> bool:
        return has_weight_norm(self)

    # --- shape facts ----------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return self.config.hop

    @property
    def frame_rate(self) -> float:
        """Latent frames per second (Hz)."""
        return self.config.frame_rate

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def max_samples(self) -> int:
        return int(self.config.max_seconds * self.config.sample_rate)

    def num_frames(self, num_samples: int) -> int:
        """T = ceil(S / hop)."""
        return -(-num_samples // self.hop)

    # --- the interface --------------------------------------------------------------------------
    def encode(
        self,
        wav: torch.Tensor,
        lengths: torch.Tensor | None = None,
        sample: bool = True,
        generator: torch.Generator | None = None,
    ) -> EncodeOutput:
        """wav [B, S] float at `sample_rate`; lengths [B] samples (None = all S) -> EncodeOutput.

        `sample`: z = mean + eps * exp(log_std) (the runtime's default); otherwise z = mean.
        `generator` (on the model's device) makes the sample reproducible; eps is drawn frame by
        frame, so `stream_encoder` with an equally seeded generator gives the same latents.
        """
        dtype = self.pre_proj.weight.dtype
        wav, lengths = checks.check_wav(wav, lengths, self.max_samples, self.sample_rate)
        wav = wav.to(dtype)
        num_frames = self.num_frames(wav.shape[1])
        frame_lengths = (lengths + self.hop - 1) // self.hop  # [B]
        valid = torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]  # [B, S]
        wav = wav * valid.to(dtype)
        frame_mask = _frame_mask(frame_lengths, num_frames)  # [B, T]
        h = self.audio_encoder(wav[:, None, :], frame_mask)  # [B, D, T]
        h = self.enc_mi_layer(h.transpose(1, 2)).transpose(1, 2)  # [B, D, T]
        mean, log_std = self.pre_proj(h).transpose(1, 2).chunk(2, dim=-1)  # 2 x [B, T, D]
        latents = posterior_sample(mean, log_std, generator) if sample else mean
        keep = frame_mask[:, :, None].to(dtype)  # [B, T, 1]
        return EncodeOutput(latents * keep, frame_lengths, mean * keep, log_std * keep)

    def decode(self, latents: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> DecodeOutput:
        """latents [B, T, D]; frame_lengths [B] (None = all T) -> DecodeOutput(wav [B, T * hop], lengths)."""
        latents, frame_lengths = checks.check_latents(
            latents, frame_lengths, self.latent_dim, self.max_samples // self.hop + 1
        )
        latents = latents.to(self.post_proj.weight.dtype)
        frame_mask = _frame_mask(frame_lengths, latents.shape[1])[:, None, :]  # [B, 1, T]
        h = self.post_proj(latents.transpose(1, 2))  # [B, D, T]
        h = self.dec_mi_layer(h.transpose(1, 2)).transpose(1, 2)  # [B, D, T]
        # conv_pre looks ahead: zero padded frames so a batch item sees what it would see alone
        wav = self.decoder(h * frame_mask.to(h.dtype))[:, 0, :]  # [B, T * hop]
        lengths = frame_lengths * self.hop
        valid = torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]
        return DecodeOutput(wav * valid.to(wav.dtype), lengths)

    def stream_encoder(
        self, batch_size: int = 1, sample: bool = False, generator: torch.Generator | None = None
    ) -> "StreamingEncoder":
        """A chunk-by-chunk encoder: `push(wav [B, s]) -> latents [B, t, D]`, `flush()`, `reset()`."""
        from holitok_tokenizer.streaming import StreamingEncoder

        return StreamingEncoder(self, batch_size, sample=sample, generator=generator)

    def stream_decoder(self, batch_size: int = 1) -> "StreamingDecoder":
        """A chunk-by-chunk decoder: `push(latents [B, t, D]) -> wav [B, s]`, `flush()`, `reset()`."""
        from holitok_tokenizer.streaming import StreamingDecoder

        return StreamingDecoder(self, batch_size)

    def reconstruct(
        self,
        wav: torch.Tensor,
        lengths: torch.Tensor | None = None,
        sample: bool = True,
        generator: torch.Generator | None = None,
    ) -> ReconstructOutput:
        """encode then decode; the output is trimmed to S samples and zeroed beyond `lengths`."""
        encoded = self.encode(wav, lengths, sample=sample, generator=generator)
        decoded = self.decode(encoded.latents, encoded.frame_lengths)
        num_samples = wav.shape[-1]
        lengths = decoded.lengths.clamp(max=num_samples) if lengths is None else lengths.to(decoded.lengths)
        valid = torch.arange(num_samples, device=wav.device)[None, :] < lengths[:, None]
        out = decoded.wav[:, :num_samples] * valid.to(decoded.wav.dtype)
        return ReconstructOutput(out, lengths, encoded)

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, sample: bool = True) -> ReconstructOutput:
        return self.reconstruct(wav, lengths, sample=sample)
