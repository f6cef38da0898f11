"""Typed config of the HoliTok tokenizer, its named presets, and the public runtime's config dict.

`TokenizerConfig` is the single source of truth for the architecture (SPEC.md section 1).
Derived quantities (`hop`, `frame_rate`, decoder widths) are properties, checked in `validate()`.

Presets:
- `holitok-48k`: exactly the published inference graph (48 kHz, hop 1920 = 25 Hz, D = 128).
  180,900,989 state-dict values in weight-norm form (the number in the official shape list).
- `tiny`: 16 kHz, hop 640 (still 25 Hz, so sequence lengths match the paper's), D = 32. Every
  structural feature of the paper model is kept (causal strided encoder, residual units, LSTM
  bottleneck, anti-aliased AMP decoder, 2 + 2 frames lookahead) but with small widths, 3 residual
  units per encoder stage, 2 AMP kernels and 2 LSTM layers, so that it trains on 2 CPU cores.
  D = 32 keeps the latent small enough for the tiny unified model and the VAE's KL to be cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from holitok_common.config import ConfigError, merge, validate


@dataclass
class TokenizerConfig:
    """Architecture of the HoliTok VAE. Lengths in samples unless stated; lookaheads in frames."""

    sample_rate: int = 48000
    # First conv width, then one width per encoder stage (= the runtime's `downsample_channels`).
    encoder_channels: list[int] = field(default_factory=lambda: [12, 24, 48, 96, 192, 384, 768])
    encoder_strides: list[int] = field(default_factory=lambda: [2, 2, 2, 4, 6, 10])
    encoder_first_kernel: int = 3
    encoder_res_units: int = 6  # residual units per stage; unit i has dilation 2**i
    encoder_res_kernel: int = 3
    encoder_out_kernel: int = 5  # non-causal output conv: looks `encoder_lookahead` frames ahead
    encoder_lookahead: int = 2
    latent_dim: int = 128
    bottleneck_hidden: int = 512
    bottleneck_layers: int = 4
    decoder_initial_channel: int = 1536  # widths halve after every upsampler
    decoder_pre_kernel: int = 5  # non-causal conv_pre: looks `decoder_lookahead` frames ahead
    decoder_lookahead: int = 2
    decoder_upsample_rates: list[int] = field(default_factory=lambda: [10, 6, 4, 2, 2, 2])
    decoder_upsample_kernels: list[int] = field(default_factory=lambda: [20, 12, 8, 4, 4, 4])
    resblock_kernels: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilations: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    decoder_post_kernel: int = 7
    # "bigvgan": the published AMP generator (decoder.py). "istft": a Vocos-style iSTFT head
    # (istft_decoder.py) for small compute budgets; it uses decoder_initial_channel as its width,
    # decoder_pre_kernel / decoder_lookahead for conv_pre, and none of the upsample/resblock keys.
    decoder_type: str = "bigvgan"
    istft_upsample: int = 4  # spectral frames per latent frame (STFT hop = hop / istft_upsample)
    istft_n_fft: int = 640
    istft_layers: int = 8  # ConvNeXt blocks at the spectral frame rate
    istft_kernel: int = 7  # their causal depthwise conv
    activation_filter_taps: int = 12  # kaiser-sinc taps of the 2x anti-aliasing resampler
    max_seconds: float = 1800.0  # inputs longer than this are rejected (30 min)

    @property
    def hop(self) -> int:
        """Samples per latent frame (product of the encoder strides)."""
        return math.prod(self.encoder_strides)

    @property
    def frame_rate(self) -> float:
        """Latent frames per second (Hz)."""
        return self.sample_rate / self.hop

    @property
    def decoder_channels(self) -> list[int]:
        """Width after conv_pre, then after each upsampler: initial // 2**i."""
        return [self.decoder_initial_channel // 2**i for i in range(len(self.decoder_upsample_rates) + 1)]

    def validate(self) -> None:
        def positive(name: str, values: list[int]) -> None:
            if not values or any(v <= 0 for v in values):
                raise ConfigError(f"tokenizer.{name} must be a non-empty list of positive integers, got {values}")

        positive("encoder_strides", self.encoder_strides)
        positive("encoder_channels", self.encoder_channels)
        positive("decoder_upsample_rates", self.decoder_upsample_rates)
        positive("resblock_kernels", self.resblock_kernels)
        if len(self.encoder_channels) != len(self.encoder_strides) + 1:
            raise ConfigError(
                f"tokenizer.encoder_channels needs 1 + len(encoder_strides) = {len(self.encoder_strides) + 1} "
                f"widths (first conv, then one per stage), got {len(self.encoder_channels)}"
            )
        if self.decoder_type not in ("bigvgan", "istft"):
            raise ConfigError(f"tokenizer.decoder_type must be 'bigvgan' or 'istft', got {self.decoder_type!r}")
        if self.decoder_type == "istft":
            self._validate_istft()
        else:
            self._validate_bigvgan()
        for name, kernel, look in (
            ("encoder", self.encoder_out_kernel, self.encoder_lookahead),
            ("decoder", self.decoder_pre_kernel, self.decoder_lookahead),
        ):
            if not 0 <= look <= kernel - 1:
                raise ConfigError(f"tokenizer.{name}_lookahead must be in [0, kernel-1 = {kernel - 1}], got {look}")
        for name in ("sample_rate", "latent_dim", "bottleneck_hidden", "bottleneck_layers", "encoder_res_units"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"tokenizer.{name} must be positive, got {getattr(self, name)}")
        if self.activation_filter_taps < 2 or self.activation_filter_taps % 2:
            raise ConfigError(f"tokenizer.activation_filter_taps must be even and >= 2, got {self.activation_filter_taps}")
        if self.max_seconds <= 0:
            raise ConfigError(f"tokenizer.max_seconds must be positive, got {self.max_seconds}")

    def _validate_bigvgan(self) -> None:
        up_hop = math.prod(self.decoder_upsample_rates)
        if up_hop != self.hop:
            raise ConfigError(
                f"decoder upsampling product {up_hop} (rates {self.decoder_upsample_rates}) must equal the "
                f"encoder hop {self.hop} (strides {self.encoder_strides})"
            )
        if len(self.decoder_upsample_kernels) != len(self.decoder_upsample_rates):
            raise ConfigError("tokenizer.decoder_upsample_kernels needs one kernel per upsample rate")
        for r, k in zip(self.decoder_upsample_rates, self.decoder_upsample_kernels):
            if k < r:
                raise ConfigError(f"upsample kernel {k} is shorter than its rate {r}; the transposed conv would leave gaps")
        if len(self.resblock_dilations) != len(self.resblock_kernels) or any(not d for d in self.resblock_dilations):
            raise ConfigError("tokenizer.resblock_dilations needs one non-empty dilation list per resblock kernel")
        if self.decoder_channels[-1] < 1:
            raise ConfigError(
                f"decoder_initial_channel {self.decoder_initial_channel} halves to 0 after "
                f"{len(self.decoder_upsample_rates)} upsamplers; use at least {2 ** len(self.decoder_upsample_rates)}"
            )

    def _validate_istft(self) -> None:
        up, n_fft = self.istft_upsample, self.istft_n_fft
        if up < 1 or self.hop % up:
            raise ConfigError(f"tokenizer.istft_upsample must be a positive divisor of the hop {self.hop}, got {up}")
        stft_hop = self.hop // up
        if n_fft < stft_hop or n_fft % 2 or n_fft % stft_hop:
            raise ConfigError(
                f"tokenizer.istft_n_fft must be even, >= and a multiple of the STFT hop {stft_hop} "
                f"(hop / istft_upsample), got {n_fft}"
            )
        if self.istft_layers < 0 or self.istft_kernel < 1 or self.decoder_initial_channel < 1:
            raise ConfigError("tokenizer.istft_layers must be >= 0, istft_kernel and decoder_initial_channel >= 1")

    @classmethod
    def from_preset(cls, name: str) -> "TokenizerConfig":
        if name not in PRESETS:
            raise ConfigError(f"unknown tokenizer preset {name!r}; known presets: {sorted(PRESETS)}")
        return validate(PRESETS[name]())


def holitok_48k() -> TokenizerConfig:
    """The published HoliTok inference graph (SPEC.md section 1): the dataclass defaults."""
    return TokenizerConfig()


def tiny() -> TokenizerConfig:
    """16 kHz, hop 640 (25 Hz), D = 32: the CPU test/smoke model (see module docstring)."""
    return TokenizerConfig(
        sample_rate=16000,
        encoder_channels=[8, 16, 32, 64, 128],
        encoder_strides=[2, 4, 8, 10],
        encoder_res_units=3,
        latent_dim=32,
        bottleneck_hidden=128,
        bottleneck_layers=2,
        decoder_initial_channel=128,
        decoder_upsample_rates=[10, 8, 4, 2],
        decoder_upsample_kernels=[20, 16, 8, 4],
        resblock_kernels=[3, 7],
        resblock_dilations=[[1, 3, 5], [1, 3, 5]],
    )


PRESETS: dict[str, Callable[[], TokenizerConfig]] = {"holitok-48k": holitok_48k, "tiny": tiny}


# --- the public runtime's config dict (e.g. holitok_golden_w16.config.json) ---------------------

# Features of the runtime that our graph does not implement: key -> the only value we accept.
_REQUIRED_VALUES: dict[str, Any] = {
    "type": "BigVGANVAEVQDS",
    "resblock": "1",
    "activation": "snakebeta",
    "snake_logscale": True,
    "use_vae": True,
    "use_vq": False,
    "causal": True,
    "causal_encoder": True,
    "fixed_filter": True,
    "use_bias_at_final": False,
    "use_tanh_at_final": False,
    "use_invertible_downsample": False,
    "vq_downsample_factor": 1,
}
# Keys that only configure training-time parts (flow prior, distillation heads, quantiser options):
# accepted with any value and ignored, because those parts are not in the inference graph.
RUNTIME_TRAINING_KEYS = frozenset(
    {
        "use_flow", "flow_hidden_channels", "quant_after_supervise_encoder", "quant_mean", "distill_wavlm",
        "distill_pitch", "distill_intensity", "distill_xvector", "sid_classifier", "use_supervise",
        "add_fm_noise",
    }
)
_MAPPED_KEYS = {
    "sample_rate": "sample_rate",
    "downsample_rates": "encoder_strides",
    "downsample_channels": "encoder_channels",
    "latent_dim": "latent_dim",
    "mi_num_layers": "bottleneck_layers",
    "upsample_initial_channel": "decoder_initial_channel",
    "upsample_rates": "decoder_upsample_rates",
    "upsample_kernel_sizes": "decoder_upsample_kernels",
    "resblock_kernel_sizes": "resblock_kernels",
    "resblock_dilation_sizes": "resblock_dilations",
    "num_encoder_lookahead": "encoder_lookahead",
    "num_decoder_lookahead": "decoder_lookahead",
}


def config_from_runtime(data: Mapping[str, Any], strict: bool = True) -> TokenizerConfig:
    """Build a TokenizerConfig from the public runtime's config dict.

    `downsample_channels` are literal widths: the first conv's output width, then each stage's
    output width (the golden checkpoint's [12, 4, 4, 6, 12, 24, 48] gives conv weights [12, 1, 3],
    [4, 12, 4], [4, 4, 4], [6, 4, 4], ...; the full model's are [12, 24, ..., 768]). The bottleneck
    width is 4 * latent_dim (as in both the golden and the official shapes). Unknown keys raise
    unless `strict=False`.
    """
    wrong = [f"{k}={data[k]!r} (we support only {v!r})" for k, v in _REQUIRED_VALUES.items() if k in data and data[k] != v]
    if wrong:
        raise ConfigError("runtime config uses features this implementation cannot represent: " + "; ".join(wrong))
    unknown = sorted(set(data) - set(_REQUIRED_VALUES) - RUNTIME_TRAINING_KEYS - set(_MAPPED_KEYS))
    if unknown and strict:
        raise ConfigError(f"runtime config has keys we do not know: {unknown}; pass strict=False to ignore them")
    missing = sorted(k for k in ("downsample_rates", "downsample_channels", "upsample_rates", "latent_dim") if k not in data)
    if missing:
        raise ConfigError(f"runtime config lacks required keys {missing}")
    values = {ours: data[theirs] for theirs, ours in _MAPPED_KEYS.items() if theirs in data}
    values["bottleneck_hidden"] = 4 * int(data["latent_dim"])
    return validate(merge(TokenizerConfig(), values, "runtime_config"))
