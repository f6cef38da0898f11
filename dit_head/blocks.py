"""Building blocks of the DiT head: timestep embedding, adaLN-Zero block, final layer.

Follows DiT (Peebles & Xie 2023, facebookresearch/DiT models.py): every block is modulated by the
conditioning vector c through a zero-initialised linear layer giving (shift, scale, gate) for the
attention and MLP branches, so each block starts as the identity; the final layer is
zero-initialised too, so a fresh head predicts velocity exactly 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# DiT embeds integer diffusion steps 0..999; our flow time t is in [0, 1], so it is scaled by this
# factor first to keep the sinusoid frequencies spread over the same band.
TIME_SCALE = 1000.0


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of flow time. t [N] in [0, 1] -> [N, dim], always float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = TIME_SCALE * t.float()[:, None] * freqs[None, :]  # [N, half]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # [N, dim]


class TimestepEmbedder(nn.Module):
    """t [N] -> [N, width]: sinusoidal features followed by a 2-layer SiLU MLP."""

    def __init__(self, width: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: Tensor) -> Tensor:
        features = timestep_embedding(t, self.freq_dim)  # [N, freq_dim] float32
        return self.mlp(features.to(self.mlp[0].weight.dtype))  # [N, width]


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x [N, L, W] normalised tokens; shift, scale [N, W] per example -> [N, L, W]."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
    """Bidirectional multi-head self-attention over the head's small window of frames."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, key_mask: Tensor | None) -> Tensor:
        """x [N, L, W]; key_mask [N, 1, 1, L] bool, True = key may be attended (None = all)."""
        n, length, width = x.shape
        qkv = self.qkv(x).view(n, length, 3, self.heads, width // self.heads)  # [N, L, 3, H, W/H]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [N, H, L, W/H]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)  # [N, H, L, W/H]
        out = out.transpose(1, 2).reshape(n, length, width)  # [N, L, W]
        return self.proj(out)


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero conditioning (DiT, Fig. 3)."""

    def __init__(self, width: int, heads: int, ffn: int):
        super().__init__()
        # No affine parameters: the adaLN shift/scale play that role.
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, ffn), nn.GELU(approximate="tanh"), nn.Linear(ffn, width))
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: Tensor, c: Tensor, key_mask: Tensor | None) -> Tensor:
        """x [N, L, W] tokens; c [N, W] conditioning; key_mask [N, 1, 1, L] bool or None."""
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.adaln(c).chunk(6, dim=-1)  # 6 x [N, W]
        x = x + gate_a[:, None, :] * self.attn(modulate(self.norm1(x), shift_a, scale_a), key_mask)
        x = x + gate_m[:, None, :] * self.mlp(modulate(self.norm2(x), shift_m, scale_m))
        return x

    def zero_init(self) -> None:
        """adaLN-Zero: all gates (and shifts/scales) start at 0, so the block is the identity."""
        nn.init.zeros_(self.adaln[-1].weight)
        nn.init.zeros_(self.adaln[-1].bias)


class FinalLayer(nn.Module):
    """Modulated LayerNorm then Linear(width -> out_dim); zero-initialised (velocity 0 at init)."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, out_dim)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x [N, L, W]; c [N, W] -> [N, L, out_dim]."""
        shift, scale = self.adaln(c).chunk(2, dim=-1)  # 2 x [N, W]
        return self.linear(modulate(self.norm(x), shift, scale))

    def zero_init(self) -> None:
        for layer in (self.adaln[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
