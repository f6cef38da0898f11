"""Transcript readers (JSONL / Kaldi, auto-detected) and the `score` command."""

from __future__ import annotations

import json

import pytest

from eval.cli import main
from eval.text_io import TranscriptError, read_transcripts, write_jsonl


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_and_kaldi_readers(tmp_path):
    j = _write(tmp_path / "a.jsonl", '{"id": "u1", "text": "hello world"}\n\n{"id": "u2", "text": ""}\n')
    k = _write(tmp_path / "a.txt", "u1 hello  world\nu2\tgood morning\n")
    assert read_transcripts(j) == {"u1": "hello world", "u2": ""}
    assert read_transcripts(k) == {"u1": "hello  world", "u2": "good morning"}
    write_jsonl(tmp_path / "b.jsonl", {"x": "你好"})
    assert read_transcripts(tmp_path / "b.jsonl") == {"x": "你好"}


@pytest.mark.parametrize(
    "content, where, what",
    [
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": \n', ":2:", "invalid JSON"),
        ('{"id": "a", "text": "x"}\n{"id": "b"}\n', ":2:", "missing field 'text'"),
        ('{"id": "a", "text": "x"}\n["a", "b"]\n', ":2:", "JSON object"),
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": 3}\n', ":2:", "must be a string"),
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n{"id": "a", "text": "z"}\n', ":3:", "duplicate id 'a' (first on line 1)"),
        ("u1 hello\nu2\nu3 x\n", ":2:", "no text"),
        ("u1 hello\n\nu1 again\n", ":3:", "duplicate id"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, content, where, what):
    path = _write(tmp_path / "bad.txt", content)
    with pytest.raises(TranscriptError) as err:
        read_transcripts(path)
    assert f"{path}{where}" in str(err.value)
    assert what in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TranscriptError, match="does not exist"):
        read_transcripts(tmp_path / "nope.jsonl")
    with pytest.raises(TranscriptError, match="empty"):
        read_transcripts(_write(tmp_path / "e.txt", "\n\n"))


def test_score_command_json(tmp_path, capsys):
    refs = _write(tmp_path / "refs.txt", "u1 Hello world, this is a test.\nu2 Don't stop.\nu3 Good morning\n")
    hyps = _write(tmp_path / "hyps.jsonl", '{"id": "u1", "text": "hello world this is a test"}\n{"id": "u2", "text": "do not stop"}\n')
    out = tmp_path / "report"
    assert main(["score", "--protocol", "seedtts-en", "--refs", str(refs), "--hyps", str(hyps), "--json", "--out-dir", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "seedtts-en"
    assert result["wer"] == pytest.approx(50.0) and result["corpus_wer"] == pytest.approx(25.0)
    assert result["missing"] == 1 and result["missing_ids"] == ["u3"]
    assert result["wer_with_missing"] == pytest.approx(200 / 3)  # (0 + 100 + 100) / 3
    assert {"substitutions", "deletions", "insertions", "utterances"} <= set(result)
    saved = json.loads((out / "results.json").read_text())
    assert saved["protocol"] == "seedtts-en" and "versions" in saved and saved["metrics"]["missing"] == 1
    assert "seedtts-en" in (out / "results.md").read_text()
    assert (out / "wer_hist.png").is_file()


def test_score_command_reports_malformed_file(tmp_path, capsys):
    refs = _write(tmp_path / "refs.txt", "u1 hello\n")
    hyps = _write(tmp_path / "hyps.jsonl", '{"id": "u1"}\n')
    assert main(["score", "--protocol", "librispeech", "--refs", str(refs), "--hyps", str(hyps)]) == 2
    assert f"{hyps}:1: missing field 'text'" in capsys.readouterr().err
