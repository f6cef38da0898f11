"""`holitok-tokenizer` end to end on a random tiny model: convert, encode, decode, reconstruct, extract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from holitok_common.audio import audio_info, read_audio, write_audio
from holitok_tokenizer.cli import build_parser, main
from holitok_tokenizer.model import HoliTok

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tok") / "tiny"
    HoliTok.from_preset("tiny").save_pretrained(path)
    return path


def _tone(path: Path, sr: int, seconds: float, freq: float = 220.0, channels: int = 1) -> Path:
    t = torch.arange(int(sr * seconds)) / sr
    wav = 0.3 * torch.sin(2 * torch.pi * freq * t) + 0.01 * torch.randn(t.shape)
    write_audio(path, wav.repeat(channels, 1) if channels > 1 else wav, sr)
    return path


@pytest.mark.parametrize("command", [None, "convert-official", "encode", "decode", "reconstruct", "extract"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    assert "usage: holitok-tokenizer" in capsys.readouterr().out


def test_convert_official_golden(tmp_path, capsys):
    out = tmp_path / "golden"
    rc = main(["convert-official", str(ASSETS / "holitok_golden_w16.model.pt"),
               "--config", str(ASSETS / "holitok_golden_w16.config.json"), "--out", str(out)])
    assert rc == 0
    assert "loaded 1067 tensors; ignored 0 training-only keys" in capsys.readouterr().out
    model = HoliTok.from_pretrained(out)
    assert (model.latent_dim, model.hop) == (16, 1920) and not model.has_weight_norm


def test_encode_decode_roundtrip(model_dir, tmp_path):
    wav_path = _tone(tmp_path / "in.wav", 16000, 0.53)
    for suffix in (".npy", ".safetensors"):
        latents = tmp_path / f"z{suffix}"
        assert main(["encode", "--model", str(model_dir), "--device", "cpu", str(wav_path), "-o", str(latents), "--mean"]) == 0
        out = tmp_path / f"out{suffix}.wav"
        assert main(["decode", "--model", str(model_dir), "--device", "cpu", str(latents), "-o", str(out)]) == 0
        info = audio_info(out)
        # .safetensors records the input length; .npy decodes whole frames (ceil(8480 / 640) = 14)
        assert info.num_samples == (8480 if suffix == ".safetensors" else 14 * 640)
    assert np.load(tmp_path / "z.npy").shape == (14, 32)


def test_reconstruct_resamples_with_note(model_dir, tmp_path, capsys):
    wav_path = _tone(tmp_path / "in44.wav", 44100, 0.5, channels=2)
    out = tmp_path / "rec.wav"
    assert main(["reconstruct", "--model", str(model_dir), "--device", "cpu", str(wav_path), "-o", str(out), "--mean"]) == 0
    printed = capsys.readouterr().out
    assert "resampling 44100 Hz -> 16000 Hz" in printed and "down-mixing 2 channels" in printed
    wav, sr = read_audio(out)
    assert sr == 16000 and wav.numel() == 8000  # trimmed to the (resampled) input length
    import soundfile as sf

    assert sf.info(str(out)).subtype == "FLOAT"


def test_cli_errors_are_clear(model_dir, tmp_path, capsys):
    assert main(["reconstruct", "--model", str(tmp_path), str(tmp_path / "x.wav"), "-o", str(tmp_path / "y.wav")]) == 2
    assert "not a tokenizer checkpoint" in capsys.readouterr().err


def _manifest(tmp_path: Path) -> Path:
    from lhotse import CutSet, Recording, RecordingSet

    audio = tmp_path / "audio"
    files = [
        _tone(audio / "a.wav", 16000, 1.0, 200.0),
        _tone(audio / "b.wav", 16000, 0.37, 330.0),
        _tone(audio / "c.wav", 22050, 0.61, 440.0),  # another rate: resampled
        _tone(audio / "d.wav", 16000, 2.0, 120.0),
    ]
    recordings = RecordingSet.from_recordings(Recording.from_file(f) for f in files)
    path = tmp_path / "cuts.jsonl.gz"
    CutSet.from_manifests(recordings=recordings).to_file(str(path))
    return path


def test_extract_with_resume(model_dir, tmp_path, capsys):
    from lhotse import CutSet

    manifest, out = _manifest(tmp_path), tmp_path / "ext"
    args = ["extract", "--model", str(model_dir), "--device", "cpu", "--manifest", str(manifest),
            "--out-dir", str(out), "--batch-seconds", "1.5", "--no-progress"]
    assert main(args) == 0
    assert "encoded 4 cuts, skipped 0" in capsys.readouterr().out
    cuts = CutSet.from_file(str(out / "cuts_with_latents.jsonl.gz")).to_eager()
    frames = {c.recording_id: c.custom["num_frames"] for c in cuts}
    assert frames == {"a": 25, "b": 10, "c": 16, "d": 50}  # ceil(duration * 25)
    all_latents = np.concatenate([np.load(c.custom["latents_path"]) for c in cuts])  # [N, D]
    stats = json.loads((out / "latent_stats.json").read_text())
    assert set(stats) == {"mean", "std", "count", "latent_dim", "frame_rate"}
    assert (stats["count"], stats["latent_dim"], stats["frame_rate"]) == (101, 32, 25.0)
    np.testing.assert_allclose(stats["mean"], all_latents.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["std"], all_latents.std(0), rtol=1e-4, atol=1e-6)
    # the default stores the posterior mean: equal to encoding a cut alone
    model = HoliTok.from_pretrained(model_dir)
    wav, _ = read_audio(tmp_path / "audio" / "d.wav")
    with torch.no_grad():
        alone = model.encode(wav[None], sample=False).latents[0].numpy()
    paths = {c.recording_id: Path(c.custom["latents_path"]) for c in cuts}
    assert all(p.parent == (out / "latents").resolve() for p in paths.values())
    np.testing.assert_allclose(np.load(paths["d"]), alone, atol=1e-5, rtol=1e-4)

    first = paths["a"].stat().st_mtime_ns
    paths["b"].unlink()  # as if killed before b was written
    assert main(args) == 0
    assert "encoded 1 cuts, skipped 3" in capsys.readouterr().out
    assert paths["a"].stat().st_mtime_ns == first and paths["b"].is_file()
    assert json.loads((out / "latent_stats.json").read_text())["count"] == 101
