"""The whole embedded pipeline at smoke size, through the real recipe (`SMOKE=1 recipes/tiny/run.sh`):
corpus (0.02 h) -> tokenizer stages I, II, III (2 steps each) -> latents -> unified TTS-only + joint
(2 steps each) -> ASR of the test split -> TTS of 2 held-out lines -> eval (fast stand-in judges,
tests/e2e_judges.py) -> report -> export, then `make demo`'s script on the exported pair. So the
wiring between the stages can never silently break. About 2-3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
STAGES = range(9)


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra)
    return env


def _run(cmd: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    if not (ROOT / ".venv" / "bin" / "python").is_file() or shutil.which("espeak-ng") is None:
        pytest.skip("needs the project .venv and the speech engines (make setup)")
    exp = tmp_path_factory.mktemp("e2e") / "exp"
    env = _env(SMOKE="1", EXP_DIR=str(exp), ASR_JUDGE="python:e2e_judges:asr", SIM_JUDGE="python:e2e_judges:sim")
    proc = _run(["bash", "recipes/tiny/run.sh"], env)
    assert proc.returncode == 0, f"recipe failed:\n{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}"
    return exp, env, proc


def test_every_stage_ran_and_echoed_its_commands(smoke):
    exp, _, proc = smoke
    assert [n for n in STAGES if not (exp / f".done.stage{n}").is_file()] == []
    for command in ("holitok-data synth", "recipes/tokenizer/run.sh", "recipes/unified/run.sh", "holitok-asr",
                    "holitok-tts", "holitok-eval seedtts", "holitok-eval reconstruction", "resynth_list.py", "report.py",
                    "export.py"):
        assert any(line.startswith("+ ") and command in line for line in proc.stderr.splitlines()), command
    # the tokenizer trains on its own corpus (base + more recorded voices), the unified model on the base one
    tok_corpus = json.loads((exp / "corpus-tokenizer" / "corpus.json").read_text())
    base_corpus = json.loads((exp / "corpus" / "corpus.json").read_text())
    assert (tok_corpus["voice_set"], base_corpus["voice_set"]) == ("extended", "base")
    assert set(base_corpus["voices"]["train"]) < set(tok_corpus["voices"]["train"])
    assert tok_corpus["voices"]["heldout"] == base_corpus["voices"]["heldout"]
    assert any(line.startswith("+ ") and "recipes/tokenizer/run.sh" in line and "corpus-tokenizer" in line
               for line in proc.stderr.splitlines())


def test_decodes_and_evaluations(smoke):
    exp, _, _ = smoke
    hyps = [json.loads(line) for line in (exp / "decode" / "asr_test.jsonl").read_text().splitlines()]
    assert len(hyps) >= 1 and all(set(h) == {"id", "text"} for h in hyps)
    tts = json.loads((exp / "decode" / "tts_heldout" / "failures.json").read_text())
    assert (tts["total"], tts["written"], tts["failed"]) == (2, 2, 0)
    asr = json.loads((exp / "eval" / "asr_test" / "results.json").read_text())["metrics"]
    assert asr["missing"] == 0
    gen = json.loads((exp / "eval" / "tts_heldout" / "results.json").read_text())
    real = json.loads((exp / "eval" / "real_heldout" / "results.json").read_text())
    resynth = json.loads((exp / "eval" / "resynth_heldout" / "results.json").read_text())["metrics"]
    assert resynth["items"] == 2 and resynth["missing_wavs"] == 0
    assert resynth["num_speakers"] == 2 and "sim_margin" in resynth  # the voice ceiling (cross-SIM of resyntheses)
    for res in (gen, real):
        m = res["metrics"]
        assert m["items"] == 2 and m["missing_wavs"] == 0 and m["sim_utterances"] == 2
        assert m["num_speakers"] == 2 and {"sim_other", "sim_margin", "speaker_id_acc"} <= set(m)
        assert res["judges"]["asr"]["name"] == "fake-duration-asr"
    assert "gt_wav" in real["details"]["judged_wavs"]
    # SMOKE's TTS_SEEDS "0 1": the second sampling seed is decoded and judged beside the first
    seed1 = json.loads((exp / "eval" / "tts_heldout_seed1" / "results.json").read_text())["metrics"]
    assert seed1["items"] == 2 and seed1["missing_wavs"] == 0 and seed1["sim_utterances"] == 2
    recon = json.loads((exp / "eval" / "tokenizer_test" / "results.json").read_text())["metrics"]
    assert recon["stoi_count"] == recon["utterances"] >= 1 and 0.0 <= recon["stoi"] <= 1.0


def test_report_links_resolve(smoke):
    exp, _, _ = smoke
    report = (exp / "report.md").read_text()
    for needle in ("TTS WER / real WER", "SIM generated vs OTHER voices", "ASR WER, test split", "## Listen",
                   "tokenizer reconstruction, test split", "resyntheses of the same recordings",
                   "mean of 2 sampling seeds", "seed 1: ", "## SIM per held-out voice", "(the voice ceiling) | 0."):
        assert needle in report
    voices = json.loads((exp / "corpus" / "corpus.json").read_text())["voices"]["heldout"]
    section = report.split("## SIM per held-out voice")[1].split("\n## ")[0]
    assert "Not available" not in section
    assert sum(line.startswith(f"| {v} | 2 |") for v in voices for line in section.splitlines()) == 2  # 1 line each x 2 seeds
    links = re.findall(r"\]\(([^)]+)\)", report)
    assert any(link.endswith(".png") for link in links) and any(link.endswith(".wav") for link in links)
    assert [link for link in links if not (exp / link).is_file()] == []


def test_export_is_self_describing_small_and_relocatable(smoke, tmp_path):
    exp, _, _ = smoke
    models = exp / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["total_bytes"] <= 60e6 and manifest["steps"]["unified_joint"] == 2
    assert manifest["eval"]["tts_heldout_seed_mean"]["seeds"] == "0 1"  # the card records the seed means
    # provenance: the commit the run STARTED from (run.sh records it once per EXP_DIR)
    assert manifest["commit"] == (exp / "recipe_commit.txt").read_text().strip()
    assert json.loads((models / "unified" / "meta.json").read_text())["tokenizer_ref"] == "../tokenizer"
    assert (models / "tokenizer" / "model.safetensors").is_file() and (models / manifest["prompt"]["wav"]).is_file()
    assert not list(models.rglob("*.pt")) and not list(models.rglob("*.bin"))  # safetensors only
    # another checkout, another working directory: the model still finds its tokenizer
    moved = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(models, moved)
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "holitok-asr"), "--model", str(moved / "unified"),
                           str(moved / manifest["prompt"]["wav"])], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(str(moved / manifest["prompt"]["wav"]) + "\t")


def test_demo_runs_on_the_exported_pair(smoke, tmp_path):
    exp, env, _ = smoke
    out = tmp_path / "demo"
    proc = _run(["bash", "recipes/demo.sh", "--text", "Good morning."], dict(env, MODELS=str(exp / "models"), OUT=str(out)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "asked to say: Good morning." in proc.stdout and "ASR heard:" in proc.stdout and "timings:" in proc.stdout
    assert (out / "tts.wav").is_file()
    no_text = _run(["bash", "recipes/demo.sh", "--prompt", str(out / "tts.wav")], dict(env, MODELS=str(exp / "models")))
    assert no_text.returncode == 2 and "PROMPT needs its transcript" in no_text.stderr
    blank = _run(["bash", "recipes/demo.sh", "--text", "   "], dict(env, MODELS=str(exp / "models")))
    assert blank.returncode == 2 and "TEXT is empty" in blank.stderr


def test_demo_without_models_explains_and_runs_the_data_smoke(tmp_path):
    env = _env(MODELS=str(tmp_path / "none"), OUT=str(tmp_path / "out"))
    proc = _run(["bash", "recipes/demo.sh"], env)
    assert proc.returncode == 0 and "bash recipes/tiny/run.sh" in proc.stderr, proc.stderr[-3000:]
    assert (tmp_path / "out" / "corpus" / "cuts_train.jsonl.gz").is_file()  # the data smoke, not TTS output
    assert not (tmp_path / "out" / "tts.wav").exists()  # no fake TTS output
    own = _run(["bash", "recipes/demo.sh", "--text", "Hello there."], env)
    assert own.returncode == 1 and "bash recipes/tiny/run.sh" in own.stderr  # user input needs the models


@pytest.mark.parametrize("seeds, message", [("", "TTS_SEEDS is empty"), ("0 x", "non-negative integers"),
                                            ("1 1", "repeats a seed")])
def test_bad_tts_seeds_fail_before_any_stage(tmp_path, seeds, message):
    env = _env(SMOKE="1", EXP_DIR=str(tmp_path / "exp"), TTS_SEEDS=seeds)
    proc = _run(["bash", "recipes/tiny/run.sh"], env, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr and not (tmp_path / "exp").exists()


def test_rerun_skips_finished_stages(smoke):
    exp, env, _ = smoke
    proc = _run(["bash", "recipes/tiny/run.sh"], env, timeout=60)
    assert proc.returncode == 0 and "\n+ " not in "\n" + proc.stderr  # nothing re-executed
