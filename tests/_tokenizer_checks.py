"""Checks shared by the tokenizer tests (both decoder types): random chunkings for streaming, and
decoder causality by gradient."""

from __future__ import annotations

import random

import torch


def chunks(total: int, sizes: list[int], seed: int) -> list[tuple[int, int]]:
    """Random (start, end) chunks covering [0, total), sizes drawn from `sizes` (0 allowed)."""
    rng, out, start = random.Random(seed), [], 0
    while start < total:
        end = min(total, start + rng.choice(sizes))
        out.append((start, end))
        start = end
    return out


def assert_decoder_causal(model, lookahead: int, num_frames: int = 9) -> None:
    """Output frame t's samples depend on latents <= t + lookahead only, and do use t + lookahead."""
    hop = model.hop
    latents = (0.5 * torch.randn(1, num_frames, model.latent_dim)).requires_grad_()
    wav = model.decode(latents).wav  # [1, T * hop]
    for t in (0, 2, 4):
        (grad,) = torch.autograd.grad(wav[0, t * hop : (t + 1) * hop].sum(), latents, retain_graph=True)
        assert grad[0, t + 1 + lookahead :].abs().max() == 0, f"frame {t} output depends on latents > t + {lookahead}"
        assert grad[0, t + lookahead].abs().max() > 0, "the lookahead is not used"
