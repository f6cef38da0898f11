"""Importers: LibriSpeech layout, plain folder, Seed-TTS lists, and every bad-input reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from holitok_common.data.cli import main
from holitok_common.data.importers import import_folder, import_librispeech_part
from holitok_common.data.manifests import load_cuts
from holitok_common.data.seedtts import SeedTTSItem, SeedTTSListError, parse_seedtts_list, write_seedtts_list
from holitok_common.data.validation import BadInputError, ValidationRules


def tone(path, seconds=0.5, sr=16000, channels=1, fmt=None):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([x] * channels, 1) if channels > 1 else x, sr, format=fmt)
    return path


def fake_librispeech(root):
    chap = root / "test-clean" / "1089" / "134686"
    for i in range(3):
        tone(chap / f"1089-134686-000{i}.flac", 0.3 + 0.1 * i)
    (chap / "1089-134686.trans.txt").write_text("".join(f"1089-134686-000{i} HELLO WORLD {i}\n" for i in range(3)))
    return root


def test_librispeech(tmp_path):
    cuts, report = import_librispeech_part(fake_librispeech(tmp_path / "LS") / "test-clean")
    assert len(cuts) == 3 and report.num_ok == 3 and not report.skipped
    c = cuts[0]
    assert c.id == "1089-134686-0000" and c.supervisions[0].text == "HELLO WORLD 0"
    assert c.supervisions[0].speaker == "1089" and c.custom["part"] == "test-clean"
    assert c.duration == pytest.approx(0.3) and c.recording.sampling_rate == 16000
    assert main(["librispeech", str(tmp_path / "LS"), "--out", str(tmp_path / "out")]) == 0
    assert [x.id for x in load_cuts(tmp_path / "out" / "cuts_test-clean.jsonl.gz")] == [x.id for x in cuts]


def test_librispeech_missing_audio_names_line(tmp_path):
    root = fake_librispeech(tmp_path)
    (root / "test-clean/1089/134686/1089-134686-0001.flac").unlink()
    with pytest.raises(BadInputError, match=r"trans.txt:2") as err:
        import_librispeech_part(root / "test-clean")
    assert err.value.reason == "missing_audio"


def test_folder(tmp_path):
    for spk in ("anna", "ben"):
        tone(tmp_path / "d" / spk / "a.wav")
        (tmp_path / "d" / spk / "a.txt").write_text(f"hello from {spk}\n")
    cuts, _ = import_folder(tmp_path / "d")
    assert [(c.id, c.supervisions[0].speaker, c.supervisions[0].text) for c in cuts] == [
        ("anna_a", "anna", "hello from anna"), ("ben_a", "ben", "hello from ben")]
    cuts, _ = import_folder(tmp_path / "d", speaker="zed")
    assert {c.supervisions[0].speaker for c in cuts} == {"zed"}


def bad_folder(root):
    """One good pair and one of every bad-input reason."""
    tone(root / "ok.wav"); (root / "ok.txt").write_text("fine")
    (root / "missing.txt").write_text("no audio here")
    (root / "corrupt.wav").write_bytes(b"RIFF not really a wave file" * 10); (root / "corrupt.txt").write_text("x")
    tone(root / "empty.wav", seconds=0); (root / "empty.txt").write_text("x")
    tone(root / "stereo.wav", channels=2); (root / "stereo.txt").write_text("x")
    tone(root / "latin1.wav"); (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    tone(root / "blank.wav"); (root / "blank.txt").write_text("  \n")
    tone(root / "short.wav", seconds=0.05); (root / "short.txt").write_text("x")
    tone(root / "long.wav", seconds=3.0); (root / "long.txt").write_text("x")
    tone(root / "notext.wav")
    return {"missing": "missing_audio", "corrupt": "corrupt_audio", "empty": "empty_audio", "stereo": "bad_channels",
            "latin1": "bad_text_encoding", "blank": "empty_text", "short": "bad_duration", "long": "bad_duration",
            "notext": "missing_text"}


RULES = ValidationRules(min_duration=0.1, max_duration=2.0)


@pytest.mark.parametrize("name", ["missing", "corrupt", "empty", "stereo", "latin1", "blank", "short", "long", "notext"])
def test_each_bad_input_raises(tmp_path, name):
    expected = bad_folder(tmp_path / "all")
    tone(tmp_path / "one" / "ok.wav"); (tmp_path / "one" / "ok.txt").write_text("fine")
    for f in (tmp_path / "all").glob(f"{name}.*"):
        (tmp_path / "one" / f.name).write_bytes(f.read_bytes())
    with pytest.raises(BadInputError) as err:
        import_folder(tmp_path / "one", rules=RULES)
    assert err.value.reason == expected[name] and name in err.value.path and "--skip-bad" in str(err.value)


def test_skip_bad_counts_everything(tmp_path, capsys):
    expected = bad_folder(tmp_path / "d")
    out = tmp_path / "out"
    assert main(["folder", str(tmp_path / "d"), "--out", str(out), "--skip-bad", "--max-duration", "2"]) == 0
    report = json.loads((out / "cuts_d.report.json").read_text())
    assert report["num_ok"] == 1 and len(report["skipped"]) == len(expected)
    assert report["counts"]["bad_duration"] == 2 and sum(report["counts"].values()) == 9
    assert "corrupt_audio: 1" in capsys.readouterr().out
    assert len(load_cuts(out / "cuts_d.jsonl.gz")) == 1
    assert main(["folder", str(tmp_path / "d"), "--out", str(out), "--max-duration", "2"]) == 2


def test_seedtts_parse_and_roundtrip(tmp_path):
    (tmp_path / "meta").mkdir()
    tone(tmp_path / "wavs" / "p1.wav"); tone(tmp_path / "wavs" / "g1.wav")
    lst = tmp_path / "meta" / "en.lst"
    lst.write_text("u1|hello there|../wavs/p1.wav|say this now|../wavs/g1.wav\n\nu2|prompt two|../wavs/p1.wav|four fields\n")
    items = parse_seedtts_list(lst)
    assert items[0] == SeedTTSItem("u1", "hello there", (tmp_path / "wavs/p1.wav").resolve(), "say this now",
                                   (tmp_path / "wavs/g1.wav").resolve())
    assert items[1].gt_wav is None and items[1].target_text == "four fields"
    again = write_seedtts_list(items, tmp_path / "other" / "copy.lst")
    assert parse_seedtts_list(again) == items and "../wavs/p1.wav" in again.read_text()
    assert main(["seedtts", str(lst), "--out", str(tmp_path / "o")]) == 0
    cut = load_cuts(tmp_path / "o" / "cuts_en.jsonl.gz")[0]
    assert cut.custom["target_text"] == "say this now" and cut.supervisions[0].text == "hello there"


@pytest.mark.parametrize("bad,msg", [
    ("u3|a|p.wav", "expected 4 or 5"), ("u3|a|p.wav|b|c|d", "expected 4 or 5"), ("|a|p.wav|b", "empty utterance id"),
    ("u1|a|p.wav|b", "duplicate utterance id"), ("u3|a|p.wav|  ", "empty target text")])
def test_seedtts_malformed_line_number(tmp_path, bad, msg):
    lst = tmp_path / "x.lst"
    lst.write_text(f"u1|a|p.wav|b\nu2|a|p.wav|b\n{bad}\n")
    with pytest.raises(SeedTTSListError, match=rf"x.lst:3: .*{msg}"):
        parse_seedtts_list(lst)
