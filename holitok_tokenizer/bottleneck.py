"""Temporal variational bottleneck: Linear D->H, residual unidirectional LSTM (H), Linear H->D.

The official runtime calls the two stacks `enc_mi_layer` / `dec_mi_layer` (nn.Sequential: 0 Linear,
1 ResidualLSTM with its `lstm`, 2 Linear); the posterior projection is `pre_proj` (1x1 conv
D -> 2D: mean ++ log_std) and the decoder-side input projection `post_proj` (1x1 conv D -> D).
The LSTM is unidirectional, so it is causal; padding after an item's valid frames cannot affect them.
"""

from __future__ import annotations

import torch
from torch import nn

from holitok_tokenizer.layers import Streamable


class ResidualLSTM(Streamable, nn.Module):
    """x + LSTM(x): [B, T, H] -> [B, T, H]; `num_layers` stacked unidirectional layers.

    Streaming carries the LSTM state (h, c) [num_layers, B, H] x 2 from chunk to chunk.
    """

    def __init__(self, hidden: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(hidden, hidden, num_layers=num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stream is None:
            y, _ = self.lstm(x)
        else:
            y, self.stream["state"] = self.lstm(x, self.stream.get("state"))
        return x + y


def temporal_stack(dim: int, hidden: int, num_layers: int) -> nn.Sequential:
    """[B, T, D] -> [B, T, D]: Linear D->H, ResidualLSTM(H), Linear H->D."""
    return nn.Sequential(nn.Linear(dim, hidden), ResidualLSTM(hidden, num_layers), nn.Linear(hidden, dim))


def posterior_sample(
    mean: torch.Tensor, log_std: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """z = mean + eps * exp(log_std), mean/log_std [B, T, D] -> [B, T, D].

    eps is drawn frame by frame ([B, D] per frame, in time order), so drawing a sequence in
    chunks from the same `generator` gives the same numbers as drawing it at once (streaming
    encode == offline encode).
    """
    batch, frames, dim = mean.shape
    noise = [torch.randn(batch, dim, generator=generator, device=mean.device, dtype=mean.dtype) for _ in range(frames)]
    eps = torch.stack(noise, dim=1) if noise else torch.zeros_like(mean)  # [B, T, D]
    return mean + eps * log_std.exp()
