"""LR schedule (warmup, exponential decay to the floor) and the rank-0 logger."""

from __future__ import annotations

import math

import pytest
import torch

from holitok_common.config import ConfigError, load_config
from holitok_common.train.logging import RunLogger
from holitok_common.train.schedule import ScheduleConfig, lr_factor


def test_exponential_decay_hits_floor_and_is_geometric():
    cfg = ScheduleConfig(final_lr=1e-6)
    lrs = [1e-4 * lr_factor(s, 1e-4, cfg, 100) for s in range(0, 121)]
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[100] == pytest.approx(1e-6) and lrs[120] == pytest.approx(1e-6)
    assert lrs[50] == pytest.approx(1e-5)  # geometric midpoint
    ratios = [lrs[i + 1] / lrs[i] for i in range(99)]
    assert max(ratios) == pytest.approx(min(ratios))


def test_warmup_then_decay():
    cfg = ScheduleConfig(final_lr=1e-6, warmup_steps=10)
    assert lr_factor(0, 1e-4, cfg, 110) == pytest.approx(0.1)
    assert lr_factor(9, 1e-4, cfg, 110) == pytest.approx(1.0)
    assert lr_factor(60, 1e-4, cfg, 110) == pytest.approx(math.sqrt(1e-2))


def test_schedule_config_validation():
    with pytest.raises(ConfigError, match="final_lr"):
        load_config(ScheduleConfig, overrides=["final_lr=0"])


def test_logger_writes_events_and_is_silent_off_rank0(tmp_path):
    log = RunLogger(tmp_path / "tb", enabled=True, total_steps=3)
    log.scalars({"loss": torch.tensor(1.5)}, step=1)
    log.mel_image("mel", {"real": torch.rand(20, 30), "fake": torch.rand(20, 30)}, step=1)
    log.audio("wav", torch.rand(4800) * 2 - 1, 48000, step=1)
    log.progress(1, {"loss": 1.5})
    log.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "tb" / "metrics.jsonl").read_text().strip() == '{"step": 1, "train/loss": 1.5}'
    quiet = RunLogger(tmp_path / "other", enabled=False, total_steps=3)
    quiet.scalars({"loss": 1.0}, step=1)
    quiet.close()
    assert not (tmp_path / "other").exists()
