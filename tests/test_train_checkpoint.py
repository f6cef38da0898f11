"""Checkpoint directories: atomic layout, keep-last-N, latest(), and exact resume on a toy run
(N steps straight == N/2 steps + checkpoint + fresh objects + resume + N/2 steps, bit-exact)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from holitok_common.train.checkpoint import (
    DataPosition,
    TrainState,
    latest,
    list_checkpoints,
    load_checkpoint,
    read_config_dict,
    save_checkpoint,
)
from holitok_common.train.data_stream import EpochStream, SkipBatches
from holitok_common.train.distributed import TorchUnit, seed_everything
from holitok_common.train.schedule import ScheduleConfig, make_scheduler

DATA = torch.randn(10, 8, generator=torch.Generator().manual_seed(0))


def _make_epoch(epoch: int, skip: int):
    """Shuffled batches of 4 (10 items: 3 batches/epoch); the sampler is seeded by epoch."""
    sampler = torch.utils.data.BatchSampler(
        torch.utils.data.RandomSampler(range(10), generator=torch.Generator().manual_seed(epoch)), 4, False
    )
    loader = torch.utils.data.DataLoader(
        DATA, batch_sampler=SkipBatches(sampler, epoch, skip), generator=torch.Generator().manual_seed(epoch)
    )
    return loader


def _build(init_seed: int) -> TorchUnit:
    torch.manual_seed(init_seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 8))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.99))
    return TorchUnit(model, opt, make_scheduler(opt, ScheduleConfig(final_lr=1e-4, warmup_steps=2), 8), grad_clip=0.5)


def _train(unit: TorchUnit, stream: EpochStream, start: int, stop: int, root, save_at=None) -> list[float]:
    losses = []
    for step in range(start, stop):
        x = next(stream)
        noise = torch.randn_like(x) * random.random() * float(np.random.rand())  # every RNG is used
        loss = (unit.module(x + noise) - x).pow(2).mean()
        unit.backward(loss)
        unit.step()
        losses.append(loss.item())
        if step + 1 == save_at:
            save_checkpoint(root, {"toy": unit}, TrainState(step=step + 1, data=stream.position), keep_last=2)
    return losses


def test_resume_is_bit_exact(tmp_path):
    seed_everything(123)
    straight = _train(_build(0), EpochStream(_make_epoch), 0, 8, tmp_path / "a", save_at=4)

    seed_everything(123)
    first = _train(_build(0), EpochStream(_make_epoch), 0, 4, tmp_path / "b", save_at=4)
    seed_everything(999)  # a fresh process: different RNG, different init
    unit = _build(1)
    state = load_checkpoint(latest(tmp_path / "b"), {"toy": unit})
    assert state.step == 4 and state.data == DataPosition(epoch=1, batches=1)
    second = _train(unit, EpochStream(_make_epoch, state.data), state.step, 8, tmp_path / "b")
    assert first + second == straight  # bit-exact floats
    assert unit.lr() == pytest.approx(_lr_after(8))


def _lr_after(steps: int) -> float:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-2)
    sched = make_scheduler(opt, ScheduleConfig(final_lr=1e-4, warmup_steps=2), 8)
    for _ in range(steps):
        opt.step()
        sched.step()
    return opt.param_groups[0]["lr"]


def test_layout_keep_last_and_latest(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        lr: float = 1e-4

    unit = _build(0)
    assert latest(tmp_path) is None
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, {"toy": unit}, TrainState(step=step), config=Cfg(), keep_last=2)
    (tmp_path / "step-000009.tmp").mkdir()  # an interrupted write is never "latest"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000003", "step-000004"]
    last = latest(tmp_path)
    names = {p.name for p in last.iterdir()}
    assert {"toy.safetensors", "toy.optim.pt", "rng-rank00000.safetensors", "train_state.json", "config.yaml"} <= names
    assert read_config_dict(last) == {"lr": 1e-4}
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_checkpoint(tmp_path, {"toy": unit})
