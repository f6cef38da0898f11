"""Every shipped tokenizer-training config and preset loads; stage rules fail early; the CLI
dispatcher and the recipe script are wired."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from holitok_common.config import ConfigError
from holitok_tokenizer.train.config import PRESETS, load_train_config
from unified_lm.cli.train import main as holitok_train

ROOT = Path(__file__).resolve().parents[1]
CONFS = sorted((ROOT / "recipes" / "tokenizer" / "conf").glob("*.yaml"))


def test_conf_dir_covers_every_preset():
    assert {p.stem for p in CONFS} == set(PRESETS)


@pytest.mark.parametrize("path", CONFS, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    cfg = load_train_config(str(path))
    assert cfg.stage == {"1": "I", "2": "II", "3": "III"}[path.stem[-1]]
    assert cfg.loss.mel == 45.0 and cfg.optim.betas == (0.8, 0.99)
    assert 0 < cfg.optim.schedule.final_lr < cfg.optim.lr
    assert cfg.loss.kl == {"I": 0.0, "II": 0.1, "III": 7.0}[cfg.stage]
    if path.stem.startswith("holitok-48k"):  # the paper's optimiser; the tiny learning-proof configs tune theirs
        assert cfg.optim.lr == 1e-4 and cfg.optim.schedule.final_lr == 1e-6 and cfg.adv_start_step == 0
        assert cfg.model.build_config().hop == 1920
        assert cfg.data.crop_seconds == (20.0 if cfg.stage == "III" else 9.6)


def test_paper_stage3_teachers():
    cfg = load_train_config(preset="holitok-48k-stage3")
    assert cfg.teachers.wavlm_layer == 23 and cfg.distributed.zero_stage == 2
    assert (cfg.lm_supervision.layers, cfg.lm_supervision.width, cfg.lm_supervision.ffn) == (24, 1536, 6144)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["loss.kl=0.1"], "stage I bypasses"),
        (["stage=II", "loss.wavlm=1"], "stage II trains the bottleneck only"),
        (["stage=III", "loss.lm=1"], "teachers.lm"),
        (["optim.lr_typo=1"], "unknown config key"),
        (["model.overrides={latent_dimm: 3}"], "unknown config key"),
        (["distributed.zero_stage=4"], "zero_stage"),
        (["data.speed_perturb=[0.9]"], "speed_perturb"),
        (["data.speed_perturb=[1.1,0.9]"], "speed_perturb"),
        (["data.speed_perturb=[0.2,1.1]"], "speed_perturb"),
    ],
)
def test_bad_configs_fail_early(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(preset="tiny-stage1", overrides=overrides)


def test_cli_dispatch(capsys):
    assert holitok_train(["tokenizer", "tiny-stage2", "--print-config", "steps=7"]) == 0
    out = capsys.readouterr().out
    assert "stage: II" in out and "steps: 7" in out
    assert holitok_train(["tokenizer", "no-such-preset"]) == 2
    assert holitok_train(["frobnicate"]) == 2
    assert holitok_train([]) == 2


def test_recipe_script_parses_and_helps():
    script = ROOT / "recipes" / "tokenizer" / "run.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    out = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--stop-stage" in out.stdout
    bad = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2
