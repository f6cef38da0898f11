"""eval.tts_probe and what it builds on: the teacher-forced DiT inputs are exactly what the flow loss
trains on, and the probe's conditions are wired (real / teacher-forced / mean / free-running)."""

from __future__ import annotations

import torch

from eval.tts_probe import CONDITIONS, probe
from test_generate_fixtures import tiny_lm
from unified_lm.train.data import LatentCorpus, tts_example
from unified_lm.train.synthetic import write_fake_corpus

POINTER = {"enabled": True, "before": 2, "after": 3, "max_advance": 4, "frame_units": True}


def test_teacher_forced_inputs_reproduce_the_flow_loss(tmp_path):
    model = tiny_lm(tmp_path / "m", text_tokenizer={"tts_units": "chars"}, pointer=POINTER)
    corpus = LatentCorpus(write_fake_corpus(tmp_path / "c", num_train=6, num_dev=2, speakers=2)["train"])
    ids = sorted(corpus.utts)[:3]
    batch = model.build([tts_example(model.text_tokenizer, corpus.utts[c], corpus.prompt_for(c, 0, 0, 100), "chars", True)
                         for c in ids])
    with torch.no_grad():
        want = model(batch, generator=torch.Generator().manual_seed(4)).flow
        f = model.teacher_forced_flow_inputs(batch)
        got = model.head(f.target, f.cond, f.history, f.history_mask, f.frame_mask,
                         generator=torch.Generator().manual_seed(4), frame_cond=f.frame_cond).loss
    assert f.target.shape[0] == int(batch.patch_is_target.sum()) and f.frame_cond is not None
    torch.testing.assert_close(got, want)


def test_probe_conditions(tmp_path):
    model = tiny_lm(tmp_path / "m", text_tokenizer={"tts_units": "chars"}, pointer=POINTER)
    corpus = LatentCorpus(write_fake_corpus(tmp_path / "c", num_train=6, num_dev=2, speakers=2)["train"])
    result = probe(model, model, corpus, num=2)
    assert result["num"] == 2 and set(result["wer"]) == set(CONDITIONS)
    assert result["length_ratio"]["real"] == result["length_ratio"]["teacher_forced"] == 1.0
    assert result["length_ratio"]["free_running"] > 0
    assert all(set(CONDITIONS) <= set(e) for e in result["examples"])
