"""Causal iSTFT-head decoder (Vocos-style): latents [B, D, T] -> waveform [B, 1, T * hop] in [-1, 1].

An alternative to the BigVGAN generator (`decoder.py`) for small compute budgets, selected with
`TokenizerConfig.decoder_type = "istft"` (the tiny CPU recipe uses it; `holitok-48k` is BigVGAN).
Instead of upsampling to the sample rate through anti-aliased convolutions, it works at a spectral
frame rate of `istft_upsample` frames per latent (tiny: 4 -> 100 Hz, STFT hop 160 at 16 kHz) and
predicts each frame's log-magnitude and phase; an inverse real DFT, a Hann window and overlap-add
make the waveform. Every layer is a GEMM over a few hundred frames per second instead of a narrow
conv over 16,000 samples, so a training step on CPU is several times cheaper, and the magnitude
output learns the spectral envelope (what STOI and ASR depend on) directly.

Same interface as `Decoder`: `pre` (conv_pre, the only non-causal layer: `decoder_lookahead`
frames) and the causal `synthesize`, so `HoliTok.decode` and streaming work unchanged. Causality
of the overlap-add: spectral frame f is placed at samples [f * h, f * h + n_fft) and output sample
n is final once frame n // h has been made; the `n_fft - h` overlapping samples are carried to the
next chunk while streaming (`OverlapAdd`), dropped at the end offline. The frame therefore also
"predicts" its next `n_fft / h - 1` hops, which the network learns (it sees 2 latents ahead).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.layers import CausalConvTranspose1d, Pad1d, Streamable, conv_padding, padded_conv

_MAX_LOG_MAGNITUDE = 6.0  # exp(6) ~ 400: clamps runaway magnitudes early in training (Vocos clips at 1e2)


class ConvNeXtBlock(nn.Module):
    """x + gamma * pw2(GELU(pw1(LN(dwconv_causal(x))))) over [B, C, F]; dwconv kernel k, left-padded."""

    def __init__(self, channels: int, kernel_size: int, expansion: int = 3) -> None:
        super().__init__()
        self.pad = Pad1d(kernel_size - 1)
        self.dwconv = nn.Conv1d(channels, channels, kernel_size, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.pw1 = nn.Linear(channels, expansion * channels)
        self.pw2 = nn.Linear(expansion * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, F] -> [B, C, F]
        h = padded_conv(self.pad, self.dwconv, x).transpose(1, 2)  # [B, F, C]
        h = self.pw2(F.gelu(self.pw1(self.norm(h))))  # [B, F, C]
        return x + (self.gamma * h).transpose(1, 2)


class OverlapAdd(Streamable, nn.Module):
    """frames [B, n_fft, F] -> [B, 1, F * hop]: frame f added at samples [f * hop, f * hop + n_fft).

    Offline the last `n_fft - hop` samples (which belong to frames not yet made) are dropped;
    streaming carries them into the next chunk, as `CausalConvTranspose1d` does.
    """

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        num = frames.shape[-1]
        total = (num - 1) * self.hop + self.n_fft
        y = F.fold(frames, output_size=(1, total), kernel_size=(1, self.n_fft), stride=(1, self.hop))  # [B, 1, 1, total]
        y = y[:, :, 0, :]  # [B, 1, total]
        keep = num * self.hop
        if self.stream is not None:
            tail = self.stream.get("tail")
            if tail is not None:
                y = torch.cat([y[..., : tail.shape[-1]] + tail, y[..., tail.shape[-1] :]], dim=-1)
            self.stream["tail"] = y[..., keep:]
        return y[..., :keep]


class IstftDecoder(nn.Module):
    """[B, D, T] latents (after the bottleneck) -> [B, 1, T * hop] waveform, clamped to [-1, 1]."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        width, up = cfg.decoder_initial_channel, cfg.istft_upsample
        self.n_fft, self.hop = cfg.istft_n_fft, cfg.hop // up
        self.pre_pad = conv_padding(cfg.decoder_pre_kernel, 1, cfg.decoder_lookahead)
        self.conv_pre = nn.Conv1d(cfg.latent_dim, width, cfg.decoder_pre_kernel)
        # latent rate -> spectral frame rate; identity when istft_upsample == 1
        self.up = CausalConvTranspose1d(width, width, 2 * up, up) if up > 1 else None
        self.in_norm = nn.LayerNorm(width)  # as Vocos after its input conv: the blocks start from unit scale
        self.blocks = nn.ModuleList(ConvNeXtBlock(width, cfg.istft_kernel) for _ in range(cfg.istft_layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 2 * (self.n_fft // 2 + 1))  # log-magnitude ++ phase per bin
        window = torch.hann_window(self.n_fft, periodic=True)
        # Dividing by the steady-state sum of squared windows makes irfft -> window -> OLA the
        # inverse of a Hann-windowed STFT with this hop, so magnitudes keep the STFT's scale.
        steady = torch.zeros(self.hop)  # sum over the overlapping frames of window**2, per sample of a hop
        for start in range(0, self.n_fft, self.hop):
            seg = window[start : start + self.hop].pow(2)
            steady[: seg.numel()] += seg
        self.register_buffer("window", window / steady.mean(), persistent=False)
        self.ola = OverlapAdd(self.n_fft, self.hop)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> [B, 1, T * hop]."""
        return self.synthesize(self.pre(z))

    def pre(self, z: torch.Tensor) -> torch.Tensor:
        """conv_pre: [B, D, T] -> [B, C, T]; while streaming, the last `lookahead` frames wait."""
        return padded_conv(self.pre_pad, self.conv_pre, z)

    def synthesize(self, x: torch.Tensor) -> torch.Tensor:
        """The causal rest: [B, C, T] -> [B, 1, T * hop] in [-1, 1]."""
        if self.up is not None:
            x = self.up(x)  # [B, C, F], F = T * istft_upsample
        x = self.in_norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        h = self.head(self.norm(x.transpose(1, 2)))  # [B, F, 2 * bins]
        log_mag, phase = h.float().chunk(2, dim=-1)  # 2 x [B, F, bins]
        mag = log_mag.clamp(max=_MAX_LOG_MAGNITUDE).exp()
        spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))  # [B, F, bins]
        return self.istft(spec).to(x.dtype).clamp(-1.0, 1.0)

    def istft(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex spectra [B, F, n_fft // 2 + 1] -> [B, 1, F * hop] (causal overlap-add, unclamped).

        The inverse of `torch.stft(x, n_fft, hop, window=hann, center=False)` on every sample that
        all its overlapping frames have reached (n >= n_fft - hop; tested).
        """
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window  # [B, F, n_fft]
        return self.ola(frames.transpose(1, 2))  # [B, 1, F * hop]
