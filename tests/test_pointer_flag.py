"""`python -m unified_lm.train.pointer_flag`: what the shell recipes ask before preparing aligned cuts."""

from __future__ import annotations

from pathlib import Path

from unified_lm.train.pointer_flag import main

CONF = Path(__file__).resolve().parents[1] / "recipes" / "unified" / "conf"


def test_tiny_recipe_configs_and_overrides(capsys):
    confs = [str(CONF / "tiny_tts_only.yaml"), str(CONF / "tiny_joint.yaml")]
    assert main(confs) == 0 and capsys.readouterr().out.strip() == "1"
    off = ["model.pointer.enabled=false", "model.pointer.frame_units=false"]
    assert main(confs + off) == 0 and capsys.readouterr().out.strip() == "0"
    # the tiny configs condition the DiT on the pointer's frame units: turning the pointer off alone
    # is refused with what to set
    assert main(confs + off[:1]) == 2 and "model.pointer.frame_units=false" in capsys.readouterr().err


def test_disagreeing_configs_are_an_error(tmp_path, capsys):
    off = tmp_path / "off.yaml"
    off.write_text("preset: tiny\nmodel: {pointer: {enabled: false}}\n")
    assert main([str(CONF / "tiny_joint.yaml"), str(off)]) == 2
    assert "disagree on model.pointer.enabled" in capsys.readouterr().err
    assert main([]) == 2
    assert main([str(CONF / "tiny_joint.yaml"), "model.pointer.enabled=maybe"]) == 2
    assert "model.pointer.enabled" in capsys.readouterr().err
