"""Seed-TTS evaluation end to end with fake judges (fast, offline), and the librispeech command."""

from __future__ import annotations

import json
import math

import pytest
import torch

from eval import judges
from eval.cli import main
from eval.seedtts import evaluate_seedtts
from holitok_common.audio import AudioInfo, write_audio

SR = 16000


def tone(seconds: float, freq: float = 220.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * freq * t)


class FakeAsr:
    """Transcribes by duration (each generated wav has a distinct length)."""

    name = "fake-asr"

    def __init__(self, by_samples: dict[int, str]):
        self.by_samples = by_samples

    def describe(self) -> dict:
        return {"name": self.name, "kind": "asr"}

    def transcribe(self, wav, sample_rate):
        return self.by_samples[wav.shape[-1]]


class FakeSim:
    """Embedding = [1, duration in s]: the cosine is a known function of the two durations."""

    name = "fake-sim"

    def describe(self) -> dict:
        return {"name": self.name, "kind": "speaker"}

    def embed(self, wav, sample_rate):
        return torch.tensor([1.0, wav.shape[-1] / sample_rate])


def _cos(a: float, b: float) -> float:
    return (1 + a * b) / math.sqrt((1 + a * a) * (1 + b * b))


@pytest.fixture
def seedtts_set(tmp_path):
    root = tmp_path / "set"
    (root / "prompts").mkdir(parents=True)
    write_audio(root / "prompts" / "p1.wav", tone(1.0), SR)
    write_audio(root / "prompts" / "p2.wav", tone(0.5), SR)
    (root / "meta.lst").write_text(
        "u1|prompt one|prompts/p1.wav|Hello world, this is a test.\n"
        "u2|prompt two|prompts/p2.wav|Don't stop.\n"
        "u3|prompt one|prompts/p1.wav|Good morning\n", encoding="utf-8")
    gen = tmp_path / "gen"
    write_audio(gen / "u1.wav", tone(0.5), SR)  # 8000 samples
    write_audio(gen / "u2.wav", tone(0.25), SR)  # 4000 samples; u3.wav is missing on purpose
    asr = FakeAsr({8000: "hello world this is a test", 4000: "do not stop"})
    return root / "meta.lst", gen, asr


def test_seedtts_end_to_end_with_fake_judges(seedtts_set):
    meta, gen, asr = seedtts_set
    res = evaluate_seedtts(meta, gen, "en", asr, FakeSim())
    # Same texts as the hand-checked scoring test: mean per-utt 50%, corpus 25%; u3 missing -> 200/3.
    assert res.score.wer == pytest.approx(50.0) and res.score.corpus_wer == pytest.approx(25.0)
    assert res.run.missing_wavs == ["u3"] and res.score.missing_ids == ["u3"]
    assert res.score.wer_with_missing == pytest.approx(200 / 3)
    # SIM is against the PROMPT wav: u1 (0.5 s) vs p1 (1.0 s), u2 (0.25 s) vs p2 (0.5 s).
    assert res.sim_utterances == 2
    assert res.sim == pytest.approx((_cos(0.5, 1.0) + _cos(0.25, 0.5)) / 2)


def test_seedtts_command_writes_reports(seedtts_set, tmp_path, monkeypatch, capsys):
    meta, gen, asr = seedtts_set
    monkeypatch.setattr(judges, "load_asr_judge", lambda spec, lang, device: asr)
    monkeypatch.setattr(judges, "load_sim_judge", lambda spec, device: FakeSim())
    out = tmp_path / "report"
    code = main(["seedtts", "--meta", str(meta), "--wav-dir", str(gen), "--out-dir", str(out), "--json", "--device", "cpu"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["wer"] == pytest.approx(50.0) and printed["missing_wavs"] == 1
    saved = json.loads((out / "results.json").read_text())
    assert saved["protocol"] == "seedtts-en"
    assert saved["judges"]["asr"]["name"] == "fake-asr" and saved["judges"]["sim"]["name"] == "fake-sim"
    assert saved["judges"]["asr"]["protocol_judge"] == "hf-whisper:openai/whisper-large-v3"
    assert saved["details"]["missing_wavs"] == ["u3"]
    assert "fake-asr" in (out / "results.md").read_text()
    assert (out / "wer_hist.png").is_file()
    rows = [json.loads(line) for line in (out / "per_utt.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["u1", "u2"] and rows[1]["wer"] == pytest.approx(100.0)


def test_seedtts_unreadable_wav_is_reported(seedtts_set):
    meta, gen, asr = seedtts_set
    (gen / "u3.wav").write_bytes(b"not a wav")
    res = evaluate_seedtts(meta, gen, "en", asr, None)
    assert list(res.run.asr_failed) == ["u3"] and res.score.missing == 1
    assert math.isnan(res.sim)


def test_librispeech_command(tmp_path, capsys):
    from holitok_common.data.manifests import make_cut, save_cuts

    cuts = []
    for cut_id, text in (("c1", "MISTER SMITH PAID TWENTY FIVE DOLLARS"), ("c2", "GOOD MORNING")):
        write_audio(tmp_path / f"{cut_id}.wav", tone(0.5), SR)
        cuts.append(make_cut(cut_id, tmp_path / f"{cut_id}.wav", AudioInfo(SR, 1, 8000), text, "spk"))
    manifest = save_cuts(cuts, tmp_path / "cuts_test.jsonl.gz")
    hyps = tmp_path / "hyp.jsonl"
    hyps.write_text('{"id": "c1", "text": "Mr. Smith paid $25."}\n{"id": "c2", "text": "Good morning!"}\n')
    out = tmp_path / "ls"
    assert main(["librispeech", "--manifest", str(manifest), "--hyps", str(hyps), "--out-dir", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["protocol"] == "librispeech" and printed["wer"] == 0.0
    assert printed["wer_raw_icefall"] > 0  # punctuation and "$25" count as errors without the normaliser
    assert json.loads((out / "results.json").read_text())["metrics"]["missing"] == 0


def test_librispeech_model_reports_holitok_asr_problems(tmp_path, capsys):
    from holitok_common.data.manifests import make_cut, save_cuts

    write_audio(tmp_path / "c1.wav", tone(0.5), SR)
    manifest = save_cuts([make_cut("c1", tmp_path / "c1.wav", AudioInfo(SR, 1, 8000), "HELLO", "spk")], tmp_path / "m.jsonl.gz")
    code = main(["librispeech", "--manifest", str(manifest), "--model", str(tmp_path / "no-model"), "--out-dir", str(tmp_path / "o")])
    assert code == 2 and "holitok-asr" in capsys.readouterr().err
