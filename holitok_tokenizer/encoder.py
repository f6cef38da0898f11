"""Causal convolutional encoder: waveform [B, 1, S] -> features [B, D, ceil(S / hop)].

The module tree mirrors the official runtime (`audio_encoder.generator.N...`), so state-dict names
map 1:1. `generator` is one nn.Sequential:
    0 PaddedConv1d(1 -> C0, k=3, causal), 1 LeakyReLU(0.2),
    then per stage s (3 entries each): PaddedConv1d(stride s, k = 2s, causal), ResStack, LeakyReLU(0.2),
    last: PaddedConv1d(C_last -> D, k=5) looking `lookahead` frames ahead (not causal).
Frame t of the causal part depends on input samples <= t * hop only (see `conv_padding`).
"""

from __future__ import annotations

import torch
from torch import nn

from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.layers import PaddedConv1d, conv_padding


class ResidualUnit(nn.Sequential):
    """x + [LeakyReLU(0.01), pad, conv(k, dilation), LeakyReLU(0.01), pad, conv(k)](x); causal.

    Entries 2 and 5 are the convs (official names `layers.i.2`, `layers.i.5`); 1 and 4 are the
    parameter-free causal paddings.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__(
            nn.LeakyReLU(0.01),
            conv_padding(kernel_size, dilation),
            nn.Conv1d(channels, channels, kernel_size, dilation=dilation),
            nn.LeakyReLU(0.01),
            conv_padding(kernel_size, 1),
            nn.Conv1d(channels, channels, kernel_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, T]
        return x + super().forward(x)


class ResStack(nn.Module):
    """`num_units` residual units; unit i has dilation 2**i (receptive field grows geometrically)."""

    def __init__(self, channels: int, num_units: int, kernel_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ResidualUnit(channels, kernel_size, 2**i) for i in range(num_units))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, T]
        for unit in self.layers:
            x = unit(x)
        return x


class AudioEncoder(nn.Module):
    """[B, 1, S] samples -> [B, D, ceil(S / hop)] features (before the bottleneck)."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        widths = cfg.encoder_channels
        layers: list[nn.Module] = [PaddedConv1d(1, widths[0], cfg.encoder_first_kernel), nn.LeakyReLU(0.2)]
        for c_in, c_out, stride in zip(widths[:-1], widths[1:], cfg.encoder_strides):
            layers += [
                PaddedConv1d(c_in, c_out, 2 * stride, stride=stride),
                ResStack(c_out, cfg.encoder_res_units, cfg.encoder_res_kernel),
                nn.LeakyReLU(0.2),
            ]
        layers.append(PaddedConv1d(widths[-1], cfg.latent_dim, cfg.encoder_out_kernel, lookahead=cfg.encoder_lookahead))
        self.generator = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for the leaky ReLUs, zero biases, residual branches' last conv scaled by 0.1.

        With PyTorch's default conv init the signal shrinks ~0.6x per conv while the default biases
        add constants, so at init the features of speech and of silence differed by < 1 % and a
        decoder had nothing to learn from for hundreds of steps (the iSTFT decoder's mel loss
        plateaued until this init; docs/tokenizer_learning_proof.md). Here features scale with the
        input and are exactly zero for silence. Released checkpoints overwrite all of it.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, ResidualUnit):
                with torch.no_grad():
                    m[5].weight.mul_(0.1)

    @property
    def output_conv(self) -> PaddedConv1d:
        return self.generator[-1]

    def causal_features(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, 1, S] -> [B, C_last, ceil(S / hop)]: everything but the look-ahead output conv.

        While streaming, a chunk may complete no step of a strided conv: the rest is then skipped
        and [B, C_last, 0] returned (the carried state holds the pending samples).
        """
        h = wav
        for layer in self.generator[:-1]:
            h = layer(h)
            if h.shape[-1] == 0:
                return h.new_empty(h.shape[0], self.output_conv.layer.in_channels, 0)
        return h

    def forward(self, wav: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """wav [B, 1, S]; frame_mask [B, T] (1 = valid) or None -> features [B, D, T].

        The mask zeroes the causal features of padded frames before the look-ahead output conv,
        so a batch item sees exactly the zeros it would see alone (padding cannot leak backwards).
        """
        h = self.causal_features(wav)  # [B, C_last, T]
        if frame_mask is not None:
            h = h * frame_mask[:, None, :].to(h.dtype)
        return self.output_conv(h)
