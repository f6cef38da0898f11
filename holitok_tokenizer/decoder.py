"""Causal BigVGAN-style (AMP) generator: latents [B, D, T] -> waveform [B, 1, T * hop] in [-1, 1].

Module names mirror the official runtime: `conv_pre`, `ups.i.0`, `resblocks.(i * K + j)` with
`convs1`/`convs2`/`activations`, `activation_post`, `conv_post`. Only `conv_pre` looks ahead
(`lookahead` frames); everything after it is causal.
"""

from __future__ import annotations

import torch
from torch import nn

from holitok_tokenizer.activations import AntiAliasedSnakeBeta
from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.layers import CausalConvTranspose1d, conv_padding, padded_conv


class AMPBlock(nn.Module):
    """Anti-aliased multi-periodicity block (BigVGAN "AMPBlock1"), causal.

    For each dilation d: x = x + conv2(act2(conv1_d(act1(x)))). `activations` interleaves
    act1/act2 per dilation (official layout: index 2j before convs1[j], 2j + 1 before convs2[j]).
    """

    def __init__(self, channels: int, kernel_size: int, dilations: list[int], taps: int) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, dilation=d) for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size) for _ in dilations)
        self.pads1 = nn.ModuleList(conv_padding(kernel_size, d) for d in dilations)
        self.pads2 = nn.ModuleList(conv_padding(kernel_size, 1) for _ in dilations)
        self.activations = nn.ModuleList(AntiAliasedSnakeBeta(channels, taps) for _ in range(2 * len(dilations)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, T]
        for j, (conv1, conv2) in enumerate(zip(self.convs1, self.convs2)):
            h = conv1(self.pads1[j](self.activations[2 * j](x)))
            h = conv2(self.pads2[j](self.activations[2 * j + 1](h)))
            x = x + h
        return x


class Decoder(nn.Module):
    """[B, D, T] latents (after the bottleneck) -> [B, 1, T * hop] waveform, clamped to [-1, 1]."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        widths = cfg.decoder_channels
        self.num_kernels = len(cfg.resblock_kernels)
        self.pre_pad = conv_padding(cfg.decoder_pre_kernel, 1, cfg.decoder_lookahead)
        self.conv_pre = nn.Conv1d(cfg.latent_dim, widths[0], cfg.decoder_pre_kernel)
        self.ups = nn.ModuleList(
            nn.Sequential(CausalConvTranspose1d(widths[i], widths[i + 1], k, rate))
            for i, (rate, k) in enumerate(zip(cfg.decoder_upsample_rates, cfg.decoder_upsample_kernels))
        )
        self.resblocks = nn.ModuleList(
            AMPBlock(widths[i + 1], k, list(d), cfg.activation_filter_taps)
            for i in range(len(self.ups))
            for k, d in zip(cfg.resblock_kernels, cfg.resblock_dilations)
        )
        self.activation_post = AntiAliasedSnakeBeta(widths[-1], cfg.activation_filter_taps, learnable_filter=True)
        self.post_pad = conv_padding(cfg.decoder_post_kernel, 1)
        self.conv_post = nn.Conv1d(widths[-1], 1, cfg.decoder_post_kernel, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """BigVGAN's init: conv weights ~ N(0, 0.01) (weight norm then keeps that scale in g)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.normal_(m.weight, 0.0, 0.01)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> [B, 1, T * hop]."""
        return self.synthesize(self.pre(z))

    def pre(self, z: torch.Tensor) -> torch.Tensor:
        """conv_pre: [B, D, T] -> [B, C0, T]; while streaming, the last `lookahead` frames wait."""
        return padded_conv(self.pre_pad, self.conv_pre, z)

    def synthesize(self, x: torch.Tensor) -> torch.Tensor:
        """The causal rest: [B, C0, T] -> [B, 1, T * hop] in [-1, 1]."""
        for i, up in enumerate(self.ups):
            x = up(x)  # [B, C_i+1, T * prod(rates[:i+1])]
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        x = self.conv_post(self.post_pad(self.activation_post(x)))  # [B, 1, T * hop]
        # the runtime clamps instead of tanh (use_tanh_at_final = false)
        return x.clamp(-1.0, 1.0)
