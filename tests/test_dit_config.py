"""DiTConfig: every preset validates, paper size matches the paper, configs load like any other."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dit_head import PRESETS, DiTConfig, DiTHead
from holitok_common.config import load_config


def _count(cfg: DiTConfig) -> int:
    with torch.device("meta"):  # no memory, no init cost
        head = DiTHead(cfg)
    return sum(p.numel() for p in head.parameters())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_builds(name):
    cfg = DiTConfig.from_preset(name)
    cfg.validate()
    assert _count(cfg) > 0


def test_paper_parameter_count():
    cfg = DiTConfig.from_preset("paper")
    assert (cfg.depth, cfg.width, cfg.ffn, cfg.patch_size, cfg.latent_dim) == (18, 1024, 4096, 4, 128)
    n_paper, n_tiny = _count(cfg), _count(DiTConfig.from_preset("tiny"))
    print(f"\nDiT head parameters: paper {n_paper:,} ({n_paper / 1e6:.1f}M), tiny {n_tiny:,}")
    assert 340e6 < n_paper < 350e6  # the paper's "~345M"


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(heads=7), "width"),
        (dict(depth=0), "depth"),
        (dict(width=64, heads=4, latent_dim=128), "latent_dim"),
        (dict(cond_dropout=1.0), "cond_dropout"),
        (dict(history_patches=-1), "history_patches"),
        (dict(time_std=0.0), "time_std"),
        (dict(batch_mul=0), "batch_mul"),
    ],
)
def test_invalid_configs_fail_with_the_field_name(change, field):
    cfg = dataclasses.replace(DiTConfig(), **change)
    with pytest.raises(ValueError, match=field):
        cfg.validate()


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="tiny"):
        DiTConfig.from_preset("huge")


def test_loads_through_the_common_config_system():
    cfg = load_config(DiTConfig, presets=PRESETS, preset="tiny", overrides=["depth=3", "cond_dropout=0"])
    assert cfg.depth == 3 and cfg.cond_dropout == 0.0 and cfg.width == PRESETS["tiny"]().width
