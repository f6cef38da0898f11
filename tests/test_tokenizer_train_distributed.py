"""The tokenizer trainer under `torchrun --nproc_per_node 2` on CPU (gloo): generator as a DeepSpeed
ZeRO-2 engine, discriminator as DDP (stage II, tiny), checkpoint, then an exact resume.
~30 s (DeepSpeed's comm op is JIT-built once, ~26 s, and cached)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import numpy as np
import soundfile as sf

from _dist import run_torchrun
from holitok_common.audio import audio_info
from holitok_common.data.manifests import make_cut, save_cuts

pytest.importorskip("deepspeed")


@pytest.fixture(scope="module")
def cuts(tmp_path_factory) -> str:
    """Four generated 16 kHz tones (0.8-1.7 s) and their manifest."""
    root = tmp_path_factory.mktemp("wavs")
    (root / "audio").mkdir()
    items = []
    for i in range(4):
        t = np.arange(int(16000 * (0.8 + 0.3 * i))) / 16000
        path = root / "audio" / f"u{i}.wav"
        sf.write(path, (0.3 * np.sin(2 * np.pi * (110 + 50 * i) * t)).astype(np.float32), 16000)
        items.append(make_cut(f"u{i}", f"audio/u{i}.wav", audio_info(path), f"tone {i}", "s"))
    return str(save_cuts(items, root / "cuts_train.jsonl.gz"))


def _train(cuts: str, out: Path) -> list[dict]:
    run_torchrun(["-m", "unified_lm.cli.train", "tokenizer", "tiny-stage2", "--cpu", f"data.train_cuts={cuts}",
                  f"out_dir={out}", "init_from=null", "steps=3", "ckpt_every=2", "log_every=1", "audio_every=100",
                  "data.crop_seconds=0.5", "distributed.zero_stage=2"])
    lines = (out / "tb" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_tokenizer_zero2_two_process_and_resume(cuts, tmp_path):
    straight = _train(cuts, tmp_path / "a")
    assert [r["step"] for r in straight] == [1, 2, 3]
    ckpt = tmp_path / "a" / "step-000002"
    assert (ckpt / "generator.deepspeed").is_dir() and (ckpt / "rng-rank00001.safetensors").is_file()
    assert (ckpt / "tokenizer" / "model.safetensors").is_file()
    shutil.copytree(ckpt, tmp_path / "b" / "step-000002")
    resumed = _train(cuts, tmp_path / "b")
    keys = ("train/g/total", "train/g/mel", "train/g/kl", "train/d/total")
    assert [[r[k] for k in keys] for r in resumed] == [[r[k] for k in keys] for r in straight[2:]]
