"""The KV-cached PatchEncoder of the generation module equals `PatchEncoder.forward`."""

from __future__ import annotations

import torch

from unified_lm.generate.patch_cache import PatchEncoderCache
from unified_lm.patch_encoder import PatchEncoder


def encoder() -> PatchEncoder:
    torch.manual_seed(0)
    enc = PatchEncoder(latent_dim=8, patch_size=4, width=32, layers=3, heads=4, ffn=64, out_dim=24).eval()
    with torch.no_grad():
        for p in enc.parameters():  # LayerNorms start at (1, 0): perturb so every parameter matters
            p.add_(0.1 * torch.randn_like(p))
    return enc


@torch.no_grad()
def test_incremental_equals_full_forward():
    enc = encoder()
    patches = torch.randn(2, 7, 4, 8)  # [B, N, P, D]
    mask = torch.ones(2, 7, 4, dtype=torch.bool)
    mask[1, 2, 3] = False  # a partial patch in the middle: its padded frame must be ignored
    full = enc(patches, mask)  # [B, N, H]
    cache = PatchEncoderCache(enc, 2, torch.device("cpu"))
    valid = torch.ones(2, 1, dtype=torch.bool)
    out = torch.cat([cache.extend(patches[:, :3], mask[:, :3], valid.expand(2, 3))]
                    + [cache.extend(patches[:, i:i + 1], mask[:, i:i + 1], valid) for i in range(3, 7)], dim=1)
    torch.testing.assert_close(out, full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_padded_rows_then_appends_equal_each_row_alone():
    enc = encoder()
    lengths = [5, 2, 0]  # right-padded prompt patches per row (a row may have none)
    prompt = torch.randn(3, 5, 4, 8)
    valid = torch.arange(5)[None] < torch.tensor(lengths)[:, None]  # [B, 5]
    mask = valid[..., None].expand(3, 5, 4).clone()
    cache = PatchEncoderCache(enc, 3, torch.device("cpu"))
    first = cache.extend(prompt, mask, valid)  # [B, 5, H]
    new = torch.randn(3, 3, 4, 8)
    ones = torch.ones(3, 1, 4, dtype=torch.bool)
    appended = [cache.extend(new[:, i:i + 1], ones, ones[..., 0]) for i in range(3)]
    cache.keep(torch.tensor([2, 0]))  # dropping rows keeps the others' state
    last = cache.extend(torch.randn(2, 1, 4, 8), ones[:2], ones[:2, :, 0])
    assert last.shape == (2, 1, 24) and torch.isfinite(last).all()
    for b, n in enumerate(lengths):
        alone = enc(torch.cat([prompt[b:b + 1, :n], new[b:b + 1]], dim=1))  # [1, n + 3, H]
        got = torch.cat([first[b:b + 1, :n]] + [a[b:b + 1] for a in appended], dim=1)
        torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)
