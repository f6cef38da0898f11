"""`PatchEncoder.step` (the KV-cached encoder that generation uses) equals `PatchEncoder.forward`."""

from __future__ import annotations

import pytest
import torch

from unified_lm.patch_encoder import PatchEncoder


def encoder() -> PatchEncoder:
    torch.manual_seed(0)
    enc = PatchEncoder(latent_dim=8, patch_size=4, width=32, layers=3, heads=4, ffn=64, out_dim=24).eval()
    with torch.no_grad():
        for p in enc.parameters():  # LayerNorms start at (1, 0): perturb so every parameter matters
            p.add_(0.1 * torch.randn_like(p))
    return enc


@pytest.mark.parametrize("chunks", [[1] * 7, [3, 1, 1, 1, 1], [2, 4, 1], [7]])
@torch.no_grad()
def test_step_equals_forward(chunks):
    enc = encoder()
    patches = torch.randn(2, 7, 4, 8)  # [B, N, P, D]
    mask = torch.ones(2, 7, 4, dtype=torch.bool)
    mask[1, 2, 3] = False  # a partial patch in the middle: its padded frame must be ignored
    full = enc(patches, mask)  # [B, N, H]
    cache, outs, start = None, [], 0
    for n in chunks:
        out, cache = enc.step(patches[:, start:start + n], mask[:, start:start + n], cache)
        outs.append(out)
        start += n
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.count.tolist() == [7, 7] and cache.keys[0].shape == (2, 4, 7, 8)


@torch.no_grad()
def test_step_leaves_the_input_cache_unchanged():
    enc = encoder()
    patches, mask = torch.randn(1, 3, 4, 8), torch.ones(1, 3, 4, dtype=torch.bool)
    _, cache = enc.step(patches[:, :2], mask[:, :2])
    a, _ = enc.step(patches[:, 2:], mask[:, 2:], cache)
    b, _ = enc.step(patches[:, 2:], mask[:, 2:], cache)  # the same cache again: same answer
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert cache.count.tolist() == [2]


@torch.no_grad()
def test_padded_rows_then_appends_equal_each_row_alone():
    enc = encoder()
    lengths = [5, 2, 0]  # right-padded prompt patches per row (a row may have none)
    prompt = torch.randn(3, 5, 4, 8)
    valid = torch.arange(5)[None] < torch.tensor(lengths)[:, None]  # [B, 5]
    mask = valid[..., None].expand(3, 5, 4).clone()
    first, cache = enc.step(prompt, mask, None, valid)  # [B, 5, H]
    new = torch.randn(3, 3, 4, 8)
    ones = torch.ones(3, 1, 4, dtype=torch.bool)
    appended = []
    for i in range(3):
        out, cache = enc.step(new[:, i:i + 1], ones, cache)
        appended.append(out)
    for b, n in enumerate(lengths):
        alone = enc(torch.cat([prompt[b:b + 1, :n], new[b:b + 1]], dim=1))  # [1, n + 3, H]
        got = torch.cat([first[b:b + 1, :n]] + [a[b:b + 1] for a in appended], dim=1)
        torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)
    # dropping rows keeps the others' state: rows 2 and 0, then one more patch each
    kept, extra = cache.select(torch.tensor([2, 0])), torch.randn(2, 1, 4, 8)
    last, kept = enc.step(extra, ones[:2], kept)
    assert kept.count.tolist() == [4, 9]
    for j, (b, n) in enumerate([(2, 0), (0, 5)]):
        alone = enc(torch.cat([prompt[b:b + 1, :n], new[b:b + 1], extra[j:j + 1]], dim=1))  # [1, n + 4, H]
        torch.testing.assert_close(last[j], alone[0, -1:], atol=1e-5, rtol=1e-5)


def test_step_has_gradients_like_forward():
    """The cached path is the training block code, not an inference-only copy: same gradients."""
    enc = encoder()
    patches, mask = torch.randn(1, 4, 4, 8), torch.ones(1, 4, 4, dtype=torch.bool)
    enc(patches, mask)[:, -1].sum().backward()
    want = enc.blocks[0].qkv.weight.grad.clone()
    enc.zero_grad()
    _, cache = enc.step(patches[:, :3], mask[:, :3])
    enc.step(patches[:, 3:], mask[:, 3:], cache)[0].sum().backward()
    torch.testing.assert_close(enc.blocks[0].qkv.weight.grad, want, atol=1e-5, rtol=1e-4)
