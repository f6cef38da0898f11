"""Tokenizer trainer on the tiny preset and a few generated wavs: each stage trains exactly its
parameters (the rest is bit-for-bit unchanged), and resume == uninterrupted (bit-exact on CPU)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from holitok_common.audio import audio_info
from holitok_common.data.manifests import make_cut, save_cuts
from holitok_common.train.checkpoint import list_checkpoints, read_train_state
from holitok_common.train.distributed import setup_runtime
from holitok_tokenizer import HoliTok
from holitok_tokenizer.train.config import load_train_config
from holitok_tokenizer.train.data import epoch_batches, speed_perturb
from holitok_tokenizer.train.generator import AUTOENCODER, BOTTLENECK
from holitok_tokenizer.train.trainer import TokenizerTrainer


# transformers' WavLM passes mismatched attention-mask types to torch (not our code)
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")

@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    root = tmp_path_factory.mktemp("wavs")
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    items = []
    for i in range(4):
        t = np.arange(int(16000 * (0.8 + 0.3 * i))) / 16000
        wav = (0.3 * np.sin(2 * np.pi * (110 + 50 * i) * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
        sf.write(root / "audio" / f"u{i}.wav", wav, 16000)
        items.append(make_cut(f"u{i}", f"audio/u{i}.wav", audio_info(root / "audio" / f"u{i}.wav"), f"tone {i}", "s"))
    return str(save_cuts(items, root / "cuts_train.jsonl.gz"))


def _cfg(preset, cuts, out, *extra):
    overrides = [f"data.train_cuts={cuts}", f"out_dir={out}", "data.crop_seconds=0.6", "log_every=1", "audio_every=2"]
    return load_train_config(preset=preset, overrides=[*overrides, "init_from=null", *extra])


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("stage,trained,frozen", [("1", AUTOENCODER, BOTTLENECK), ("2", BOTTLENECK, AUTOENCODER)])
def test_stage_trains_exactly_its_parameters(cuts, tmp_path, stage, trained, frozen):
    cfg = _cfg(f"tiny-stage{stage}", cuts, tmp_path, "steps=1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*without init_from")
        trainer = TokenizerTrainer(cfg, setup_runtime(cfg.distributed, cpu=True))
    tok: HoliTok = trainer.generator.unwrapped.tokenizer
    before = _snapshot(tok)
    trainer.train_step(next(epoch_batches(trainer.sampler, 16000, 0, 0)), step=0)
    after = tok.state_dict()
    assert set(trained) | set(frozen) == {name for name, _ in tok.named_children()}
    for name, child in tok.named_children():
        changed = [k for k in child.state_dict() if not torch.equal(before[f"{name}.{k}"], after[f"{name}.{k}"])]
        assert all(not p.requires_grad for p in child.parameters()) == (name in frozen), name
        if name in frozen:
            assert not changed, f"stage {stage} changed frozen {name}: {changed[:3]}"
        else:
            assert changed, f"stage {stage} did not train {name}"


# ~2 batches per epoch (the checkpoint falls mid-epoch); crops longer than the 1.2 s cut are
# uncropped, so its transcript is used by LM supervision; speed perturbation draws from the step's
# seed too, so it must resume exactly as well
STAGE3 = ("data.max_duration=2.5", "data.crop_seconds=1.2", "data.speed_perturb=[0.9,1.1]", "loss.ctc=1.0")


def test_resume_equals_uninterrupted_stage3(cuts, tmp_path):
    """4 steps straight (checkpoint at 2) vs. a new trainer resuming that checkpoint for 2 steps."""
    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    cfg = _cfg("tiny-stage3", cuts, straight_dir, "steps=4", "ckpt_every=2", *STAGE3)
    with pytest.warns(UserWarning, match="without init_from"):
        straight = TokenizerTrainer(cfg, setup_runtime(cfg.distributed, cpu=True)).train()
    assert [p.name for p in list_checkpoints(straight_dir)] == ["step-000002", "step-000004"]
    assert (straight_dir / "step-000004" / "tokenizer" / "model.safetensors").is_file()
    state = read_train_state(straight_dir / "step-000002")
    assert (state.data.epoch, state.data.batches) == (0, 2)  # mid-epoch: the sampler must skip 2 batches
    shutil.copytree(straight_dir / "step-000002", resumed_dir / "step-000002")

    torch.manual_seed(12345)  # a different process state: everything must come from the checkpoint
    cfg2 = _cfg("tiny-stage3", cuts, resumed_dir, "steps=4", "ckpt_every=2", *STAGE3)
    with pytest.warns(UserWarning, match="without init_from"):
        resumed = TokenizerTrainer(cfg2, setup_runtime(cfg2.distributed, cpu=True)).train()
    assert len(resumed.losses) == 2
    assert resumed.losses == straight.losses[2:]  # dataclass equality of floats: bit-exact
    assert all(loss.generator.kl > 0 and loss.generator.wavlm > 0 for loss in straight.losses)
    assert any(loss.generator.lm > 0 and loss.generator.ctc > 0 for loss in straight.losses)
    exported = HoliTok.from_pretrained(resumed_dir / "step-000004" / "tokenizer")
    assert exported.latent_dim == 32


def test_stage1_ctc_reaches_the_encoder_only_and_is_not_exported(cuts, tmp_path):
    """loss.ctc in stage I: its gradient reaches the head and the encoder, not the decoder; a step
    trains with it; the exported tokenizer carries no head."""
    cfg = _cfg("tiny-stage1", cuts, tmp_path, "steps=1", "loss.ctc=1.0", "data.crop_seconds=2.0")
    trainer = TokenizerTrainer(cfg, setup_runtime(cfg.distributed, cpu=True))
    gen = trainer.generator.unwrapped
    batch = next(epoch_batches(trainer.sampler, 16000, 0, 0))
    out = gen(batch.wav, batch.lengths, labels={"asr": list(batch.texts)})
    out.ctc.backward()
    grads = {name: any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
             for name, module in (("head", gen.ctc_head), ("encoder", gen.tokenizer.audio_encoder),
                                  ("decoder", gen.tokenizer.decoder))}
    assert grads == {"head": True, "encoder": True, "decoder": False}
    gen.zero_grad(set_to_none=True)
    losses, _, _ = trainer.train_step(batch, step=0)
    assert losses.generator.ctc > 0 and losses.generator.mel > 0
    exported = HoliTok.from_pretrained(trainer.save() / "tokenizer")
    assert not any("ctc" in k for k in exported.state_dict())


def test_adv_start_step_mel_only_warmup(cuts, tmp_path):
    """Before adv_start_step: no discriminator update and adv = fm = 0; from it on the GAN trains."""
    cfg = _cfg("tiny-stage1", cuts, tmp_path, "steps=2", "adv_start_step=1")
    trainer = TokenizerTrainer(cfg, setup_runtime(cfg.distributed, cpu=True))
    disc = trainer.disc.unwrapped
    batches = epoch_batches(trainer.sampler, 16000, 0, 0)
    before = _snapshot(disc)
    warm, _, _ = trainer.train_step(next(batches), step=0)
    assert all(torch.equal(before[k], v) for k, v in disc.state_dict().items()), "discriminator moved in warm-up"
    assert warm.discriminator == 0.0 and warm.generator.adv == 0.0 and warm.generator.fm == 0.0
    assert warm.generator.total == pytest.approx(45.0 * warm.generator.mel, rel=1e-5)
    gan, _, _ = trainer.train_step(next(batches), step=1)
    assert gan.discriminator > 0 and gan.generator.adv > 0
    assert any(not torch.equal(before[k], v) for k, v in disc.state_dict().items()), "discriminator did not train"


def test_adv_start_step_validated():
    from holitok_common.config import ConfigError

    with pytest.raises(ConfigError, match="adv_start_step"):
        load_train_config(preset="tiny-stage1", overrides=["adv_start_step=-1"])


def test_speed_perturb_moves_pitch_and_length_deterministically():
    sr, n = 16000, 16000
    t = torch.arange(n) / sr
    wav = torch.stack([torch.sin(2 * torch.pi * 200 * t), torch.sin(2 * torch.pi * 300 * t)])
    lengths = torch.tensor([n, n // 2])
    wav[1, n // 2 :] = 0  # a padded batch
    out, new_lengths = speed_perturb(wav, lengths, 0.8, 1.2, seed=3)
    again, _ = speed_perturb(wav, lengths, 0.8, 1.2, seed=3)
    assert torch.equal(out, again)
    assert out.shape[1] == int(new_lengths.max())
    speeds = lengths / new_lengths  # length / speed samples
    assert not torch.allclose(speeds, torch.ones(2), atol=0.005), "seed 3 should draw speeds away from 1"
    for i, (f0, m) in enumerate(zip((200, 300), new_lengths.tolist())):
        spectrum = torch.fft.rfft(out[i, :m]).abs()
        peak_hz = int(spectrum.argmax()) * sr / m
        assert abs(peak_hz - f0 * float(speeds[i])) < 3, (peak_hz, f0, float(speeds[i]))
        assert not out[i, m:].any()  # padding stays silent
    same, same_lengths = speed_perturb(wav, lengths, 1.0, 1.0, seed=3)
    assert torch.equal(same, wav) and torch.equal(same_lengths, lengths)
