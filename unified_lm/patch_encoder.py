"""Audio input side: latent normalisation, patchify/unpatchify, and the causal PatchEncoder.

Units: a latent *frame* is one D-dim HoliTok vector (25 Hz, 40 ms); a *patch* is P consecutive
frames (P=4: 160 ms, so the LM sees audio at 6.25 Hz). An utterance of T frames gives
ceil(T / P) patches; the last one is zero-padded and its padded frames are masked
(`frame_mask` False) so no loss or history ever uses them.

The PatchEncoder is CAUSAL over patches (patch n sees patches 0..n only): TTS prompts and
autoregressively generated patches are encoded exactly as in training (`PatchEncoder.step`
encodes new patches against a cache of the earlier ones, with the same results as `forward`), and
streaming ASR is possible.
Because it is causal and batches are right-padded, real patches never attend to padding, so no
key-padding mask is needed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn


def patchify(latents: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """latents [T, D] -> (patches [N, P, D] zero-padded, frame_mask [N, P] bool), N = ceil(T / P)."""
    if latents.dim() != 2:
        raise ValueError(f"patchify expects latents [T, D], got shape {tuple(latents.shape)}")
    frames, dim = latents.shape
    n = math.ceil(frames / patch_size)
    pad = n * patch_size - frames
    padded = F.pad(latents, (0, 0, 0, pad))  # [N * P, D]
    mask = torch.arange(n * patch_size, device=latents.device) < frames  # [N * P]
    return padded.view(n, patch_size, dim), mask.view(n, patch_size)  # [N, P, D], [N, P]


def unpatchify(patches: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
    """patches [N, P, D] (+ frame_mask [N, P]) -> latents [T, D] with the masked frames dropped.

    Only a trailing partial patch is allowed (masked frames must be at the end).
    """
    n, p, d = patches.shape
    flat = patches.reshape(n * p, d)  # [N * P, D]
    if frame_mask is None:
        return flat
    keep = frame_mask.reshape(n * p)  # [N * P]
    frames = int(keep.sum())
    if not bool(keep[:frames].all()):
        raise ValueError("unpatchify: masked frames must all be at the end (only the last patch may be partial)")
    return flat[:frames]


class LatentNorm(nn.Module):
    """Per-dim latent normalisation z' = (z - mean) / std, with the stats as saved buffers.

    The HoliTok runtime has no latent scaling (SPEC 1), so downstream models fit per-dim stats
    (`latent_stats.json`: {"mean": [D], "std": [D], "count": N, "latent_dim": D, "frame_rate": 25.0})
    and carry them in their checkpoint. Until stats are loaded it is the identity (count 0).
    """

    def __init__(self, latent_dim: int, frame_rate: float = 25.0):
        super().__init__()
        self.latent_dim, self.frame_rate = latent_dim, frame_rate
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.register_buffer("std", torch.ones(latent_dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        """latents [..., D] -> normalised [..., D]."""
        return (latents - self.mean) / self.std

    def denormalize(self, latents: torch.Tensor) -> torch.Tensor:
        """normalised [..., D] -> latents [..., D] (the tokenizer's scale)."""
        return latents * self.std + self.mean

    @torch.no_grad()
    def load_stats(self, stats: dict[str, Any]) -> None:
        """Load a latent_stats.json dict; checks its latent_dim / frame_rate and that std > 0."""
        mean, std = torch.as_tensor(stats["mean"], dtype=torch.float32), torch.as_tensor(stats["std"], dtype=torch.float32)
        if mean.shape != (self.latent_dim,) or std.shape != (self.latent_dim,):
            raise ValueError(f"latent stats hold {mean.numel()}/{std.numel()} dims, the model expects {self.latent_dim}")
        if int(stats.get("latent_dim", self.latent_dim)) != self.latent_dim:
            raise ValueError(f"latent stats are for latent_dim {stats['latent_dim']}, the model uses {self.latent_dim}")
        if float(stats.get("frame_rate", self.frame_rate)) != self.frame_rate:
            raise ValueError(f"latent stats are for {stats['frame_rate']} Hz latents, the model uses {self.frame_rate} Hz")
        if not bool((std > 0).all()):
            raise ValueError("latent stats: every std must be > 0")
        self.mean.copy_(mean)
        self.std.copy_(std)
        self.count.fill_(int(stats.get("count", 0)))

    def stats(self) -> dict[str, Any]:
        """The latent_stats.json dict of the current buffers."""
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "count": int(self.count),
            "latent_dim": self.latent_dim,
            "frame_rate": self.frame_rate,
        }

    def load_stats_file(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"latent stats file {str(path)!r} does not exist (holitok-tokenizer extract writes it)")
        self.load_stats(json.loads(path.read_text()))

    def save_stats_file(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.stats()))


def _row_mask(bidirectional: torch.Tensor, frame_mask: Optional[torch.Tensor], n: int,
              device: torch.device) -> torch.Tensor:
    """[B, 1, N, N] bool attention mask (True = may attend): causal rows get the lower triangle,
    bidirectional rows every real patch (a patch with at least one unmasked frame); each position
    may always attend to itself, so no query row is empty."""
    causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()  # [N, N]
    real = frame_mask.any(-1) if frame_mask is not None else torch.ones(bidirectional.shape[0], n, dtype=torch.bool,
                                                                         device=device)  # [B, N]
    full = real[:, None, :] | torch.eye(n, dtype=torch.bool, device=device)[None]  # [B, N, N]
    return torch.where(bidirectional.to(device)[:, None, None], full, causal[None])[:, None]  # [B, 1, N, N]


def sinusoidal_positions(n: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[N, dim] sin/cos position table (Vaswani et al. 2017); no parameters, no length limit."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / half)
    angles = torch.arange(n, device=device, dtype=torch.float32)[:, None] * freqs[None]  # [N, dim/2]
    table = torch.cat([angles.sin(), angles.cos()], dim=-1)  # [N, dim]
    return F.pad(table, (0, dim - 2 * half)).to(dtype)


class CausalBlock(nn.Module):
    """Pre-norm Transformer block with causal self-attention (SDPA) and a GELU MLP.

    One code path for training and for cached (incremental) encoding: `past` holds the keys/values
    of earlier positions, and the new ones are returned so a caller can keep them.
    """

    def __init__(self, width: int, heads: int, ffn: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, ffn), nn.GELU(), nn.Linear(ffn, width), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, past: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
                attn_mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x [B, n, W]; past (keys, values) [B, h, N_past, W/h] or None; attn_mask [B, 1, n, N_past + n]
        bool (True = may attend) or None = plain causal over x (then `past` must be None).
        -> (x [B, n, W], (keys, values) [B, h, N_past + n, W/h])."""
        if attn_mask is None and past is not None:
            raise ValueError("CausalBlock: attending to past keys/values needs an explicit attn_mask")
        b, n, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, w // self.heads).unbind(2)  # 3 x [B, n, h, W/h]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, h, n, W/h]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # [B, h, N_past + n, W/h]
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=attn_mask is None,
                                             dropout_p=drop)  # [B, h, n, W/h]
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, w))  # [B, n, W]
        return x + self.mlp(self.norm2(x)), (k, v)


@dataclass
class PatchEncoderCache:
    """Streaming state of a PatchEncoder (see `PatchEncoder.step`).

    keys / values: one [B, heads, N, W/heads] tensor per layer, N = patches cached so far (padding
    patches included); key_valid [B, N] bool (False = a padding patch, never attended to);
    count [B] long = real patches seen per row (= the position of the row's next patch).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    key_valid: torch.Tensor
    count: torch.Tensor

    def select(self, rows: torch.Tensor) -> "PatchEncoderCache":
        """The cache of `rows` only ([B'] long indices into the batch, in that order)."""
        return PatchEncoderCache([k[rows] for k in self.keys], [v[rows] for v in self.values],
                                 self.key_valid[rows], self.count[rows])


def _step_mask(key_valid: torch.Tensor, n: int) -> torch.Tensor:
    """key_valid [B, N] (the last n columns are the new queries) -> attn_mask [B, 1, n, N].

    Query i (column N - n + i) sees the valid keys at columns <= its own, and always itself: a
    padding query would otherwise see nothing and turn NaN, and NaN values poison later queries
    even at attention weight 0.
    """
    total = key_valid.shape[1]
    q_cols = torch.arange(total - n, total, device=key_valid.device)[:, None]  # [n, 1]
    k_cols = torch.arange(total, device=key_valid.device)[None, :]  # [1, N]
    causal = k_cols <= q_cols  # [n, N]
    return ((causal[None] & key_valid[:, None, :]) | (k_cols == q_cols)[None])[:, None]  # [B, 1, n, N]


class PatchEncoder(nn.Module):
    """Causal Transformer over latent patches -> backbone-sized embeddings.

    A patch [P, D] is flattened to P*D, projected to `width`, given a sinusoidal position (patch
    index within the example's audio), passed through `layers` causal blocks, and projected to
    `out_dim` (the backbone hidden size). Padded frames are zeroed first. Inputs are cast to the
    weights' dtype (latents are float32; the model may be bf16 without autocast).

    `forward` encodes whole sequences (training); `step` encodes new patches against a
    `PatchEncoderCache` of the earlier ones (generation: O(n) per new patch instead of re-encoding
    all n). Both run the same blocks, and `tests/test_generate_patch_cache.py` pins step == forward.
    """

    def __init__(self, latent_dim: int, patch_size: int, width: int, layers: int, heads: int, ffn: int,
                 out_dim: int, dropout: float = 0.0):
        super().__init__()
        self.latent_dim, self.patch_size, self.width = latent_dim, patch_size, width
        self.in_proj = nn.Linear(patch_size * latent_dim, width)
        self.blocks = nn.ModuleList(CausalBlock(width, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, out_dim)

    def _project(self, patches: torch.Tensor, frame_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """patches [B, N, P, D], frame_mask [B, N, P] or None -> [B, N, W] (padded frames zeroed)."""
        b, n, p, d = patches.shape
        patches = patches.to(self.in_proj.weight.dtype)
        if frame_mask is not None:
            patches = patches * frame_mask[..., None].to(patches.dtype)  # [B, N, P, D]
        return self.in_proj(patches.reshape(b, n, p * d))  # [B, N, W]

    def forward(self, patches: torch.Tensor, frame_mask: Optional[torch.Tensor] = None,
                bidirectional: Optional[torch.Tensor] = None) -> torch.Tensor:
        """patches [B, N, P, D] (normalised latents), frame_mask [B, N, P] -> embeddings [B, N, out_dim].
        `bidirectional` [B] bool: rows whose patches attend to every real patch of the row (past and
        future; padding patches excluded) instead of causally; None/all False = causal everywhere."""
        x = self._project(patches, frame_mask)  # [B, N, W]
        x = x + sinusoidal_positions(x.shape[1], self.width, x.device, x.dtype)[None]  # [B, N, W]
        mask = None
        if bidirectional is not None and bool(bidirectional.any()):
            mask = _row_mask(bidirectional, frame_mask, x.shape[1], x.device)  # [B, 1, N, N]
        for block in self.blocks:
            x, _ = block(x, attn_mask=mask)
        return self.out_proj(self.norm(x))  # [B, N, out_dim]

    def step(self, patches: torch.Tensor, frame_mask: torch.Tensor, cache: Optional[PatchEncoderCache] = None,
             valid: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, PatchEncoderCache]:
        """Encode n new patches per row after the cached ones (cache None = nothing cached yet).

        patches [B, n, P, D] (normalised latents), frame_mask [B, n, P], valid [B, n] bool (False =
        a padding patch, e.g. a prompt shorter than the batch's longest: cached but never attended
        to, and it does not advance the row's position; None = all real) -> (embeddings [B, n,
        out_dim], garbage where not valid; the cache extended by the n patches). The input cache is
        not modified.
        """
        b, n = patches.shape[:2]
        if cache is None:
            cache = self._empty_cache(b, patches.device)
        if valid is None:
            valid = torch.ones(b, n, dtype=torch.bool, device=patches.device)
        if n == 0:
            return self.out_proj.weight.new_zeros(b, 0, self.out_proj.out_features), cache
        x = self._project(patches, frame_mask)  # [B, n, W]
        positions = cache.count[:, None] + (valid.long().cumsum(dim=1) - 1).clamp(min=0)  # [B, n]
        x = x + sinusoidal_positions(int(positions.max()) + 1, self.width, x.device, x.dtype)[positions]  # [B, n, W]
        key_valid = torch.cat([cache.key_valid, valid], dim=1)  # [B, N_old + n]
        mask = _step_mask(key_valid, n)  # [B, 1, n, N_old + n]
        keys, values = [], []
        for block, k, v in zip(self.blocks, cache.keys, cache.values):
            x, (k, v) = block(x, (k, v), mask)
            keys.append(k)
            values.append(v)
        new = PatchEncoderCache(keys, values, key_valid, cache.count + valid.long().sum(dim=1))
        return self.out_proj(self.norm(x)), new  # [B, n, out_dim]

    def _empty_cache(self, batch_size: int, device: torch.device) -> PatchEncoderCache:
        w = self.in_proj.weight
        heads = self.blocks[0].heads if len(self.blocks) else 1
        empty = [w.new_zeros(batch_size, heads, 0, self.width // heads, device=device) for _ in self.blocks]
        return PatchEncoderCache(empty, list(empty), torch.zeros(batch_size, 0, dtype=torch.bool, device=device),
                                 torch.zeros(batch_size, dtype=torch.long, device=device))
