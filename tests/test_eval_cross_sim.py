"""Cross-speaker SIM (eval.cross_sim), ground-truth scoring of a Seed-TTS list and `python:` judges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from eval import judges
from eval.cli import main
from eval.cross_sim import cross_speaker_similarity, read_speaker_map, speakers_by_prompt_dir
from holitok_common.audio import write_audio
from holitok_common.data.seedtts import parse_seedtts_list

SR = 16000
E = {"x": torch.tensor([1.0, 0.0]), "y": torch.tensor([0.0, 1.0]), "xy2": torch.tensor([1.0, 2.0])}


def test_cross_similarity_by_hand():
    # speaker A has two prompts (both x), B one (y); B's generated wav leans to y.
    prompts = {"a1": E["x"], "a2": E["x"], "b1": E["y"]}
    speakers = {"a1": "A", "a2": "A", "b1": "B"}
    res = cross_speaker_similarity({"a1": E["x"], "b1": E["xy2"]}, prompts, speakers)
    own_b, other_b = 2 / math.sqrt(5), 1 / math.sqrt(5)
    assert res.sim_own == pytest.approx((1.0 + own_b) / 2)
    assert res.sim_other == pytest.approx((0.0 + other_b) / 2)  # A's two prompts count as one speaker
    assert res.margin == pytest.approx(res.sim_own - res.sim_other)
    assert res.speaker_id_acc == 1.0 and res.num_speakers == 2 and res.utterances == 2
    assert res.per_utt["b1"]["nearest"] == "B"
    # a generated voice that sounds like the other speaker is misidentified
    wrong = cross_speaker_similarity({"b1": E["x"]}, prompts, speakers)
    assert wrong.speaker_id_acc == 0.0 and wrong.margin == pytest.approx(-1.0)


def test_cross_similarity_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 2 speakers"):
        cross_speaker_similarity({"a1": E["x"]}, {"a1": E["x"], "a2": E["y"]}, {"a1": "A", "a2": "A"})
    with pytest.raises(ValueError, match="no speaker"):
        cross_speaker_similarity({"a1": E["x"]}, {"a1": E["x"], "b1": E["y"]}, {"a1": "A"})
    with pytest.raises(ValueError, match="no prompt embedding"):
        cross_speaker_similarity({"c1": E["x"]}, {"a1": E["x"], "b1": E["y"]}, {"a1": "A", "b1": "B"})


def tone(seconds: float, freq: float) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * freq * t)


@pytest.fixture
def voices(tmp_path):
    """Two 'voices' (tone frequencies) in audio/<voice>/ folders; gt recordings next to the prompts."""
    root = tmp_path / "set"
    lines = []
    for voice, freq in (("low", 200.0), ("high", 3000.0)):
        for n in range(2):
            write_audio(root / "audio" / voice / f"{voice}{n}.wav", tone(0.5 + 0.25 * n, freq), SR)
        lines.append(f"{voice}0|prompt|audio/{voice}/{voice}1.wav|say this|audio/{voice}/{voice}0.wav")
        lines.append(f"{voice}1|prompt|audio/{voice}/{voice}0.wav|say that|audio/{voice}/{voice}1.wav")
    (root / "meta.lst").write_text("\n".join(lines) + "\n")
    return root / "meta.lst"


def test_speakers_from_prompt_folders_and_from_a_map(voices, tmp_path):
    items = parse_seedtts_list(voices)
    assert speakers_by_prompt_dir(items) == {"low0": "low", "low1": "low", "high0": "high", "high1": "high"}
    (tmp_path / "utt2spk").write_text("low0 L\nlow1 L\nhigh0 H\n")
    with pytest.raises(ValueError, match="no speaker for 1"):
        read_speaker_map(tmp_path / "utt2spk", items)


def test_seedtts_ground_truth_with_cross_sim(voices, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # e2e_judges
    out = tmp_path / "report"
    code = main(["seedtts", "--meta", str(voices), "--ground-truth", "--cross-sim", "--json", "--device", "cpu",
                 "--asr-judge", "python:e2e_judges:asr", "--sim-judge", "python:e2e_judges:sim", "--out-dir", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    # real recordings of a tone voice are most similar to their own voice's prompts
    assert printed["speaker_id_acc"] == 1.0 and printed["sim_margin"] > 0 and printed["num_speakers"] == 2
    saved = json.loads((out / "results.json").read_text())
    assert "gt_wav" in saved["details"]["judged_wavs"] and saved["judges"]["sim"]["name"] == "fake-band-energy-sim"
    rows = [json.loads(line) for line in (out / "per_utt.jsonl").read_text().splitlines()]
    assert {r["nearest_speaker"] for r in rows} == {"low", "high"}
    assert all(r["speaker"] == r["nearest_speaker"] for r in rows)  # each row's own voice is recorded


def test_seedtts_source_arguments_are_checked(voices, tmp_path, capsys):
    both = main(["seedtts", "--meta", str(voices), "--ground-truth", "--wav-dir", str(tmp_path), "--out-dir", str(tmp_path / "r")])
    neither = main(["seedtts", "--meta", str(voices), "--out-dir", str(tmp_path / "r")])
    no_sim = main(["seedtts", "--meta", str(voices), "--ground-truth", "--cross-sim", "--sim-judge", "none",
                   "--out-dir", str(tmp_path / "r")])
    assert (both, neither, no_sim) == (2, 2, 2)
    err = capsys.readouterr().err
    assert "exactly one of --wav-dir D (generated wavs) or --ground-truth" in err and "--cross-sim needs a speaker judge" in err
    (voices.parent / "nogt.lst").write_text("u1|p|audio/low/low0.wav|say it\n")
    assert main(["seedtts", "--meta", str(voices.parent / "nogt.lst"), "--ground-truth", "--out-dir", str(tmp_path / "r")]) == 2
    assert "needs the 5th field (gt_wav)" in capsys.readouterr().err


def test_python_judge_specs(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    assert judges.load_asr_judge("python:e2e_judges:asr", "en").name == "fake-duration-asr"
    assert judges.load_sim_judge("python:e2e_judges:sim").name == "fake-band-energy-sim"
    with pytest.raises(judges.JudgeError, match="lacks the SpeakerJudge interface"):
        judges.load_sim_judge("python:builtins:str")  # str("cpu") is no judge
    with pytest.raises(judges.JudgeError, match="takes"):
        judges.load_asr_judge("python:e2e_judges:sim", "en")  # a speaker judge's factory: wrong signature
    with pytest.raises(judges.JudgeError, match="not callable"):
        judges.load_asr_judge("python:e2e_judges:WORDS", "en")
    with pytest.raises(judges.JudgeError, match="cannot import"):
        judges.load_sim_judge("python:no_such_module_here:sim")
    with pytest.raises(judges.JudgeError, match="python:MODULE:FACTORY"):
        judges.load_sim_judge("python:e2e_judges")


class _SilentForOneVoice:
    """Speaker stand-in that fails on the 'high' voice's audio (as resemblyzer does on silence)."""

    name = "flaky-sim"

    def describe(self) -> dict:
        return {"name": self.name, "kind": "speaker"}

    def embed(self, wav, sample_rate):
        spectrum = torch.fft.rfft(wav).abs()
        if int(spectrum.argmax()) * sample_rate / wav.shape[-1] > 1000:
            raise RuntimeError("no voiced audio")
        return torch.tensor([1.0, float(wav.shape[-1])])


def test_cross_sim_not_computable_is_reported_not_fatal(voices, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from e2e_judges import DurationAsr
    from eval.seedtts import evaluate_seedtts, seedtts_report

    items = parse_seedtts_list(voices)
    res = evaluate_seedtts(voices, None, "en", DurationAsr(), _SilentForOneVoice(), ground_truth=True,
                           speakers=speakers_by_prompt_dir(items))
    assert res.cross is None and "at least 2 speakers" in res.cross_error
    assert sorted(res.run.sim_failed) == ["high0", "high1"]
    report = seedtts_report(res, DurationAsr(), _SilentForOneVoice())
    assert math.isnan(report.metrics["sim_margin"]) and "at least 2 speakers" in report.details["cross_sim_error"]
