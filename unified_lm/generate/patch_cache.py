"""Incremental (KV-cached) evaluation of the causal PatchEncoder, outside the model's code.

`PatchEncoder.forward` encodes a whole patch sequence; during TTS each step appends one patch, and
re-encoding all patches so far would cost O(n^2) PatchEncoder work per utterance. Because the
encoder is causal (patch n sees patches 0..n), patch n's embedding only needs the keys/values of
patches < n in every layer, so we keep them. This module re-states `CausalBlock.forward` step by
step on the encoder's own parameters (in_proj, blocks[i].norm1/qkv/proj/norm2/mlp, norm, out_proj)
without editing `patch_encoder.py`; `tests/test_generate_patch_cache.py` proves it equals
`PatchEncoder.forward` (on a randomised encoder), so a change to the block is caught at once.

Rows may hold padding patches (a prompt shorter than the batch's longest): they are appended to the
cache with `valid` False, never attended to by later patches, and do not advance the row's patch
position (positions are the patch index within the row's audio, as in training).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from unified_lm.patch_encoder import PatchEncoder, sinusoidal_positions


class PatchEncoderCache:
    """Per-layer keys/values [B, heads, N_cached, W/heads], key validity [B, N_cached], and the
    number of real patches seen per row [B] (= the position of the row's next patch)."""

    def __init__(self, encoder: PatchEncoder, batch_size: int, device: torch.device):
        self.encoder = encoder
        self.keys: list[Optional[torch.Tensor]] = [None] * len(encoder.blocks)
        self.values: list[Optional[torch.Tensor]] = [None] * len(encoder.blocks)
        self.key_valid = torch.zeros(batch_size, 0, dtype=torch.bool, device=device)
        self.count = torch.zeros(batch_size, dtype=torch.long, device=device)

    @torch.no_grad()
    def extend(self, patches: torch.Tensor, frame_mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Append n patches per row. patches [B, n, P, D] (NORMALISED latents), frame_mask [B, n, P],
        valid [B, n] bool (False = padding patch) -> embeddings [B, n, H] (garbage where not valid)."""
        enc = self.encoder
        b, n, p, d = patches.shape
        if n == 0:
            return patches.new_zeros(b, 0, enc.out_proj.out_features)
        patches = patches * frame_mask[..., None].to(patches.dtype)  # [B, n, P, D]
        x = enc.in_proj(patches.reshape(b, n, p * d).to(enc.in_proj.weight.dtype))  # [B, n, W]
        positions = self.count[:, None] + (valid.long().cumsum(dim=1) - 1).clamp(min=0)  # [B, n]
        table = sinusoidal_positions(int(positions.max()) + 1, enc.width, x.device, x.dtype)  # [N_max, W]
        x = x + table[positions]  # [B, n, W]
        key_valid = torch.cat([self.key_valid, valid], dim=1)  # [B, N_old + n]
        mask = self._mask(key_valid, n)  # [B, 1, n, N_old + n]
        for i, block in enumerate(enc.blocks):
            x = self._block(i, block, x, mask)
        self.key_valid, self.count = key_valid, self.count + valid.long().sum(dim=1)
        return enc.out_proj(enc.norm(x))  # [B, n, H]

    def _mask(self, key_valid: torch.Tensor, n: int) -> torch.Tensor:
        """Query i (column N_old + i) may see valid keys at columns <= N_old + i, and always itself
        (a padding query would otherwise see nothing and turn NaN, and NaN values poison later
        queries even at attention weight 0)."""
        total = key_valid.shape[1]
        q_cols = torch.arange(total - n, total, device=key_valid.device)[:, None]  # [n, 1]
        k_cols = torch.arange(total, device=key_valid.device)[None, :]  # [1, N]
        causal = k_cols <= q_cols  # [n, N]
        return ((causal[None] & key_valid[:, None, :]) | (k_cols == q_cols)[None])[:, None]  # [B, 1, n, N]

    def _block(self, i: int, block: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """CausalBlock.forward with cached keys/values: x [B, n, W] -> [B, n, W]."""
        b, n, w = x.shape
        q, k, v = block.qkv(block.norm1(x)).view(b, n, 3, block.heads, w // block.heads).unbind(2)  # [B, n, h, W/h]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, h, n, W/h]
        if self.keys[i] is not None:
            k, v = torch.cat([self.keys[i], k], dim=2), torch.cat([self.values[i], v], dim=2)  # [B, h, N, W/h]
        self.keys[i], self.values[i] = k, v
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, h, n, W/h]
        x = x + block.proj(att.transpose(1, 2).reshape(b, n, w))
        return x + block.mlp(block.norm2(x))

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` ([A'] long indices into the current batch), in that order."""
        self.keys = [None if k is None else k[rows] for k in self.keys]
        self.values = [None if v is None else v[rows] for v in self.values]
        self.key_valid, self.count = self.key_valid[rows], self.count[rows]
