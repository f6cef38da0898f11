"""holitok_common.train.distributed on CPU (gloo): a plain single process (no launcher) with and
without DeepSpeed, and 2-process DeepSpeed ZeRO-2 launched with torchrun: ranks agree, the
checkpoint directory is complete, and a resumed run continues with the same losses as the
uninterrupted one. ~45 s (plus ~26 s once to JIT-build DeepSpeed's comm op)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _dist import LAUNCHER_ENV, ROOT, run_torchrun

pytest.importorskip("deepspeed")
SMOKE = ["-m", "holitok_common.train.smoke"]


def _ranks(out: Path, world: int = 2) -> list[dict]:
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.mark.parametrize("zero_stage", [0, 2])
def test_single_process_without_launcher(tmp_path, zero_stage):
    """`python -m ...` with no RANK/WORLD_SIZE: setup_runtime must give DeepSpeed a 1-rank group
    (it would otherwise try MPI discovery) and leave a non-DeepSpeed run without one."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, *SMOKE, "--out", str(tmp_path), "--zero-stage", str(zero_stage), "--steps", "2"]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"single-process smoke run hung (> 120 s): {str(exc.stderr)[-3000:]}", pytrace=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (record,) = _ranks(tmp_path, world=1)
    assert record["world_size"] == 1 and len(record["losses"]) == 2
    ckpt = Path(record["ckpt"])
    assert (ckpt / "model.safetensors").is_file()
    assert (ckpt / "model.deepspeed").is_dir() == (zero_stage > 0)


def test_zero2_two_process_step_checkpoint_and_resume(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_torchrun([*SMOKE, "--out", str(straight), "--zero-stage", "2", "--steps", "4", "--save-at", "2"])
    ranks = _ranks(straight)
    assert ranks[0]["world_size"] == 2
    assert ranks[0]["losses"] == ranks[1]["losses"] and ranks[0]["checksum"] == ranks[1]["checksum"]
    half = straight / "ckpt" / "step-000002"
    for name in ("model.safetensors", "train_state.json", "rng-rank00000.safetensors", "rng-rank00001.safetensors"):
        assert (half / name).is_file(), name
    assert (half / "model.deepspeed" / "state").is_dir()
    assert not list((straight / "ckpt").glob("*.tmp"))

    run_torchrun([*SMOKE, "--out", str(resumed), "--zero-stage", "2", "--steps", "4", "--resume-from", str(half)])
    again = _ranks(resumed)
    assert again[0]["losses"] == ranks[0]["losses"][2:]
    assert again[0]["checksum"] == ranks[0]["checksum"] == again[1]["checksum"]
