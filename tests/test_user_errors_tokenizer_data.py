"""User mistakes in holitok-tokenizer / holitok-train tokenizer / holitok-data fail early: exit 2, one-line error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from holitok_common.audio import AudioError, audio_info, read_audio, write_audio
from holitok_common.config import ConfigError, load_config, parse_overrides
from holitok_common.data.manifests import ManifestError, load_cuts
from holitok_common.data.synth import SynthConfig
from holitok_common.data.validation import ValidationRules
from holitok_tokenizer.cli import main as tokenizer_main
from holitok_tokenizer.train.cli import main as train_main
from test_tokenizer_cli import model_dir  # noqa: F401 (the saved tiny tokenizer fixture)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "recipes" / "tokenizer" / "conf"


@pytest.fixture
def wav(tmp_path) -> Path:
    path = tmp_path / "in.wav"
    write_audio(path, 0.1 * torch.randn(4000), 16000)
    return path


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _empty_manifest(path: Path) -> Path:
    with gzip.open(path, "wb"):
        pass
    return path


@pytest.mark.parametrize("command", ["encode", "reconstruct"])
@pytest.mark.parametrize("output, message", [
    ("/sys/x.OUT", "cannot write into /sys"),
    ("rec.mp3", "must end with"),
    ("recnoext", "must end with"),
    ("a_file/x.OUT", "is a file, not a folder"),
])
def test_tokenizer_outputs_checked_before_the_model(model_dir, wav, tmp_path, capsys, monkeypatch, command, output, message):
    import holitok_tokenizer.cli as cli

    (tmp_path / "a_file").write_text("x")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_load_model", lambda args: pytest.fail("the model ran before the output was checked"))
    output = output.replace(".OUT", ".npy" if command == "encode" else ".wav")
    assert tokenizer_main([command, "--model", str(model_dir), "--device", "cpu", str(wav), "-o", output]) == 2
    _one_line_error(capsys, message)


def test_tokenizer_extract_out_dir_and_manifest_errors(model_dir, tmp_path, capsys):
    base = ["extract", "--model", str(model_dir), "--device", "cpu", "--no-progress"]
    empty = _empty_manifest(tmp_path / "empty.jsonl.gz")
    (tmp_path / "file").write_text("x")
    assert tokenizer_main(base + ["--manifest", str(empty), "--out-dir", str(tmp_path / "file")]) == 2
    _one_line_error(capsys, "exists and is not a directory")
    assert tokenizer_main(base + ["--manifest", str(empty), "--out-dir", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "manifest has no cuts")
    for bad in ("0", "-1", "nan"):
        with pytest.raises(SystemExit) as exc:
            tokenizer_main(base + ["--manifest", str(empty), "--out-dir", str(tmp_path / "out"), "--batch-seconds", bad])
        assert exc.value.code == 2
        assert "--batch-seconds" in capsys.readouterr().err


def test_tokenizer_decode_refuses_unusable_latents(model_dir, tmp_path, capsys):
    from safetensors.torch import save_file

    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    save_file({"z": torch.zeros(3, 32)}, str(tmp_path / "nolat.safetensors"))
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    cases = {"obj.npy": "cannot read .npy latents", "corrupt.npy": "cannot read .npy latents",
             "nolat.safetensors": "no 'latents' tensor", "corrupt.safetensors": "cannot read .safetensors latents"}
    for name, message in cases.items():
        rc = tokenizer_main(["decode", "--model", str(model_dir), "--device", "cpu", str(tmp_path / name),
                             "-o", str(tmp_path / "out.wav")])
        assert rc == 2, name
        _one_line_error(capsys, name, message, "holitok-tokenizer encode")


def test_tokenizer_device_choices(model_dir, wav, tmp_path, capsys, monkeypatch):
    args = ["encode", "--model", str(model_dir), str(wav), "-o", str(tmp_path / "z.npy")]
    with pytest.raises(SystemExit) as exc:
        tokenizer_main(args + ["--device", "gpu"])
    assert exc.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tokenizer_main(args + ["--device", "cuda"]) == 2
    _one_line_error(capsys, "no CUDA device is available", "--device cpu")
    assert tokenizer_main(args + ["--device", "auto"]) == 0 and (tmp_path / "z.npy").is_file()


def test_convert_official_corrupt_checkpoint(tmp_path, capsys):
    (tmp_path / "model.pt").write_bytes(b"this is not a checkpoint")
    assert tokenizer_main(["convert-official", str(tmp_path / "model.pt"), "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "not a torch checkpoint")
    (tmp_path / "config.json").write_text("{not json")
    assert tokenizer_main(["convert-official", str(tmp_path / "model.pt"), "--config", str(tmp_path / "config.json"),
                           "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "runtime config is not valid JSON")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    from holitok_tokenizer.train.config import TokenizerTrainConfig

    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 3\ndata:\n  train_cuts: [a, b\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*line 4"):
        load_config(TokenizerTrainConfig, bad)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(TokenizerTrainConfig, tmp_path)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_overrides(["steps=[1,"])


def test_train_tokenizer_missing_inputs_fail_before_training(tmp_path, capsys, monkeypatch):
    import holitok_common.train.distributed as distributed

    monkeypatch.setattr(distributed, "setup_runtime", lambda *a, **k: pytest.fail("training started"))
    (tmp_path / "bad.yaml").write_text("steps: [1,\n")
    assert train_main([str(tmp_path / "bad.yaml")]) == 2
    assert "line 2" in capsys.readouterr().err
    assert train_main([str(CONF / "tiny-stage1.yaml"), "data.train_cuts=/nope.jsonl.gz"]) == 2
    assert "data.train_cuts='/nope.jsonl.gz' does not exist" in capsys.readouterr().err
    cuts = _empty_manifest(tmp_path / "cuts.jsonl.gz")
    assert train_main([str(CONF / "tiny-stage2.yaml"), f"data.train_cuts={cuts}", "init_from=/nonexist"]) == 2
    assert "init_from='/nonexist' does not exist" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    assert train_main([str(CONF / "tiny-stage2.yaml"), f"data.train_cuts={cuts}", f"init_from={tmp_path / 'run'}"]) == 2
    assert "no checkpoint there" in capsys.readouterr().err


def test_data_import_refuses_empty_manifests(tmp_path, capsys):
    from holitok_common.data.cli import main as data_main

    (tmp_path / "empty").mkdir()
    assert data_main(["folder", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no items found" in capsys.readouterr().err
    (tmp_path / "empty.lst").write_text("")
    assert data_main(["seedtts", str(tmp_path / "empty.lst"), "--out", str(tmp_path / "o")]) == 2
    assert "empty.lst: no items found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.jsonl.gz"))


def test_data_rules_and_synth_config_are_checked_up_front(tmp_path, capsys):
    from holitok_common.data.cli import main as data_main

    (tmp_path / "d").mkdir()
    assert data_main(["folder", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
                      "--min-duration", "10", "--max-duration", "1"]) == 2
    assert "--min-duration <= --max-duration" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        ValidationRules(min_duration=-1.0)
    for hours in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="hours must be positive"):
            SynthConfig(hours=hours)
    assert data_main(["synth", str(tmp_path / "s"), "--hours", "0"]) == 2
    assert "hours must be positive" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_empty_manifest_and_directories_are_named(tmp_path):
    with pytest.raises(ManifestError, match="manifest has no cuts"):
        load_cuts(_empty_manifest(tmp_path / "e.jsonl.gz"))
    (tmp_path / "z.jsonl.gz").write_bytes(b"")
    with pytest.raises(ManifestError, match="manifest has no cuts"):
        load_cuts(tmp_path / "z.jsonl.gz")
    with pytest.raises(ManifestError, match="is a directory"):
        load_cuts(tmp_path)
    with pytest.raises(AudioError, match="is a directory"):
        audio_info(tmp_path)
    with pytest.raises(AudioError, match="is a directory"):
        read_audio(tmp_path)


def test_read_audio_refuses_mis_scaled_float_audio(tmp_path):
    """Integer sample values stored in a float WAV (peak ~100) would be heard as noise by every model."""
    import numpy as np
    import soundfile as sf

    from holitok_common.audio import AudioError, read_audio

    t = np.arange(1600, dtype=np.float32) / 16000
    sf.write(str(tmp_path / "loud.wav"), 100 * np.sin(2 * np.pi * 220 * t), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="far outside"):
        read_audio(tmp_path / "loud.wav")
    sf.write(str(tmp_path / "hot.wav"), 1.2 * np.sin(2 * np.pi * 220 * t), 16000, subtype="FLOAT")
    assert read_audio(tmp_path / "hot.wav")[0].abs().max() > 1.0  # a small float overshoot is kept as is
