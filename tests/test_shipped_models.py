"""The shipped tiny models (models/tiny, issue 8): intact, within the size limit, loadable the way
`make demo` loads them, and runnable end to end (TTS in the shipped prompt's voice, then our ASR)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from holitok_common.audio import read_audio
from holitok_tokenizer.model import HoliTok
from unified_lm.cli.runtime import resolve_tokenizer_dir
from unified_lm.generate import (
    ASROptions, Synthesizer, Transcriber, TTSOptions, TTSRequest, check_compatible, encode_waveforms,
)
from unified_lm.model import UnifiedLM

MODELS = Path(__file__).resolve().parents[1] / "models" / "tiny"
MAX_BYTES = 60e6  # issue 8: tokenizer + unified model together at most 60 MB


@pytest.fixture(scope="module")
def manifest():
    path = MODELS / "manifest.json"
    assert path.is_file(), f"{path} is missing: the tiny models ship with the repository (recipes/tiny/run.sh stage 8)"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def pair():
    tokenizer = HoliTok.from_pretrained(resolve_tokenizer_dir(MODELS / "unified", None)).eval()
    model = UnifiedLM.from_pretrained(MODELS / "unified").eval()
    return tokenizer, model


def test_every_shipped_file_matches_the_manifest(manifest):
    listed = {row["path"]: row for row in manifest["files"]}
    on_disk = {str(p.relative_to(MODELS)) for p in MODELS.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == set(listed), "models/tiny holds files the manifest does not list (or the reverse)"
    for rel, row in listed.items():
        data = (MODELS / rel).read_bytes()
        assert len(data) == row["bytes"] and hashlib.sha256(data).hexdigest() == row["sha256"], rel
    total = sum(row["bytes"] for row in manifest["files"]) + (MODELS / "manifest.json").stat().st_size
    assert total <= MAX_BYTES


def test_the_pair_is_compatible_and_references_its_own_tokenizer(pair, manifest):
    tokenizer, model = pair
    assert resolve_tokenizer_dir(MODELS / "unified", None).resolve() == (MODELS / "tokenizer").resolve()
    check_compatible(model, tokenizer)
    assert sum(p.numel() for p in tokenizer.parameters()) == manifest["tokenizer_parameters"]
    assert model.num_parameters().total == manifest["unified_parameters"]


def test_tts_in_the_shipped_voice_then_asr(pair, manifest):
    tokenizer, model = pair
    prompt = manifest["prompt"]
    wav, sr = read_audio(MODELS / prompt["wav"])
    assert sr == tokenizer.sample_rate and (MODELS / prompt["transcript"]).read_text().strip() == prompt["text"]
    wav = wav.reshape(-1)  # mono [S]
    prompt_latents = encode_waveforms(tokenizer, [wav])[0]
    synth = Synthesizer(model, tokenizer, TTSOptions(steps=2, max_seconds=1.0))
    result = synth.synthesize([TTSRequest("demo", "The boat leaves at eight.", prompt["text"], prompt_latents)])[0]
    samples_per_patch = model.cfg.patch_size * tokenizer.sample_rate / model.cfg.frame_rate
    assert 0 < result.num_patches <= math.ceil(1.0 * model.cfg.patch_rate)  # the 1 s cap, in whole patches
    assert result.wav.dim() == 1 and result.wav.numel() == result.num_patches * samples_per_patch
    assert torch.isfinite(result.wav).all()
    heard = Transcriber(model, tokenizer, ASROptions()).transcribe([result.wav, wav])
    assert len(heard) == 2 and all(isinstance(h.text, str) for h in heard)
