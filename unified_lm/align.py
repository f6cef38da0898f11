"""Guided attention for TTS rows: a diagonal prior on backbone attention from speech to text.

A from-scratch decoder-only TTS must discover by itself which text token the next patch speaks;
at CPU scale it does not within the budget (docs/tts_diagnosis.md: the tiny model's dev flow loss
was the same with the right text and with another utterance's text). Guided attention (Tachibana
et al. 2018, "DCTTS") makes the discovery cheap: since speech follows its text roughly at a constant
rate, the query of patch k of K attends to text token n of N near n/N = k/K. Here the loss rewards
the attention mass that chosen heads of chosen backbone layers put on text tokens near that
diagonal:

    G[k, n] = exp(-((k + 0.5) / K - (n + 0.5) / N)^2 / (2 sigma^2))           (1 on the diagonal)
    loss    = mean over TTS rows, heads, speech queries k of (1 - sum_n A[k, n] G[k, n])

where A are the attention probabilities of the speech queries over the text keys (mass elsewhere,
on speech keys or specials, counts as misplaced). 0 = every head looks at its diagonal text token.
The TTS layout (sequences.py) is <|tts|> text <|audio_start|> [prompt] [target]: the text is the
prompt transcript + target text and the speech the prompt + target patches, so one diagonal covers
both. Training only; inference uses no prior (the heads have learned to follow the text).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from unified_lm.sequences import SequenceBatch, tts_text_spans


def diagonal_prior(k: int, n: int, sigma: float, device: torch.device | None = None) -> torch.Tensor:
    """[k, n] Gaussian band around the normalised diagonal (see module doc)."""
    q = (torch.arange(k, device=device, dtype=torch.float32) + 0.5) / k
    t = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return torch.exp(-(q[:, None] - t[None, :]) ** 2 / (2 * sigma ** 2))


def guided_attention_loss(attentions: Sequence[torch.Tensor], batch: SequenceBatch, heads: int,
                          sigma: float) -> tuple[torch.Tensor, int]:
    """(mean loss, number of TTS rows) for attention probabilities [B, H, L, L] of some layers.
    `heads`: the first `heads` heads of each layer are guided (0 = all)."""
    spans = tts_text_spans(batch)
    zero = torch.zeros((), device=batch.input_ids.device)
    if not spans or not attentions:
        return zero, 0
    losses = []
    for b, text in spans:  # text: [N] key positions
        speech = batch.audio_slot[b].nonzero().flatten()  # [K] query positions
        if text.numel() == 0:
            continue
        prior = diagonal_prior(speech.numel(), text.numel(), sigma, speech.device)  # [K, N]
        for attn in attentions:
            h = attn.shape[1] if heads <= 0 else min(heads, attn.shape[1])
            a = attn[b, :h][:, speech][:, :, text].float()  # [h, K, N]
            losses.append(1.0 - (a * prior).sum(-1).mean())
    if not losses:
        return zero, 0
    return torch.stack(losses).mean(), len(spans)


def attention_modules(lm: nn.Module, layers: Sequence[int]) -> list[nn.Module]:
    """The self-attention modules of the given decoder layers of an HF causal LM (Llama/Qwen layout:
    `get_decoder().layers[i].self_attn`)."""
    stack = getattr(lm.get_decoder(), "layers", None)
    if stack is None or not all(hasattr(layer, "self_attn") for layer in stack):
        raise ValueError(f"{type(lm).__name__}: guided attention (loss.align) needs a decoder with "
                         "`layers[i].self_attn` (Llama/Qwen-style); set loss.align=0 for this backbone")
    bad = [i for i in layers if not -len(stack) <= i < len(stack)]
    if bad:
        raise ValueError(f"loss.align_layers {list(bad)} out of range: the backbone has {len(stack)} layers")
    return [stack[i].self_attn for i in layers]


@contextmanager
def capture_attention(modules: Sequence[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Collects the attention probabilities each module returns (HF attention modules return
    (output, weights); the weights exist with attn_implementation='eager' only)."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: object) -> None:
        weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
        if weights is None:
            raise RuntimeError("guided attention: the attention module returned no weights; "
                               "set backbone.attn_implementation=eager (loss.align > 0 needs it)")
        captured.append(weights)

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
