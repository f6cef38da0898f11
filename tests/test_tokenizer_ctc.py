"""Character CTC head of tokenizer training (`loss.ctc`): text normalisation, which items count,
that the gradient reaches the latents, and that a head can learn a fixed transcript."""

from __future__ import annotations

import pytest
import torch

from holitok_tokenizer.train.ctc import CHARS, VOCAB, CharCTCHead, char_ids


def _text(ids):
    return "".join(CHARS[i - 1] for i in ids)


def test_char_ids_normalises_case_digits_and_punctuation():
    assert _text(char_ids("Have you 2 dogs? Don't-stop!")) == "have you two dogs don't stop"
    assert _text(char_ids("  Émile,\tthe  cat ")) == "mile the cat"  # outside a-z ' -> word break
    assert char_ids("?!") == []
    assert all(0 < i < VOCAB for i in char_ids("abc xyz '"))


def test_unlabelled_items_do_not_count_and_gradient_reaches_latents():
    torch.manual_seed(0)
    head = CharCTCHead(8, hidden=16, upsample=2)
    latents = torch.randn(3, 20, 8, requires_grad=True)
    lengths = torch.tensor([20, 15, 10])
    both = head(latents, lengths, ["the cat", None, "a dog"])
    grad = torch.autograd.grad(both, latents)[0]
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0
    assert grad[1].abs().sum() == 0  # the unlabelled (cropped) item gets no CTC gradient
    assert grad[2, 10:].abs().sum() == 0  # nor do frames beyond an item's length
    alone = head(latents[[0, 2]], lengths[[0, 2]], ["the cat", "a dog"])
    torch.testing.assert_close(both, alone)


def test_no_label_is_a_zero_that_touches_every_parameter():
    head = CharCTCHead(8, hidden=16)
    loss = head(torch.randn(2, 10, 8), torch.tensor([10, 10]), [None, "?"])
    assert loss.item() == 0.0
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_label_count_must_match_batch():
    with pytest.raises(ValueError, match="2 labels for a batch of 3"):
        CharCTCHead(8)(torch.randn(3, 10, 8), torch.tensor([10] * 3), ["a", "b"])


def test_head_learns_a_transcript():
    torch.manual_seed(0)
    head = CharCTCHead(8, hidden=32, upsample=2)
    latents, lengths = torch.randn(1, 12, 8), torch.tensor([12])
    opt = torch.optim.Adam(head.parameters(), 1e-2)
    first = None
    for _ in range(150):
        loss = head(latents, lengths, ["hello world"])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    best = head.log_probs(latents)[0].argmax(-1).tolist()
    collapsed = [c for j, c in enumerate(best) if c != 0 and (j == 0 or c != best[j - 1])]
    assert loss.item() < 0.1 * first
    assert _text(collapsed) == "hello world"
