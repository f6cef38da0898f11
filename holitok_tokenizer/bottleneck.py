"""Temporal variational bottleneck: Linear D->H, residual unidirectional LSTM (H), Linear H->D.

The official runtime calls the two stacks `enc_mi_layer` / `dec_mi_layer` (nn.Sequential: 0 Linear,
1 ResidualLSTM with its `lstm`, 2 Linear); the posterior projection is `pre_proj` (1x1 conv
D -> 2D: mean ++ log_std) and the decoder-side input projection `post_proj` (1x1 conv D -> D).
The LSTM is unidirectional, so it is causal; padding after an item's valid frames cannot affect them.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualLSTM(nn.Module):
    """x + LSTM(x): [B, T, H] -> [B, T, H]; `num_layers` stacked unidirectional layers."""

    def __init__(self, hidden: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(hidden, hidden, num_layers=num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        return x + y


def temporal_stack(dim: int, hidden: int, num_layers: int) -> nn.Sequential:
    """[B, T, D] -> [B, T, D]: Linear D->H, ResidualLSTM(H), Linear H->D."""
    return nn.Sequential(nn.Linear(dim, hidden), ResidualLSTM(hidden, num_layers), nn.Linear(hidden, dim))
