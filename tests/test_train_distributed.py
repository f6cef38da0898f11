"""2-process CPU (gloo) DeepSpeed ZeRO-2 through holitok_common.train.distributed, launched with
torchrun: ranks agree, the checkpoint directory is complete, and a resumed run continues with the
same losses as the uninterrupted one. ~25 s (plus ~26 s once to JIT-build DeepSpeed's comm op)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("deepspeed")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(*args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port())]
    cmd += ["-m", "holitok_common.train.smoke", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _ranks(out: Path) -> list[dict]:
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_zero2_two_process_step_checkpoint_and_resume(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _torchrun("--out", str(straight), "--zero-stage", "2", "--steps", "4", "--save-at", "2")
    ranks = _ranks(straight)
    assert ranks[0]["world_size"] == 2
    assert ranks[0]["losses"] == ranks[1]["losses"] and ranks[0]["checksum"] == ranks[1]["checksum"]
    half = straight / "ckpt" / "step-000002"
    for name in ("model.safetensors", "train_state.json", "rng-rank00000.safetensors", "rng-rank00001.safetensors"):
        assert (half / name).is_file(), name
    assert (half / "model.deepspeed" / "state").is_dir()
    assert not list((straight / "ckpt").glob("*.tmp"))

    _torchrun("--out", str(resumed), "--zero-stage", "2", "--steps", "4", "--resume-from", str(half))
    again = _ranks(resumed)
    assert again[0]["losses"] == ranks[0]["losses"][2:]
    assert again[0]["checksum"] == ranks[0]["checksum"] == again[1]["checksum"]
