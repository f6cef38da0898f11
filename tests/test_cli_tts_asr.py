"""`holitok-tts` and `holitok-asr` end to end on tiny random models saved to disk: one utterance,
streaming == offline, a Seed-TTS list with resume and failures, ASR over files and a manifest with
resume, and every refused input (clear message, exit code 2, no output file)."""

from __future__ import annotations

import json
import math

import pytest
import soundfile as sf
import torch

from holitok_common.audio import AudioInfo, write_audio
from test_generate_fixtures import save_cli_models, tiny_holitok
from unified_lm.cli.asr import main as asr_main
from unified_lm.cli.tts import main as tts_main

SR = 16000
FAST = ["--steps", "2", "--max-seconds", "1.0", "--stop-threshold", "0.6"]


def tone(seconds: float, freq: float = 220.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * freq * t)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    save_cli_models(root)
    write_audio(root / "prompt.wav", tone(0.7), SR)
    write_audio(root / "prompt8k.wav", tone(0.5)[::2], 8000)  # another rate: resampled on read
    sf.write(str(root / "empty.wav"), torch.zeros(0).numpy(), SR)
    (root / "garbage.wav").write_bytes(b"not audio at all")
    return root


def tts(env, *args: str) -> int:
    return tts_main(["--model", str(env / "model"), *FAST, *args])


def test_tts_one_utterance_and_stream_equal_offline(env, tmp_path, capsys):
    common = ["--prompt-wav", str(env / "prompt.wav"), "--prompt-text", "a red ball.", "--text", "the cat sees the dog."]
    assert tts(env, *common, "--out", str(tmp_path / "u1.wav")) == 0
    assert tts(env, *common, "--out", str(tmp_path / "s" / "u1.wav"), "--stream") == 0
    assert "first chunk after" in capsys.readouterr().out
    offline, sr = sf.read(str(tmp_path / "u1.wav"), dtype="float32")
    streamed, _ = sf.read(str(tmp_path / "s" / "u1.wav"), dtype="float32")
    assert sr == SR and offline.size > 0 and offline.size % 640 == 0
    torch.testing.assert_close(torch.from_numpy(streamed), torch.from_numpy(offline), atol=1e-6, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "u1.wav"]  # no temporary files left


def write_list(env, path, lines):
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_tts_meta_list_batched_resumable_with_failures(env, tmp_path, capsys):
    prompt = env / "prompt.wav"
    meta = write_list(env, tmp_path / "meta.lst", [
        f"u1|a red ball.|{prompt}|the cat sees the dog.",
        f"u2|two books.|{env / 'prompt8k.wav'}|the old man reads today.",
        f"u3|a red ball.|{prompt}|my friend hears the quiet river.",
    ])
    out = tmp_path / "out"
    assert tts(env, "--meta", str(meta), "--out-dir", str(out), "--batch-size", "2") == 0
    report = json.loads((out / "failures.json").read_text())
    assert (report["written"], report["failed"]) == (3, 0)
    written = {u: sf.read(str(out / f"{u}.wav"), dtype="float32")[0] for u in ("u1", "u2", "u3")}
    # the same utterance alone (single mode, id = the --out stem) gives the same audio: batched == unbatched
    assert tts(env, "--prompt-wav", str(prompt), "--prompt-text", "a red ball.", "--text", "the cat sees the dog.",
               "--out", str(tmp_path / "u1.wav")) == 0
    torch.testing.assert_close(torch.from_numpy(sf.read(str(tmp_path / "u1.wav"), dtype="float32")[0]),
                               torch.from_numpy(written["u1"]), atol=1e-5, rtol=0)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    capsys.readouterr()
    assert tts(env, "--meta", str(meta), "--out-dir", str(out)) == 0  # resume: nothing to do
    assert "skipping 3" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")} == mtimes
    assert json.loads((out / "failures.json").read_text())["skipped_existing"] == 3
    lines = [json.loads(x) for x in (out / "synthesis.jsonl").read_text().splitlines()]
    assert sorted(x["utt"] for x in lines) == ["u1", "u2", "u3"]


def test_tts_meta_list_reports_bad_items_and_writes_the_rest(env, tmp_path, capsys):
    meta = write_list(env, tmp_path / "meta.lst", [
        f"ok|a red ball.|{env / 'prompt.wav'}|the cat sees the dog.",
        f"nochars|a red ball.|{env / 'prompt.wav'}|the cat 日本 sees.",
        f"empty|a red ball.|{env / 'empty.wav'}|the cat sees the dog.",
        f"missing|a red ball.|{env / 'nope.wav'}|the cat sees the dog.",
    ])
    out = tmp_path / "out"
    assert tts(env, "--meta", str(meta), "--out-dir", str(out), "--batch-size", "4") == 1
    report = json.loads((out / "failures.json").read_text())
    reasons = {f["utt"]: f["reason"] for f in report["failures"]}
    assert sorted(reasons) == ["empty", "missing", "nochars"] and report["written"] == 1
    assert "日" in reasons["nochars"] and "empty" in reasons["empty"] and "does not exist" in reasons["missing"]
    assert sorted(p.name for p in out.glob("*.wav")) == ["ok.wav"]
    assert "3 failed" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--prompt-wav", "{env}/empty.wav", "--prompt-text", "hi", "--text", "hello"], "empty"),
    (["--prompt-wav", "{env}/garbage.wav", "--prompt-text", "hi", "--text", "hello"], "cannot decode"),
    (["--prompt-wav", "{env}/prompt.wav", "--text", "hello"], "--prompt-text"),
    (["--prompt-wav", "{env}/prompt.wav", "--prompt-text", "a red ball.", "--text", "  "], "empty"),
    (["--text", "the cat sees " * 150], "max_text_tokens"),
    (["--text", "the cat 日本 sees"], "日"),
])
def test_tts_bad_input_is_refused_cleanly(env, tmp_path, capsys, args, message):
    out = tmp_path / "o.wav"
    assert tts(env, *[a.format(env=env) for a in args], "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("holitok-tts: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_wrong_model_or_tokenizer_directories(env, tmp_path, capsys):
    assert tts_main(["--model", str(env / "tok"), "--text", "hi", "--out", str(tmp_path / "o.wav")]) == 2
    assert "holitok-tokenizer" in capsys.readouterr().err
    tiny_holitok(latent_dim=16).save_pretrained(tmp_path / "tok16")
    assert asr_main(["--model", str(env / "model"), "--tokenizer", str(tmp_path / "tok16"), str(env / "prompt.wav")]) == 2
    assert "16-dim" in capsys.readouterr().err
    assert asr_main(["--model", str(env / "model"), "--tokenizer", str(env / "model"), str(env / "prompt.wav")]) == 2
    assert "tokenizer" in capsys.readouterr().err


def test_asr_files(env, capsys):
    code = asr_main(["--model", str(env / "model"), str(env / "prompt.wav"), str(env / "prompt8k.wav"), str(env / "empty.wav")])
    captured = capsys.readouterr()
    assert code == 1 and "empty" in captured.err
    lines = captured.out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(env / "prompt.wav"), str(env / "prompt8k.wav")]


def test_asr_manifest_resumable(env, tmp_path, capsys):
    from holitok_common.data.manifests import make_cut, save_cuts

    cuts = []
    for i, seconds in enumerate((0.4, 0.9, 0.6)):
        write_audio(tmp_path / f"c{i}.wav", tone(seconds, 200 + 50 * i), SR)
        cuts.append(make_cut(f"c{i}", tmp_path / f"c{i}.wav", AudioInfo(SR, 1, int(seconds * SR)), "hello", "spk"))
    manifest = save_cuts(cuts, tmp_path / "cuts.jsonl.gz")
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text('{"id": "c1", "text": "from an earlier run"}\n{"id": "c2", "te')  # a torn last line
    args = ["--model", str(env / "model"), "--manifest", str(manifest), "--out", str(hyp), "--batch-size", "2"]
    assert asr_main(args) == 0
    rows = [json.loads(line) for line in hyp.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["c0", "c1", "c2"] and rows[0]["text"] == "from an earlier run"
    before = hyp.read_text()
    assert asr_main(args) == 0
    assert hyp.read_text() == before and "skipping 3" in capsys.readouterr().out
    assert json.loads((tmp_path / "hyp.jsonl.failures.json").read_text())["failed"] == 0


def test_asr_beam_size_flag(env, capsys):
    """--beam-size 1 (greedy) and the default beam both transcribe; a bad width is a clean error."""
    wav = str(env / "prompt.wav")
    assert asr_main(["--model", str(env / "model"), "--beam-size", "1", wav]) == 0
    assert asr_main(["--model", str(env / "model"), wav]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert asr_main(["--model", str(env / "model"), "--beam-size", "0", wav]) == 2
    assert "beam_size" in capsys.readouterr().err
    assert asr_main(["--model", str(env / "model"), "--length-penalty", "-1", wav]) == 2
    assert "length_penalty" in capsys.readouterr().err
