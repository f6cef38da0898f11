"""Joint training of the unified model (unified_lm/train) on a tiny fake latent corpus in tmp:
resume == uninterrupted, the task mix (ratio, determinism, TTS-only), DiT init from a checkpoint,
the self-describing checkpoint, every shipped config loads. ~40 s on 2 CPU cores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from holitok_common.config import ConfigError
from holitok_common.train.distributed import cpu_has_native_bf16
from unified_lm.model import UnifiedLM
from unified_lm.train.config import load_train_config
from unified_lm.train.data import LatentCorpus, LatentMasker, task_for_step
from unified_lm.train.evaluate import word_errors
from unified_lm.train.synthetic import write_fake_corpus
from unified_lm.train.trainer import setup, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_fake_corpus(tmp_path_factory.mktemp("latents"), num_train=48, num_dev=8, speakers=4)


def make_cfg(corpus, exp_dir, *overrides):
    base = [f"exp_dir={exp_dir}", f"data.train_manifest={corpus['train']}", f"data.dev_manifest={corpus['dev']}",
            f"data.latent_stats={corpus['stats']}", "data.max_frames=600", "data.max_prompt_frames=100",
            "model.backbone.num_layers=2", "eval.interval=0", "log_interval=1", "steps=4", "ckpt_interval=2",
            "task_mix.tts=1", "task_mix.asr=1", "cpu=true"]
    return load_train_config(None, [*base, *overrides], preset="tiny")


def train_losses(exp_dir):
    rows = [json.loads(line) for line in (Path(exp_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if r["kind"] == "train"}


@pytest.mark.parametrize("augment", [(), ("asr_augment.time_masks=2", "asr_augment.channel_masks=1"),
                                     ("model.text_tokenizer.tts_units=chars", "model.pointer.enabled=true")],
                         ids=["plain", "asr-masking", "text-pointer"])
def test_resume_equals_uninterrupted(corpus, tmp_path, augment):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(make_cfg(corpus, straight, *augment))
    half = straight / "checkpoints" / "step-000002"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copytree(half, resumed / "checkpoints" / half.name)
    run = train(make_cfg(corpus, resumed, *augment))
    a, b = train_losses(straight), train_losses(resumed)
    assert sorted(b) == [3, 4]
    tasks = {("text_ce" in a[s], "flow" in a[s]) for s in a}
    assert len(tasks) == 2, "the 4 steps should cover both tasks (seed 0)"
    for step in (3, 4):
        for key in ("loss", "text_ce", "flow", "stop", "advance", "lr", "grad_norm"):
            assert a[step].get(key) == b[step].get(key), (step, key)
    final_a = UnifiedLM.from_pretrained(straight / "checkpoints" / "step-000004" / "model").state_dict()
    for key, value in run.model.state_dict().items():
        assert torch.equal(value, final_a[key]), key
    assert any("advance" in r for r in a.values()) == ("model.pointer.enabled=true" in augment)
    state = json.loads((half / "train_state.json").read_text())
    assert set(state["extra"]["positions"]) == {"tts", "asr"}


def test_latent_masker_masks_bounded_spans_deterministically():
    fill = torch.full((8,), -3.0)
    masker = LatentMasker(time_masks=2, time_max=5, channel_masks=1, channel_max=3, fill=fill)
    latents = torch.randn(100, 8)
    a, b, c = masker(latents, "k"), masker(latents, "k"), masker(latents, "other")
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, latents) and not (latents == -3.0).any()  # the input is left untouched
    changed = a != latents
    assert torch.equal(a[changed], fill.expand_as(a)[changed])  # masked values are the fill
    frames_masked = changed.all(dim=1).sum()
    assert frames_masked <= 2 * 5
    short = masker(torch.randn(4, 8), "k")  # spans never exceed a fifth of the utterance
    assert (short == -3.0).all(dim=1).sum() == 0


def test_task_mix_ratio_and_determinism():
    tasks = [task_for_step(7, i, 5 / 6) for i in range(6000)]
    assert tasks == [task_for_step(7, i, 5 / 6) for i in range(6000)]
    assert abs(tasks.count("tts") / len(tasks) - 5 / 6) < 0.02
    assert tasks != [task_for_step(8, i, 5 / 6) for i in range(6000)]
    assert {task_for_step(0, i, 1.0) for i in range(100)} == {"tts"}
    assert {task_for_step(0, i, 0.0) for i in range(100)} == {"asr"}


def test_tts_only_run_and_init_dit_from_it(corpus, tmp_path):
    tts_dir = tmp_path / "tts"
    run = train(make_cfg(corpus, tts_dir, "task_mix.asr=0", "steps=2", "eval.interval=2", "eval.num_tts=4"))
    assert set(run.streams) == {"tts"}
    rows = train_losses(tts_dir)
    assert all("text_ce" not in r and r["flow"] > 0 for r in rows.values())
    evals = [json.loads(x) for x in (tts_dir / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert len(evals) == 2 and "wer" not in evals[0] and evals[0]["flow"] > 0  # at start + at the end
    trained = run.model.state_dict()
    saved = UnifiedLM.from_pretrained(tts_dir / "checkpoints" / "step-000002" / "model")
    train_chars = set().union(*LatentCorpus(corpus["train"]).texts())
    assert saved.cfg.text_tokenizer.seen_chars == "".join(sorted(train_chars))  # what TTS will accept

    joint = setup(make_cfg(corpus, tmp_path / "joint", f"init.checkpoint={tts_dir}", "seed=3"))
    mine = joint.model.state_dict()
    for key, value in trained.items():
        if key.startswith(("head.", "stop_head.")):
            assert torch.equal(mine[key], value), key
    assert not torch.equal(mine["audio_in.in_proj.weight"], trained["audio_in.in_proj.weight"])
    joint.logger.close()
    with pytest.raises(ValueError, match="no parameters under 'dit'"):
        setup(make_cfg(corpus, tmp_path / "bad", f"init.checkpoint={tts_dir}", "init.parts=[dit]"))


def test_prompts_are_other_utterances_of_the_same_speaker(corpus):
    train_corpus = LatentCorpus(corpus["train"])
    for cut_id, utt in list(train_corpus.utts.items())[:10]:
        prompt = train_corpus.prompt_for(cut_id, seed=0, epoch=0, max_frames=10_000)
        assert prompt.cut_id != cut_id and prompt.speaker == utt.speaker
        assert prompt == train_corpus.prompt_for(cut_id, seed=0, epoch=0, max_frames=10_000)


def test_every_shipped_config_loads():
    files = sorted((ROOT / "recipes" / "unified" / "conf").glob("*.yaml"))
    assert {f.stem for f in files} >= {"tiny_tts_only", "tiny_joint", "paper_tts_only", "paper_joint"}
    for f in files:
        cfg = load_train_config(str(f))
        assert cfg.steps > 0 and cfg.task_mix.tts > 0
    with pytest.raises(ConfigError, match="unknown config key"):
        load_train_config(str(files[0]), ["optim.learning_rate=1"])


def test_word_errors():
    assert word_errors("the cat sat", "The cat, sat!") == (0, 3)
    assert word_errors("a b c", "a x") == (2, 3)


def test_cpu_bf16_refused_without_native_bf16(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("holitok_common.train.distributed.cpu_has_native_bf16", lambda: False)
    with pytest.raises(ConfigError, match="no native bf16"):
        train(make_cfg(corpus, tmp_path / "bf16", "steps=1", "distributed.mixed_precision=bf16"))


def test_cpu_bf16_autocast_is_opt_in(corpus, tmp_path):
    """mixed_precision=bf16 autocasts on a CPU with native bf16 (and trains); elsewhere, and with
    DeepSpeed on CPU, it is refused with the reason. "auto" stays fp32 on CPU (tested everywhere else)."""
    cfg = make_cfg(corpus, tmp_path / "bf16", "steps=2", "distributed.mixed_precision=bf16")
    if not cpu_has_native_bf16():
        with pytest.raises(ConfigError, match="no native bf16"):
            train(cfg)
        return
    run = train(cfg)
    assert run.runtime.bf16
    rows = train_losses(tmp_path / "bf16")
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows.values()) and len(rows) == 2
    with pytest.raises(ConfigError, match="DeepSpeed on CPU trains in fp32"):
        train(make_cfg(corpus, tmp_path / "ds", "distributed.mixed_precision=bf16", "distributed.zero_stage=2"))
