"""`holitok-eval librispeech --model`: holitok-asr's exit codes (faked subprocess, no model needed).
Exit 1 = some cuts failed: score the rest, failed ids missing, failures file in the report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import eval.librispeech as ls
from eval.cli import main
from holitok_common.audio import AudioInfo
from holitok_common.data.manifests import make_cut, save_cuts

REFS = {"c1": "GOOD MORNING", "c2": "HELLO THERE", "c3": "THANK YOU"}


@pytest.fixture
def manifest(tmp_path):
    cuts = [make_cut(i, tmp_path / f"{i}.wav", AudioInfo(16000, 1, 8000), text, "spk") for i, text in REFS.items()]
    return save_cuts(cuts, tmp_path / "cuts.jsonl.gz")


def fake_asr(monkeypatch, code: int, hyps: dict[str, str], failed: dict[str, str] | None, stderr: str = ""):
    """holitok-asr replaced by a function writing hyps (and the failures report when `failed` is given)."""
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        out.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in hyps.items()))
        if failed is not None:
            report = {"total": 3, "skipped_existing": 0, "failed": len(failed),
                      "failures": [{"id": k, "reason": v} for k, v in failed.items()]}
            ls.failures_path(out).write_text(json.dumps(report))
        return subprocess.CompletedProcess(cmd, code, stdout="", stderr=stderr)

    monkeypatch.setattr(ls, "_asr_command", lambda: "holitok-asr")
    monkeypatch.setattr(ls.subprocess, "run", run)
    return calls


def test_partial_decode_is_scored_with_failures_reported(tmp_path, manifest, monkeypatch, capsys):
    calls = fake_asr(monkeypatch, 1, {"c1": "good morning", "c3": "thank you"}, {"c2": "audio: empty file"})
    out = tmp_path / "r"
    assert main(["librispeech", "--manifest", str(manifest), "--model", "M", "--out-dir", str(out), "--json"]) == 0
    assert calls and calls[0][calls[0].index("--manifest") + 1] == str(manifest)
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["wer"] == 0.0 and printed["missing"] == 1 and printed["decode_failed"] == 1
    assert "could not decode 1 cut" in captured.err
    result = json.loads((out / "results.json").read_text())
    assert result["details"]["missing_ids"] == ["c2"] and result["details"]["decode_failed_ids"] == ["c2"]
    assert result["details"]["holitok_asr_failures"]["failures"] == [{"id": "c2", "reason": "audio: empty file"}]
    assert "decode_failed_ids" in (out / "results.md").read_text()


def test_full_decode_has_no_failure_details(tmp_path, manifest, monkeypatch, capsys):
    fake_asr(monkeypatch, 0, {k: v.lower() for k, v in REFS.items()}, {})
    out = tmp_path / "r"
    assert main(["librispeech", "--manifest", str(manifest), "--model", "M", "--out-dir", str(out), "--json"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["metrics"]["missing"] == 0 and result["metrics"]["decode_failed"] == 0
    assert "holitok_asr_failures" not in result["details"]


@pytest.mark.parametrize("code", [2, 3])
def test_usage_and_other_exit_codes_are_errors(tmp_path, manifest, monkeypatch, capsys, code):
    fake_asr(monkeypatch, code, {"c1": "good morning"}, {"c2": "x"}, stderr="holitok-asr: error: bad model")
    assert main(["librispeech", "--manifest", str(manifest), "--model", "M", "--out-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"holitok-asr failed (exit {code})" in err and "bad model" in err
    assert not (tmp_path / "r" / "results.json").exists()


def test_exit_1_without_a_fresh_failures_report_is_a_crash(tmp_path, manifest, monkeypatch):
    """A Python traceback also exits 1; a failures file left by an earlier run must not hide it."""
    out = tmp_path / "r" / "hyp.jsonl"
    out.parent.mkdir()
    ls.failures_path(out).write_text(json.dumps({"failures": []}))  # stale, from an earlier run
    fake_asr(monkeypatch, 1, {"c1": "good morning"}, None, stderr="Traceback ...\nRuntimeError: CUDA OOM")
    with pytest.raises(ls.DecodeError, match="exit 1"):
        ls.decode_with_holitok_asr("M", manifest, out)


def test_partial_decode_with_nothing_decoded_is_an_error(tmp_path, manifest, monkeypatch):
    fake_asr(monkeypatch, 1, {}, {k: "audio: unreadable" for k in REFS})
    with pytest.raises(ls.DecodeError, match="every cut failed"):
        ls.decode_with_holitok_asr("M", manifest, tmp_path / "hyp.jsonl")
