"""The prompt's global voice vector (cfg.voice, unified_lm/voice.py): its statistics, what the
training condition reads (the prompt, never the targets), a checkpoint keeps it, and models saved
before it existed load with it off. KV-cached generation == recompute with it on is in test_pointer.py."""

from __future__ import annotations

import json

import pytest
import torch

from holitok_common.config import ConfigError
from test_generate_fixtures import tiny_lm
from unified_lm.config import load_unified_config
from unified_lm.model import UnifiedLM
from unified_lm.sequences import tts_segments
from unified_lm.voice import PromptVoice


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("voice"), voice={"enabled": True})


def test_statistics_are_the_masked_mean_and_std():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, 2, 5, generator=g)  # [B, Na, P, D]
    frames = torch.zeros(3, 4, 2, dtype=torch.bool)
    frames[0, :3] = True  # 6 frames
    frames[1, 1, 0] = True  # one frame: std 0
    z[0, 3] = float("nan")  # masked-out frames never enter
    stats = PromptVoice.statistics(z, frames)
    want = z[0, :3].reshape(-1, 5)
    torch.testing.assert_close(stats[0, :5], want.mean(0))
    torch.testing.assert_close(stats[0, 5:], want.std(0, unbiased=False), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(stats[1, :5], z[1, 1, 0])
    torch.testing.assert_close(stats[1, 5:], torch.full((5,), 1e-3), atol=1e-5, rtol=0)
    assert (stats[2] == 0).all(), "a row without a prompt has zero statistics (the projection's bias)"


def test_a_new_voice_projection_is_zero():
    voice = PromptVoice(4, 6)
    assert (voice(torch.randn(2, 3, 2, 4), torch.ones(2, 3, 2, dtype=torch.bool)) == 0).all()


def test_the_flow_condition_adds_the_voice_of_the_rows_prompt(model):
    special = model.text_tokenizer.special
    g = torch.Generator().manual_seed(1)
    prompt, target = torch.randn(9, 32, generator=g), torch.randn(12, 32, generator=g)
    ids = model.text_tokenizer.encode("a cat. the dog")
    rows = [tts_segments(special, ids, prompt, target), tts_segments(special, ids, None, target)]
    batch = model.build(rows)
    with torch.no_grad():
        hidden = model.step(model.embed(batch), batch.attention_mask, batch.position_ids, compute_logits=False).hidden
        cond = model._flow_inputs(hidden, batch, None, None, None).cond  # [N, H]
        z = model.latent_norm.normalize(prompt)  # [9, D]
        want = model.voice.proj(torch.cat([z.mean(0), z.std(0, unbiased=False)]))
        n0 = int(batch.flow_mask[0].sum())
        torch.testing.assert_close(cond[:n0] - hidden[0][batch.flow_mask[0]], want.expand(n0, -1), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(cond[n0:] - hidden[1][batch.flow_mask[1]],
                                   model.voice.proj.bias.expand(len(cond) - n0, -1))
        # the targets never enter the voice vector: other target latents, the same vector
        other = model.build([tts_segments(special, ids, prompt, torch.randn(12, 32, generator=g))])
        torch.testing.assert_close(model.prompt_voice(other)[0], model.prompt_voice(batch)[0])


def test_the_voice_projection_trains(model):
    special = model.text_tokenizer.special
    g = torch.Generator().manual_seed(2)
    row = tts_segments(special, model.text_tokenizer.encode("a cat. the dog"), torch.randn(9, 32, generator=g),
                       torch.randn(12, 32, generator=g))
    model.train()
    try:
        model(model.build([row]), generator=torch.Generator().manual_seed(0)).loss.backward()
        assert model.voice.proj.weight.grad.abs().sum() > 0
    finally:
        model.eval()
        model.zero_grad()


def test_checkpoint_keeps_the_voice_and_old_checkpoints_load_without_it(model, tmp_path):
    model.save_pretrained(tmp_path / "m")
    loaded = UnifiedLM.from_pretrained(tmp_path / "m")
    assert loaded.cfg.voice.enabled
    torch.testing.assert_close(loaded.voice.proj.weight, model.voice.proj.weight)
    # a checkpoint written before cfg.voice existed: no `voice` key, no voice weights
    plain = tiny_lm(tmp_path / "spm")
    plain.save_pretrained(tmp_path / "old")
    config = tmp_path / "old" / "config.json"
    data = json.loads(config.read_text())
    data.get("model", data).pop("voice", None)
    config.write_text(json.dumps(data))
    assert UnifiedLM.from_pretrained(tmp_path / "old").voice is None


def test_config_key_errors():
    assert load_unified_config("tiny", overrides=["voice.enabled=true"]).voice.enabled
    with pytest.raises(ConfigError):
        load_unified_config("tiny", overrides=["voice.size=3"])


def test_a_joint_stage_copies_the_voice_and_refuses_it_when_switched_off(model, tmp_path):
    from unified_lm.train.units import init_from_checkpoint

    model.save_pretrained(tmp_path / "tts_only")
    fresh = tiny_lm(tmp_path / "spm1", seed=1, voice={"enabled": True})
    copied = init_from_checkpoint(fresh, tmp_path / "tts_only", ["head", "voice"])
    assert {"voice.proj.weight", "voice.proj.bias"} <= set(copied)
    torch.testing.assert_close(fresh.voice.proj.weight, model.voice.proj.weight)
    with pytest.raises(ValueError, match="must leave init.parts too"):
        init_from_checkpoint(tiny_lm(tmp_path / "spm2"), tmp_path / "tts_only", ["head", "voice"])
