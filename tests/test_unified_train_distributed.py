"""The unified trainer under `torchrun --nproc_per_node 2` on CPU (gloo) with DeepSpeed ZeRO-2:
steps run, ranks agree (identical task per micro-step, DiT noise per rank), the checkpoint holds
DeepSpeed's shards + a loadable `model/`, and a resumed run repeats the uninterrupted losses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _dist import run_torchrun
from unified_lm.model import UnifiedLM
from unified_lm.train.synthetic import write_fake_corpus

pytest.importorskip("deepspeed")


def _torchrun(corpus, exp_dir, *overrides):
    run_torchrun(["-m", "unified_lm.train.cli", "tiny", f"exp_dir={exp_dir}", f"data.train_manifest={corpus['train']}",
                  f"data.latent_stats={corpus['stats']}", "data.max_frames=400", "data.max_prompt_frames=100",
                  "model.backbone.num_layers=2", "eval.interval=0", "log_interval=1", "ckpt_interval=2", "steps=3",
                  "task_mix.tts=1", "task_mix.asr=1", "distributed.zero_stage=2", "cpu=true", *overrides])


def _losses(exp_dir):
    rows = [json.loads(x) for x in (Path(exp_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if r["kind"] == "train"}


def test_zero2_two_processes_checkpoint_and_resume(tmp_path):
    corpus = write_fake_corpus(tmp_path / "latents", num_train=48, num_dev=4, speakers=4)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _torchrun(corpus, straight)
    half = straight / "checkpoints" / "step-000002"
    for name in ("model/model.safetensors", "model/meta.json", "train_state.json", "rng-rank00001.safetensors"):
        assert (half / name).is_file(), name
    assert (half / "model.deepspeed" / "state").is_dir()
    assert json.loads((half / "train_state.json").read_text())["world_size"] == 2
    UnifiedLM.from_pretrained(half / "model")

    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copytree(half, resumed / "checkpoints" / half.name)
    _torchrun(corpus, resumed)
    a, b = _losses(straight), _losses(resumed)
    assert sorted(a) == [1, 2, 3] and sorted(b) == [3]
    for key in ("loss", "text_ce", "flow", "stop", "lr"):
        assert a[3].get(key) == b[3].get(key), key
