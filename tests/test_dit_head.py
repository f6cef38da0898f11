"""DiTHead invariants: zero init, loss masking, batch_mul equivalence, history masking by gradient,
condition dropout."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dit_head import DiTConfig, DiTHead

CFG = dataclasses.replace(DiTConfig.from_preset("tiny"), latent_dim=8, cond_dim=12, width=32, heads=4, ffn=64)
N, P, D, C = 3, CFG.patch_size, CFG.latent_dim, CFG.cond_dim
KP = CFG.history_patches * P


def _head(trained: bool = True, **changes) -> DiTHead:
    """A tiny head; `trained` perturbs every parameter so zero-initialised layers are non-trivial."""
    torch.manual_seed(0)
    head = DiTHead(dataclasses.replace(CFG, **changes)).double()
    if trained:
        with torch.no_grad():
            for p in head.parameters():
                p.add_(0.2 * torch.randn_like(p))
    return head.eval()


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(N, P, D, generator=g, dtype=torch.float64)
    cond = torch.randn(N, C, generator=g, dtype=torch.float64)
    history = torch.randn(N, KP, D, generator=g, dtype=torch.float64)
    history_mask = torch.ones(N, KP, dtype=torch.bool)
    history_mask[0, : 2 * P - 1] = False  # example 0: utterance starts inside the 2nd history patch
    frame_mask = torch.ones(N, P, dtype=torch.bool)
    frame_mask[1, 2:] = False  # example 1: partial last patch
    return target, cond, history, history_mask, frame_mask


def _draws(b: int, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(b * N, P, D, generator=g, dtype=torch.float64)
    return noise, torch.rand(b * N, generator=g, dtype=torch.float64)


def test_zero_init_velocity_is_exactly_zero_and_loss_is_target_energy():
    head = _head(trained=False)
    target, cond, history, history_mask, frame_mask = _inputs()
    noise, t = _draws(2)
    v = head.velocity(noise[:N], t[:N], cond, history, history_mask)
    assert torch.equal(v, torch.zeros_like(v))
    out = head.loss_with_draws(target, cond, noise, t, None, history, history_mask, frame_mask)
    v_target = target.repeat(2, 1, 1) - noise  # [2N, P, D]
    mask = frame_mask.repeat(2, 1)  # [2N, P]
    expected = v_target.pow(2).mean(-1)[mask].mean()
    torch.testing.assert_close(out.loss, expected)


def test_masked_frames_neither_change_the_loss_nor_get_gradient():
    head = _head()
    target, cond, history, history_mask, frame_mask = _inputs()
    noise, t = _draws(2)
    target.requires_grad_(True)
    noise.requires_grad_(True)
    out = head.loss_with_draws(target, cond, noise, t, None, history, history_mask, frame_mask)
    out.loss.backward()
    pad = ~frame_mask  # [N, P]
    assert target.grad[pad].abs().max() == 0 and target.grad[~pad].abs().min() > 0
    assert noise.grad[pad.repeat(2, 1)].abs().max() == 0
    # Garbage in the padded frames (target and noise) leaves the loss unchanged.
    with torch.no_grad():
        target2, noise2 = target.clone(), noise.clone()
        target2[pad] = 1e3
        noise2[pad.repeat(2, 1)] = -7.0
        out2 = head.loss_with_draws(target2, cond, noise2, t, None, history, history_mask, frame_mask)
    torch.testing.assert_close(out2.loss, out.loss.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(out2.per_example, out.per_example.detach(), rtol=1e-12, atol=0)


def test_per_example_and_loss_are_consistent_means():
    head = _head()
    target, cond, history, history_mask, frame_mask = _inputs()
    out = head(target, cond, history, history_mask, frame_mask, generator=torch.Generator().manual_seed(3))
    counts = frame_mask.sum(-1).double()  # valid frames per example
    torch.testing.assert_close(out.loss, (out.per_example * counts).sum() / counts.sum())


@pytest.mark.parametrize("k", [2, 3])
def test_batch_mul_equals_repeating_the_batch(k):
    head = _head()
    target, cond, history, history_mask, frame_mask = _inputs()
    noise, t = _draws(k)
    drop = torch.rand(k * N, generator=torch.Generator().manual_seed(4)) < 0.5
    mul = head.loss_with_draws(target, cond, noise, t, drop, history, history_mask, frame_mask)
    rep = head.loss_with_draws(target.repeat(k, 1, 1), cond.repeat(k, 1), noise, t, drop,
                               history.repeat(k, 1, 1), history_mask.repeat(k, 1), frame_mask.repeat(k, 1))
    torch.testing.assert_close(mul.loss, rep.loss)
    torch.testing.assert_close(mul.per_example, rep.per_example.view(k, N).mean(0))
    # forward() draws noise, then t, in the same tiled order (eval mode: no condition dropout).
    head_k, head_1 = _head(batch_mul=k), _head(batch_mul=1)
    fwd_k = head_k(target, cond, history, history_mask, frame_mask, generator=torch.Generator().manual_seed(5))
    fwd_1 = head_1(target.repeat(k, 1, 1), cond.repeat(k, 1), history.repeat(k, 1, 1), history_mask.repeat(k, 1),
                   frame_mask.repeat(k, 1), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(fwd_k.loss, fwd_1.loss)


def test_masked_history_has_no_influence():
    head = _head()
    target, cond, history, history_mask, _ = _inputs()
    noise, t = _draws(1)
    history.requires_grad_(True)
    v = head.velocity(noise, t, cond, history, history_mask)
    v.pow(2).sum().backward()
    assert history.grad[~history_mask].abs().max() == 0
    assert history.grad[history_mask].abs().min() > 0
    with torch.no_grad():
        garbage = history.detach().clone()
        garbage[~history_mask] = float("nan")
        torch.testing.assert_close(head.velocity(noise, t, cond, garbage, history_mask), v.detach())
        # A fully masked history is the same as no history.
        none_valid = torch.zeros_like(history_mask)
        torch.testing.assert_close(head.velocity(noise, t, cond, history, none_valid),
                                   head.velocity(noise, t, cond, None))


def test_history_changes_the_output_when_valid():
    head = _head()
    _, cond, history, history_mask, _ = _inputs()
    noise, t = _draws(1)
    with torch.no_grad():
        assert not torch.allclose(head.velocity(noise, t, cond, history, history_mask),
                                  head.velocity(noise, t, cond, None))


def test_history_shape_errors():
    head, no_history = _head(), _head(history_patches=0)
    _, cond, history, _, _ = _inputs()
    noise, t = _draws(1)
    with pytest.raises(ValueError, match="K\\*P"):
        head.velocity(noise, t, cond, history[:, :P])
    with pytest.raises(ValueError, match="history_patches is 0"):
        no_history.velocity(noise, t, cond, history)
    assert no_history.velocity(noise, t, cond).shape == (N, P, D)


def test_dropped_condition_ignores_cond():
    head = _head()
    _, cond, history, history_mask, _ = _inputs()
    noise, t = _draws(1)
    drop = torch.tensor([True, False, True])
    with torch.no_grad():
        a = head.velocity(noise, t, cond, history, history_mask, drop)
        b = head.velocity(noise, t, cond + 5.0, history, history_mask, drop)
    torch.testing.assert_close(a[drop], b[drop])
    assert not torch.allclose(a[~drop], b[~drop])


def test_condition_dropout_only_in_training_mode():
    head = _head(cond_dropout=0.999999)
    target, cond, history, history_mask, frame_mask = _inputs()

    def loss(c):
        return head(target, c, history, history_mask, frame_mask, generator=torch.Generator().manual_seed(6)).loss

    head.train()
    torch.testing.assert_close(loss(cond), loss(cond + 5.0))  # every condition replaced by the null
    head.eval()
    assert not torch.allclose(loss(cond), loss(cond + 5.0))


def test_bf16_autocast_and_bf16_weights():
    head = DiTHead(CFG)
    target, cond, history, history_mask, frame_mask = (x.float() if x.is_floating_point() else x for x in _inputs())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = head(target, cond, history, history_mask, frame_mask, generator=torch.Generator().manual_seed(0))
        out.loss.backward()
        sample = head.sample(cond, history, history_mask, cfg_scale=1.2, generator=torch.Generator().manual_seed(0))
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    assert sample.dtype == torch.float32 and torch.isfinite(sample).all()  # the ODE state stays fp32
    head = head.to(torch.bfloat16)
    assert torch.isfinite(head(target, cond, history, history_mask, frame_mask).loss)
