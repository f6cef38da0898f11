"""The config system: preset <- YAML <- key=value, strict keys, typed coercion, one validate()."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from holitok_common.config import ConfigError, from_dict, load_config, parse_overrides, to_dict


@dataclass
class Optim:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.8, 0.99)


@dataclass
class Model:
    width: int = 8
    rates: list[int] = field(default_factory=lambda: [2, 4])
    kind: Literal["base", "unite"] = "base"
    ckpt: Optional[str] = None
    hop: int = 0  # derived

    def validate(self) -> None:
        if self.width <= 0:
            raise ConfigError(f"model.width must be positive, got {self.width}")
        hop = 1
        for r in self.rates:
            hop *= r
        self.hop = hop


@dataclass
class Top:
    model: Model = field(default_factory=Model)
    optim: Optim = field(default_factory=Optim)
    name: str = "run"


PRESETS = {"tiny": lambda: Top(model=Model(width=4)), "big": lambda: Top(model=Model(width=64))}


def test_layering_preset_yaml_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: big\noptim:\n  lr: 3\nmodel:\n  rates: [2, 3, 5]\n")
    cfg = load_config(Top, path, ["optim.lr=1e-3", "model.kind=unite", "name='001'"], presets=PRESETS)
    assert cfg.model.width == 64  # from the preset
    assert cfg.model.rates == [2, 3, 5]  # from YAML
    assert cfg.optim.lr == pytest.approx(1e-3) and isinstance(cfg.optim.lr, float)  # override wins
    assert cfg.model.kind == "unite" and cfg.name == "001"
    assert cfg.model.hop == 30  # derived in validate()


def test_unknown_key_is_named_with_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'optim\.lrr'.*Did you mean 'lr'"):
        load_config(Top, overrides=["optim.lrr=1"])
    path = tmp_path / "c.yaml"
    path.write_text("modle:\n  width: 3\n")
    with pytest.raises(ConfigError, match="'modle'"):
        load_config(Top, path)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.width=abc", "expected an integer"),
        ("model.width=1.5", "expected an integer"),
        ("model.kind=other", "not one of"),
        ("optim.betas=[1]", "expected 2 items"),
        ("model.width=-1", "must be positive"),
        ("model", "key=value"),
    ],
)
def test_bad_values_fail_clearly(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Top, overrides=[override])


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        load_config(Top, presets=PRESETS, preset="huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Top, tmp_path / "nope.yaml")


def test_roundtrip_and_override_parsing():
    cfg = load_config(Top, presets=PRESETS, preset="tiny", overrides=["model.ckpt=/x"])
    again = from_dict(Top, to_dict(cfg))
    assert again == cfg
    assert parse_overrides(["a.b=1", "a.c=[1,2]", "d=null"]) == {"a": {"b": 1, "c": [1, 2]}, "d": None}


def test_yaml_boolean_spellings_of_literal_strings():
    """YAML 1.1 reads `no`/`off`/`yes`/`on` as booleans; a Literal field that holds the word takes it."""
    from holitok_common.train.distributed import DistributedConfig

    cfg = load_config(DistributedConfig, None, ["mixed_precision=no"])
    assert cfg.mixed_precision == "no"
    with pytest.raises(ConfigError, match="is not one of"):
        load_config(DistributedConfig, None, ["mixed_precision=yes"])  # no "yes" among the choices: still refused
