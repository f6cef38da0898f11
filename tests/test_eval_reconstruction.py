"""Reconstruction evaluation end to end with a fake tokenizer and fake judges."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

from eval.manifest import ManifestUtt
from eval.metrics import bitrates, mel_distance
from eval.reconstruction import evaluate_reconstruction, reconstruction_report
from eval.report import write_report


class FakeTokenizer:
    """Identity-ish codec: 16 kHz, 100 frames/s of 4 floats; output = 0.98 x input padded to whole frames."""

    sample_rate, hop, frame_rate, latent_dim = 16000, 160, 100.0, 4

    def reconstruct(self, wav, lengths, sample=False):  # wav [B, S]
        frames = -(-wav.shape[-1] // self.hop)
        out = torch.nn.functional.pad(0.98 * wav, (0, frames * self.hop - wav.shape[-1]))
        return SimpleNamespace(wav=out, lengths=torch.full_like(lengths, frames * self.hop))


class FakeAsr:
    name = "fake-asr"

    def describe(self):
        return {"name": self.name}

    def transcribe(self, wav, sample_rate):
        return "hello world"


class FakeSim:
    name = "fake-sim"

    def describe(self):
        return {"name": self.name}

    def embed(self, wav, sample_rate):
        return torch.tensor([1.0, float(wav.abs().mean())])


def speechlike(seconds: float, sr: int, seed: int) -> torch.Tensor:
    """An amplitude-modulated harmonic signal with noise: PESQ's VAD accepts it as speech."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sr)) / sr
    voice = sum(torch.sin(2 * math.pi * f * t) / k for k, f in enumerate((180.0, 360.0, 540.0, 720.0), 1))
    envelope = 0.5 * (1 + torch.sin(2 * math.pi * 3 * t))
    return 0.2 * voice * envelope + 0.005 * torch.randn(t.shape, generator=g)


def test_reconstruction_end_to_end(tmp_path):
    # Inputs at 22.05 kHz exercise the resampling to the tokenizer rate.
    items = [ManifestUtt(f"utt{i}", "Hello, world!", speechlike(2.0, 22050, i), 22050) for i in range(2)]
    res = evaluate_reconstruction(FakeTokenizer(), items, FakeAsr(), FakeSim(), plot_dir=tmp_path / "mels", n_plots=1)
    assert res.counts["pesq_nb"] == 2 and not res.failures
    assert res.means["pesq_nb"] > 4.0 and res.means["pesq_wb"] > 4.0  # near-identity codec
    assert res.means["stoi"] > 0.99
    assert res.means["mel_l1"] < 0.02  # 0.98 gain = log10(0.98) ~ 0.009 per bin
    assert res.wer_recon.wer == 0.0 and res.wer_orig.wer == 0.0
    # 16 kHz x 16 bit = 256 kbit/s over 100 frames/s x 4 dims x 32 bit = 12.8 kbit/s -> 20x
    assert res.rates.compression_ratio == pytest.approx(20.0) and res.rates.tokens_per_s == 100.0
    assert len(list((tmp_path / "mels").glob("*.png"))) == 1
    report = reconstruction_report(res, "fake", FakeAsr(), FakeSim())
    write_report(tmp_path / "out", report, wer_values=[0.0, 0.0])
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["judges"]["asr"]["name"] == "fake-asr" and saved["metrics"]["utterances"] == 2
    assert "mel_config" in saved["details"]


def test_silence_failures_are_reported_not_hidden():
    items = [ManifestUtt("quiet", "", torch.zeros(16000), 16000)]
    res = evaluate_reconstruction(FakeTokenizer(), items, None, None)
    assert "pesq_nb" in res.failures and res.failures["pesq_nb"][0].startswith("quiet:")
    assert math.isnan(res.means["pesq_nb"]) and res.counts["pesq_nb"] == 0


def test_metric_definitions():
    x = speechlike(1.0, 16000, 0)
    assert mel_distance(x, x, 16000) == 0.0
    b = bitrates(48000, 25.0, 128)  # the holitok-48k preset: 768 kbit/s PCM vs 102.4 kbit/s latents
    assert b.compression_ratio == pytest.approx(7.5)


def test_reconstruction_command_with_fake_tokenizer_module(tmp_path, monkeypatch, capsys):
    import sys
    import types

    from eval import judges
    from eval.cli import main
    from holitok_common.audio import AudioInfo, write_audio
    from holitok_common.data.manifests import make_cut, save_cuts

    fake_module = types.ModuleType("holitok_tokenizer")
    fake_module.HoliTok = SimpleNamespace(from_pretrained=lambda path: FakeTokenizer())
    monkeypatch.setitem(sys.modules, "holitok_tokenizer", fake_module)
    monkeypatch.setattr(judges, "load_asr_judge", lambda spec, lang, device: FakeAsr())
    write_audio(tmp_path / "a.wav", speechlike(1.5, 16000, 3), 16000)
    manifest = save_cuts([make_cut("a", "a.wav", AudioInfo(16000, 1, 24000), "HELLO WORLD", "s")], tmp_path / "m.jsonl.gz")
    out = tmp_path / "rec"
    code = main(["reconstruction", "--tokenizer", "fake-dir", "--manifest", str(manifest), "--out-dir", str(out),
                 "--sim-judge", "none", "--device", "cpu", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["wer_recon"] == 0.0 and printed["compression_ratio"] == pytest.approx(20.0)
    assert (out / "results.json").is_file() and (out / "results.md").is_file()
    assert len(list((out / "mels").glob("*.png"))) == 1
