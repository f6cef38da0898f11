"""User mistakes at the `holitok-tts` / `holitok-asr` boundary (and in Seed-TTS lists) end in one
clear line and exit code 2, before any model loads where the mistake is visible up front: unwritable
or wrong outputs, a voice prompt too short or with a transcript that cannot be its own, audio too short
to hold a word, text with nothing to speak, NaN/inf knobs, batch sizes below 1, empty lists, ids that
would escape the output folder, a '|' inside a text field."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from holitok_common.audio import write_audio
from holitok_common.data.seedtts import SeedTTSListError, parse_seedtts_list
from test_generate_fixtures import save_cli_models
from unified_lm.cli.asr import main as asr_main
from unified_lm.cli.tts import main as tts_main
from unified_lm.generate import TTSOptions

SR = 16000
FAST = ["--steps", "2", "--max-seconds", "1.0"]


def tone(seconds: float) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * 220.0 * t)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_errors")
    save_cli_models(root)
    write_audio(root / "prompt.wav", tone(0.7), SR)
    write_audio(root / "tiny.wav", tone(0.01), SR)  # 10 ms
    return root


def tts(env, *args: str) -> int:
    return tts_main(["--model", str(env / "model"), *FAST, *args])


def refused(capsys, *needles: str) -> None:
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


ONE = ["--text", "the cat sees the dog."]


def test_tts_output_file_checked_before_loading(env, tmp_path, capsys, monkeypatch):
    def no_load(args):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr("unified_lm.cli.tts.load_models", no_load)
    assert tts(env, *ONE, "--out", str(tmp_path / "x.mp3")) == 2
    refused(capsys, "must end in .wav")
    (tmp_path / "adir.wav").mkdir()
    assert tts(env, *ONE, "--out", str(tmp_path / "adir.wav")) == 2
    refused(capsys, "is a directory")
    (tmp_path / "afile").write_text("x")
    assert tts(env, *ONE, "--out", str(tmp_path / "afile" / "u.wav")) == 2
    refused(capsys, "is a file")


def test_unwritable_outputs_are_refused(env, capsys):
    """/proc takes no new files, not even from root (a chmod-ed folder would not stop root)."""
    unwritable = "/proc/holitok-test"
    assert tts(env, *ONE, "--out", f"{unwritable}/u.wav") == 2
    refused(capsys, "cannot write into /proc")
    assert asr_main(["--model", str(env / "model"), "--manifest", "cuts.jsonl.gz", "--out", f"{unwritable}/hyp.jsonl"]) == 2
    refused(capsys, "cannot write into /proc")


def test_tts_prompt_too_short_or_transcript_too_long(env, tmp_path, capsys):
    out = str(tmp_path / "u.wav")
    assert tts(env, *ONE, "--prompt-wav", str(env / "tiny.wav"), "--prompt-text", "hello.", "--out", out) == 2
    refused(capsys, "voice prompt", "at least 500 ms")
    long_text = "a very long transcript that cannot possibly fit into seven tenths of a second of audio."
    assert tts(env, *ONE, "--prompt-wav", str(env / "prompt.wav"), "--prompt-text", long_text, "--out", out) == 2
    refused(capsys, "characters per second")
    assert not (tmp_path / "u.wav").exists()


def test_tts_text_without_letters(env, tmp_path, capsys):
    assert tts(env, "--text", "...", "--out", str(tmp_path / "u.wav")) == 2
    refused(capsys, "no letters or digits")


@pytest.mark.parametrize("flag,value", [("--cfg-scale", "nan"), ("--cfg-scale", "inf"), ("--max-seconds", "nan"),
                                        ("--prompt-rate-cap", "nan"), ("--temperature", "inf"), ("--batch-size", "0")])
def test_tts_bad_numbers_refused(env, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:  # argparse-level for --batch-size
        code = tts(env, *ONE, "--out", str(tmp_path / "u.wav"), flag, value)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "u.wav").exists()


def test_tts_options_refuse_nan_and_inf():
    for bad in ({"cfg_scale": math.nan}, {"max_seconds": math.inf}, {"prompt_rate_cap": math.nan},
                {"temperature": math.nan}, {"min_patches": True}):
        with pytest.raises(ValueError):
            TTSOptions(**bad).validate()
    TTSOptions(cfg_scale=0.0, prompt_rate_cap=0.0).validate()  # the documented "off" values stay valid


def test_tts_min_patches_message_names_min_patches(env, tmp_path, capsys):
    assert tts(env, *ONE, "--out", str(tmp_path / "u.wav"), "--min-patches", "100000") == 2
    refused(capsys, "min_patches")


def test_tts_empty_list_refused(env, tmp_path, capsys):
    (tmp_path / "empty.lst").write_text("\n")
    assert tts(env, "--meta", str(tmp_path / "empty.lst"), "--out-dir", str(tmp_path / "o")) == 2
    refused(capsys, "no utterances")


def test_tts_list_short_prompt_is_a_counted_failure(env, tmp_path, capsys):
    (tmp_path / "m.lst").write_text(f"u1|hello.|{env / 'tiny.wav'}|the cat.\nu2|a red ball.|{env / 'prompt.wav'}|the dog.\n")
    assert tts(env, "--meta", str(tmp_path / "m.lst"), "--out-dir", str(tmp_path / "o")) == 1
    out = capsys.readouterr().out
    assert "FAILED u1: prompt audio:" in out and "at least 500 ms" in out
    assert (tmp_path / "o" / "u2.wav").is_file() and not (tmp_path / "o" / "u1.wav").exists()


def test_asr_audio_too_short_is_a_failure_not_a_sentence(env, capsys):
    assert asr_main(["--model", str(env / "model"), "--max-tokens", "4", str(env / "tiny.wav"),
                     str(env / "prompt.wav")]) == 1
    captured = capsys.readouterr()
    assert "at least 100 ms" in captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(env / "prompt.wav") + "\t")


def test_asr_batch_size_below_one(env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        asr_main(["--model", str(env / "model"), "--batch-size", "0", str(env / "prompt.wav")])
    assert exit_info.value.code == 2 and "integer >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("line,needle", [
    ("../escaped|hi.|p.wav|the cat.", "file name"),
    ("a/b|hi.|p.wav|the cat.", "file name"),
    ("u1|hi.|p.wav|the cat|with pipe.|gt.wav", "expected 4 or 5"),
    ("u1|hi.|p.wav|the cat|with pipe.", "is there a '|' inside a text field"),
])
def test_seedtts_list_ids_and_fields(tmp_path, line, needle):
    (tmp_path / "m.lst").write_text(line + "\n")
    with pytest.raises(SeedTTSListError, match=None) as info:
        parse_seedtts_list(tmp_path / "m.lst")
    assert needle in str(info.value)


def test_check_writable_dir_reports_permission(tmp_path, monkeypatch):
    """The same check as above where the tests run as root (root can write anywhere)."""
    from holitok_common.outputs import OutputPathError, check_output_file

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("holitok_common.outputs.tempfile.TemporaryFile", refuse)
    with pytest.raises(OutputPathError, match="Permission denied"):
        check_output_file(tmp_path / "new" / "u.wav", (".wav",))


def test_train_unified_refuses_missing_inputs_before_building(tmp_path, capsys):
    from unified_lm.train.cli import main_unified

    conf = "recipes/unified/conf/tiny_joint.yaml"
    assert main_unified([conf, f"exp_dir={tmp_path / 'x'}"]) == 2
    assert "data.train_manifest is not set" in capsys.readouterr().err
    stats = tmp_path / "latent_stats.json"
    stats.write_text("{}")
    manifest = tmp_path / "cuts.jsonl.gz"
    manifest.write_bytes(b"")
    assert main_unified([conf, f"exp_dir={tmp_path / 'x'}", f"data.train_manifest={tmp_path / 'nope.jsonl.gz'}",
                         f"data.latent_stats={stats}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main_unified([conf, f"exp_dir={tmp_path / 'x'}", f"data.train_manifest={manifest}",
                         f"data.latent_stats={stats}", "data.dev_manifest=", f"init.checkpoint={tmp_path / 'none'}"]) == 2
    assert "init.checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing was built


def test_tts_spells_numbers_out_unless_asked_not_to(env, tmp_path, capsys):
    assert tts(env, "--text", "Leave at 8:15.", "--out", str(tmp_path / "a.wav")) == 0
    assert "speaking: Leave at eight fifteen." in capsys.readouterr().out
    assert tts(env, "--text", "Leave at 8:15.", "--out", str(tmp_path / "b.wav"), "--text-norm", "none") == 0
    assert "speaking:" not in capsys.readouterr().out


def test_tts_characters_the_model_never_saw(env, tmp_path, capsys):
    model_dir = tmp_path / "model"
    shutil.copytree(env / "model", model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg["text_tokenizer"]["seen_chars"] = " .abcdefghijklmnopqrstuvwxyz"  # lower case and "." only
    (model_dir / "config.json").write_text(json.dumps(cfg))

    def run(*args: str) -> int:
        return tts_main(["--model", str(model_dir), *FAST, *args])

    assert run("--text", "The cat sees the dog!", "--out", str(tmp_path / "a.wav")) == 0  # mapped, and said so
    assert "speaking: the cat sees the dog." in capsys.readouterr().out
    assert run("--text", "the caf\u00e9.", "--out", str(tmp_path / "b.wav")) == 2  # no stand-in for an accent
    refused(capsys, "'\u00e9' (U+00E9)", "never saw")
    assert run("--text", "the cat!", "--out", str(tmp_path / "c.wav"), "--text-norm", "none") == 2
    refused(capsys, "'!' (U+0021)")
    assert not (tmp_path / "b.wav").exists() and not (tmp_path / "c.wav").exists()
    (tmp_path / "m.lst").write_text(f"u1|a red ball.|{env / 'prompt.wav'}|the caf\u00e9.\n"
                                    f"u2|A red ball!|{env / 'prompt.wav'}|The dog.\n")
    assert run("--meta", str(tmp_path / "m.lst"), "--out-dir", str(tmp_path / "o")) == 1  # a counted failure
    assert "FAILED u1:" in capsys.readouterr().out
    assert (tmp_path / "o" / "u2.wav").is_file() and not (tmp_path / "o" / "u1.wav").exists()


def test_tts_model_without_a_character_record_says_so(env, tmp_path, capsys):
    assert tts(env, *ONE, "--out", str(tmp_path / "u.wav")) == 0
    assert "does not record" not in capsys.readouterr().err
    model_dir = tmp_path / "old_model"  # saved before text_tokenizer.seen_chars existed
    shutil.copytree(env / "model", model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    del cfg["text_tokenizer"]["seen_chars"]
    (model_dir / "config.json").write_text(json.dumps(cfg))
    assert tts_main(["--model", str(model_dir), *FAST, *ONE, "--out", str(tmp_path / "v.wav")]) == 0
    assert "does not record the characters of its training transcripts" in capsys.readouterr().err
