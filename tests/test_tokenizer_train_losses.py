"""Tokenizer-training losses on toy inputs: finite, and zero exactly where they must be."""

from __future__ import annotations

import pytest
import torch

from holitok_tokenizer.train.discriminators import DiscriminatorConfig, Discriminators
from holitok_tokenizer.train.flow import FlowConfig, LatentFlow, flow_kl
from holitok_tokenizer.train.losses import (
    MultiScaleMelLoss,
    cosine_distance,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from holitok_tokenizer.train.supervision import FrameDistillHead, LMSupervision, LMSupervisionConfig, UtteranceDistillHead, match_frames
from holitok_tokenizer.train.teachers import TINY, SpeakerTeacher, WavLMTeacher, build_causal_lm

# transformers' WavLM passes mismatched attention-mask types to torch (not our code)
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")

G = torch.Generator().manual_seed(0)


def test_mel_loss_zero_on_identity_positive_otherwise():
    loss = MultiScaleMelLoss(16000)
    x = torch.randn(2, 8000, generator=G) * 0.1
    assert loss(x, x).item() == 0.0
    y = loss(x * 0.5, x)
    assert torch.isfinite(y) and y.item() > 0.1


def test_gan_losses_zero_for_perfect_discriminator_and_identical_features():
    ones, zeros = [torch.ones(2, 7), torch.ones(2, 3)], [torch.zeros(2, 7), torch.zeros(2, 3)]
    assert generator_adversarial_loss(ones).item() == 0.0
    assert discriminator_loss(ones, zeros).item() == 0.0
    assert discriminator_loss(zeros, ones).item() == 4.0
    feats = [[torch.randn(2, 4, 5, generator=G), torch.randn(2, 1, 3, generator=G)]]
    assert feature_matching_loss(feats, feats).item() == 0.0


def test_discriminators_logits_and_features_finite():
    disc = Discriminators(16000, DiscriminatorConfig(mpd_channels=[4, 8, 8, 8, 8], mrd_channels=4))
    out = disc(torch.randn(2, 4000, generator=G) * 0.1)
    assert len(out.logits) == len(out.features) == 5 + 3
    assert all(torch.isfinite(x).all() and x.shape[0] == 2 for x in out.logits)
    assert all(len(f) >= 5 for f in out.features)


def test_kl_is_zero_when_posterior_equals_prior_under_identity_flow():
    flow = LatentFlow(8, FlowConfig(hidden=16, layers=3))  # zero-initialised output: identity
    z = torch.randn(2, 6, 8, generator=G)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    fz, log_det = flow(z, mask)
    assert torch.equal(fz[mask], z[mask]) and log_det.abs().max().item() == 0.0
    zero = torch.zeros_like(z)
    assert flow_kl(z, zero, zero, flow, mask).item() == 0.0


def test_kl_positive_and_differentiable_for_a_narrow_posterior():
    flow = LatentFlow(8, FlowConfig(hidden=16, layers=2))
    mean = torch.randn(2, 5, 8, generator=G).requires_grad_()
    log_std = torch.full((2, 5, 8), -2.0, requires_grad=True)
    z = mean + torch.randn(2, 5, 8, generator=G) * log_std.exp()
    kl = flow_kl(z, mean, log_std, flow, torch.ones(2, 5, dtype=torch.bool))
    kl.backward()
    assert kl.item() > 0 and torch.isfinite(mean.grad).all() and log_std.grad.abs().sum() > 0
    assert all(p.grad is not None for p in flow.parameters())


def test_cosine_distill_zero_for_identical_features_under_identity_projection():
    head = FrameDistillHead(6, 6)
    with torch.no_grad():
        head.proj.weight.copy_(torch.eye(6))
        head.proj.bias.zero_()
    feats = torch.randn(2, 10, 6, generator=G)
    mask = torch.ones(2, 10, dtype=torch.bool)
    assert head(feats, feats, mask).item() < 1e-6
    assert abs(cosine_distance(feats, -feats, mask).item() - 2.0) < 1e-6
    assert match_frames(torch.randn(1, 50, 3), 25).shape == (1, 25, 3)
    utt = UtteranceDistillHead(6, 6)
    utt.proj = torch.nn.Identity()
    assert utt(feats, feats.mean(1), mask).item() < 1e-6


def test_tiny_teachers_and_lm_supervision():
    wav, lengths = torch.randn(2, 16000, generator=G) * 0.1, torch.tensor([16000, 12000])
    wavlm = WavLMTeacher(TINY, layer=2)
    feats = wavlm(wav, lengths)
    assert feats.shape[:2] == (2, 49) and not feats.requires_grad
    emb = SpeakerTeacher(TINY)(wav, lengths)
    assert emb.shape == (2, SpeakerTeacher(TINY).dim)
    lm, tok = build_causal_lm(TINY, trainable=False)
    sup = LMSupervision(8, LMSupervisionConfig(layers=1, width=16, ffn=32, heads=2), lm, tok)
    latents = torch.randn(2, 25, 8, generator=G, requires_grad=True)
    loss = sup(latents, torch.tensor([25, 19]), {"asr": ["hello", "hi there"], "emotion": [None, "happy"]})
    loss.backward()
    assert torch.isfinite(loss) and latents.grad[0].abs().sum() > 0
    assert all(p.grad is None for p in lm.parameters())  # frozen decoder LM
