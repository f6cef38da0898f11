"""`holitok-eval` user errors: each fails early (exit 2) with one clear line, before judges or models load."""

from __future__ import annotations

import math
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from eval import judges
from eval.cli import main
from eval.manifest import iter_manifest_audio
from eval.scoring import score
from holitok_common.audio import AudioError, AudioInfo, write_audio
from holitok_common.data.manifests import make_cut, save_cuts

SR = 16000


def tone(seconds: float) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * 220.0 * t)


class FakeAsr:
    name = "fake-asr"

    def describe(self) -> dict:
        return {"name": self.name}

    def transcribe(self, wav, sample_rate):
        return "hello world"


def _no_judges(monkeypatch) -> None:
    """Any judge load fails the test: the error must come before judges load."""
    def refuse(*args, **kwargs):
        raise AssertionError("a judge was loaded before the user error was reported")

    monkeypatch.setattr(judges, "load_asr_judge", refuse)
    monkeypatch.setattr(judges, "load_sim_judge", refuse)


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    return err


# 1. hypotheses keyed by other ids than the references

def test_score_refuses_when_no_hypothesis_id_matches():
    with pytest.raises(ValueError, match=r"no hypothesis id matches a reference id.*'u1'.*'utt-1'"):
        score("librispeech", {"u1": "a b", "u2": "c"}, {"utt-1": "a b", "utt-2": "c"})
    with pytest.raises(ValueError, match="no hypotheses"):
        score("seedtts-en", {"u1": "a b"}, {})
    partial = score("librispeech", {"u1": "a b", "u2": "c"}, {"u1": "a b", "x": "c"})  # some match: a result
    assert partial.missing_ids == ["u2"] and partial.extra_ids == ["x"] and partial.wer == 0.0


def test_score_command_with_mismatched_ids_exits_2(tmp_path, capsys):
    (tmp_path / "refs.txt").write_text("u1 hello world\nu2 good morning\n")
    (tmp_path / "hyps.txt").write_text("a1 hello world\na2 good morning\n")
    code = main(["score", "--protocol", "librispeech", "--refs", str(tmp_path / "refs.txt"), "--hyps", str(tmp_path / "hyps.txt")])
    assert code == 2
    err = _error(capsys)
    assert "no hypothesis id matches" in err and "'u1'" in err and "'a1'" in err


def test_librispeech_command_with_mismatched_ids_exits_2(tmp_path, capsys):
    manifest = save_cuts([make_cut("c1", tmp_path / "c1.wav", AudioInfo(SR, 1, 8000), "HELLO", "spk")], tmp_path / "m.jsonl.gz")
    (tmp_path / "hyp.jsonl").write_text('{"id": "other", "text": "hello"}\n')
    code = main(["librispeech", "--manifest", str(manifest), "--hyps", str(tmp_path / "hyp.jsonl"), "--out-dir", str(tmp_path / "o")])
    assert code == 2 and "no hypothesis id matches" in _error(capsys)


# 2. seedtts with nothing to judge

@pytest.fixture
def meta(tmp_path):
    write_audio(tmp_path / "p1.wav", tone(0.5), SR)
    path = tmp_path / "meta.lst"
    path.write_text("u1|prompt|p1.wav|Hello world|gt/u1.wav\n", encoding="utf-8")
    return path


def test_seedtts_empty_wav_dir_fails_before_judges(meta, tmp_path, monkeypatch, capsys):
    _no_judges(monkeypatch)
    (tmp_path / "empty").mkdir()
    code = main(["seedtts", "--meta", str(meta), "--wav-dir", str(tmp_path / "empty"), "--sim-judge", "none",
                 "--out-dir", str(tmp_path / "r"), "--device", "cpu"])
    assert code == 2
    err = _error(capsys)
    assert "none of the 1 wav(s)" in err and str(tmp_path / "empty" / "u1.wav") in err
    assert not (tmp_path / "r" / "results.json").exists()


def test_seedtts_ground_truth_with_missing_gt_files_fails(meta, tmp_path, monkeypatch, capsys):
    _no_judges(monkeypatch)
    code = main(["seedtts", "--meta", str(meta), "--ground-truth", "--sim-judge", "none", "--out-dir", str(tmp_path / "r")])
    assert code == 2 and "gt/u1.wav" in _error(capsys)


def test_seedtts_only_corrupt_wavs_fails(meta, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(judges, "load_asr_judge", lambda spec, lang, device: FakeAsr())
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "u1.wav").write_bytes(b"not a wav")
    code = main(["seedtts", "--meta", str(meta), "--wav-dir", str(tmp_path / "gen"), "--sim-judge", "none",
                 "--out-dir", str(tmp_path / "r"), "--device", "cpu"])
    assert code == 2
    err = _error(capsys)
    assert "none of the 1 item(s) could be judged" in err and "1 unreadable" in err and "u1.wav" in err


# 3. --device

def test_unknown_device_is_refused(meta, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["seedtts", "--meta", str(meta), "--ground-truth", "--out-dir", str(tmp_path / "r"), "--device", "gpu"])
    assert exit_.value.code == 2 and "unknown device 'gpu'" in capsys.readouterr().err


def test_cuda_without_cuda_is_an_error(meta, tmp_path, monkeypatch, capsys):
    _no_judges(monkeypatch)
    write_audio(tmp_path / "gt" / "u1.wav", tone(0.5), SR)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["seedtts", "--meta", str(meta), "--ground-truth", "--sim-judge", "none", "--out-dir", str(tmp_path / "r"),
                 "--device", "cuda"])
    assert code == 2 and "no CUDA device is available; use --device cpu" in _error(capsys)


# 4.-5. reconstruction arguments and manifest audio

@pytest.fixture
def fake_tokenizer(monkeypatch):
    """holitok_tokenizer.HoliTok whose from_pretrained must not be reached."""
    def refuse(path):
        raise AssertionError("the tokenizer was loaded before the user error was reported")

    module = types.ModuleType("holitok_tokenizer")
    module.HoliTok = SimpleNamespace(from_pretrained=refuse)
    monkeypatch.setitem(sys.modules, "holitok_tokenizer", module)
    _no_judges(monkeypatch)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_utts_must_be_positive(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reconstruction", "--tokenizer", "t", "--manifest", "m.jsonl.gz", "--out-dir", str(tmp_path), "--max-utts", value])
    assert exit_.value.code == 2 and "--max-utts: must be >= 1" in capsys.readouterr().err


def test_reconstruction_missing_audio_names_cut_and_path(tmp_path, fake_tokenizer, capsys):
    manifest = save_cuts([make_cut("cut-a", "gone.wav", AudioInfo(SR, 1, 8000), "HELLO", "s")], tmp_path / "m.jsonl.gz")
    code = main(["reconstruction", "--tokenizer", "t", "--manifest", str(manifest), "--out-dir", str(tmp_path / "r"),
                 "--device", "cpu"])
    assert code == 2
    err = _error(capsys)
    assert "'cut-a'" in err and str(tmp_path / "gone.wav") in err


def test_corrupt_manifest_audio_is_an_audio_error(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wav")
    manifest = save_cuts([make_cut("cut-b", "bad.wav", AudioInfo(SR, 1, 8000), "HELLO", "s")], tmp_path / "m.jsonl.gz")
    with pytest.raises(AudioError, match=r"cut 'cut-b' \(.*bad\.wav\): cannot load audio"):
        list(iter_manifest_audio(manifest))


# 6. --out-dir

def test_out_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "refs.txt").write_text("u1 hello\n")
    (tmp_path / "taken").write_text("")
    code = main(["score", "--protocol", "librispeech", "--refs", str(tmp_path / "refs.txt"), "--hyps", str(tmp_path / "refs.txt"),
                 "--out-dir", str(tmp_path / "taken")])
    assert code == 2 and "exists and is not a directory" in _error(capsys)


def test_unwritable_out_dir_fails_before_judges(meta, tmp_path, monkeypatch, capsys):
    _no_judges(monkeypatch)
    write_audio(tmp_path / "gt" / "u1.wav", tone(0.5), SR)
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["seedtts", "--meta", str(meta), "--ground-truth", "--sim-judge", "none", "--device", "cpu",
                 "--out-dir", str(blocker / "sub")])  # a folder under a file: mkdir fails (even as root)
    assert code == 2 and "is a file, not a folder" in _error(capsys)


def test_os_errors_while_writing_are_one_line(tmp_path, monkeypatch, capsys):
    import eval.cli as cli

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "o" / "results.json"))

    monkeypatch.setattr(cli, "write_report", full)
    (tmp_path / "refs.txt").write_text("u1 hello\n")
    code = main(["score", "--protocol", "librispeech", "--refs", str(tmp_path / "refs.txt"), "--hyps", str(tmp_path / "refs.txt"),
                 "--out-dir", str(tmp_path / "o")])
    assert code == 2
    assert "results.json: No space left on device" in _error(capsys)
