"""Embedded corpus: sentence grammar, voice split, and a tiny deterministic build (real engines)."""

from __future__ import annotations

import filecmp
import json

import pytest

from holitok_common.audio import read_audio
from holitok_common.config import ConfigError
from holitok_common.data.engines import HELDOUT_VOICES, all_voices, available_voices
from holitok_common.data.loader import load_cuts
from holitok_common.data.seedtts import parse_seedtts_list
from holitok_common.data.sentences import SentenceGenerator, load_lexicon
from holitok_common.data.synth import SPLITS, CorpusError, SynthConfig, build_corpus, split_voices
from holitok_common.data.synth_audio import SynthJob, synthesize
from holitok_common.numbers_en import cardinal, year


def test_sentences_deterministic_and_varied():
    a, b = SentenceGenerator(5).take(300), SentenceGenerator(5).take(300)
    assert a == b and a != SentenceGenerator(6).take(300) and len(set(a)) == 300
    assert all(4 <= len(s.split()) <= 20 and s[0].isupper() and s[-1] in ".?" for s in a)
    assert sum(s.endswith("?") for s in a) > 20
    assert load_lexicon().num_word_forms() > 3000


def test_lexicon_subset_is_a_small_vocabulary_task():
    full, small = load_lexicon(), load_lexicon().subset(0.1)
    assert full.subset(1.0) is full and small == load_lexicon().subset(0.1)
    assert 300 < small.num_word_forms() < full.num_word_forms() / 5
    assert set(small.nouns) <= set(full.nouns) and small.nouns[0] != small.nouns[1]
    names = set(full.names) - set(small.names)
    sentences = SentenceGenerator(0, small).take(400)
    assert not any(word.strip(",.?") in names for s in sentences for word in s.split())
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="lexicon fraction"):
            full.subset(bad)


def test_numbers_in_words():
    assert cardinal(342) == "three hundred and forty two"
    assert cardinal(21000) == "twenty one thousand"
    assert year(1987) == "nineteen eighty seven" and year(2005) == "two thousand and five"


def test_voice_split():
    voices = all_voices()
    train, heldout = split_voices(voices, 4)
    assert {v.voice_id for v in heldout} == set(HELDOUT_VOICES) and not set(train) & set(heldout)
    assert len({v.engine for v in heldout}) == len(heldout)
    train, heldout = split_voices(voices[:5], 4)  # espeak only: falls back to holding out one voice
    assert len(heldout) == 1 and len(train) == 4
    with pytest.raises(CorpusError, match="engines --install"):
        split_voices(voices[:2], 4)


@pytest.mark.parametrize("engine", ["espeak-ng", "mbrola", "flite", "festival", "pico", "rhvoice"])
def test_each_engine_is_deterministic(engine, tmp_path):
    """Byte-identical FLAC from two syntheses of the same text (the corpus build relies on it)."""
    present, _ = available_voices("extended")
    voices = [v for v in present if v.engine == engine]
    if not voices:
        pytest.skip(f"no {engine} voice installed; run `holitok-data engines --install`")
    voice = voices[-1]
    paths = [tmp_path / f"{k}.flac" for k in range(2)]
    lengths = [synthesize(SynthJob(voice, "Tina enjoyed five able sparrows in December.", p, 16000)) for p in paths]
    assert lengths[0] > 16000 and filecmp.cmp(paths[0], paths[1], shallow=False), voice.voice_id


def test_voice_sets():
    base, ext = all_voices("base"), all_voices("extended")
    assert all_voices() == base and len(base) == 36 and ext[:len(base)] == base  # base corpora stay byte-identical
    ids = [v.voice_id for v in ext]
    assert len(ids) == 60 and len(ids) == len(set(ids)) and set(HELDOUT_VOICES) <= {v.voice_id for v in base}
    assert "rhvoice-alan" not in ids  # built from CMU ARCTIC awb = the held-out flite-awb
    assert {v.engine for v in ext} == {"espeak-ng", "mbrola", "flite", "festival", "pico", "rhvoice"}
    assert {v.engine for v in base} == {"espeak-ng", "mbrola", "flite", "festival"}
    with pytest.raises(ValueError, match="unknown voice set"):
        all_voices("all")
    with pytest.raises(ConfigError, match="--voices"):
        SynthConfig(voice_set="all")


def test_tiny_corpus_is_deterministic(tmp_path, monkeypatch):
    present, _ = available_voices()
    if len(present) < 4:
        pytest.skip(f"only {len(present)} speech voices installed; run `holitok-data engines --install`")
    cfg = SynthConfig(hours=0.015, seed=3, jobs=1)
    monkeypatch.chdir(tmp_path)  # a relative OUT_DIR must still give list-relative paths
    s1 = build_corpus("a", cfg)
    build_corpus(tmp_path / "b", SynthConfig(hours=0.015, seed=3, jobs=2))
    names = [f"cuts_{s}.jsonl.gz" for s in SPLITS] + ["heldout_seedtts.lst", "corpus.json"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert match == names, (mismatch, errors)
    cuts = {s: load_cuts(tmp_path / "a" / f"cuts_{s}.jsonl.gz") for s in SPLITS}
    assert all(len(cuts[s]) > 0 for s in SPLITS), s1["splits"]
    for split, cs in cuts.items():
        for c in cs:
            wav, sr = read_audio(c.recording.sources[0].source)
            assert sr == 16000 and wav.numel() == c.recording.num_samples and wav.abs().max() > 0.1
            assert c.supervisions[0].text and c.custom["split"] == split and c.custom["engine"]
            audio = c.recording.sources[0].source
            assert filecmp.cmp(audio, audio.replace(str(tmp_path / "a"), str(tmp_path / "b")), shallow=False)
    spk = {s: {c.supervisions[0].speaker for c in cs} for s, cs in cuts.items()}
    assert not spk["heldout"] & spk["train"] and spk["dev"] | spk["test"] | spk["train"] <= set(s1["voices"]["train"])
    assert spk["heldout"] == set(s1["voices"]["heldout"])
    texts = {s: {c.supervisions[0].text for c in cs} for s, cs in cuts.items()}
    assert not texts["train"] & (texts["dev"] | texts["test"])
    items = parse_seedtts_list(tmp_path / "a" / "heldout_seedtts.lst")
    assert len(items) == len(cuts["heldout"]) and "|audio/" in (tmp_path / "a" / "heldout_seedtts.lst").read_text()
    for it in items:
        assert it.prompt_wav != it.gt_wav and it.prompt_wav.parent == it.gt_wav.parent and it.gt_wav.is_file()


def test_existing_corpus_is_reused_only_with_the_same_settings(tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "corpus.json").write_text(json.dumps({"hours_requested": 2.0, "seed": 0, "sample_rate": 16000}))
    assert build_corpus(out, SynthConfig(hours=2.0, seed=0))["reused"] is True  # no lexicon_fraction = 1.0
    with pytest.raises(CorpusError, match="delete this one to rebuild"):
        build_corpus(out, SynthConfig(hours=2.0, seed=0, lexicon_fraction=0.1))
    with pytest.raises(CorpusError, match="choose another output folder"):
        build_corpus(out, SynthConfig(hours=6.0, seed=0))
    with pytest.raises(CorpusError, match="voice set"):  # an old corpus.json (no voice_set) holds the base voices
        build_corpus(out, SynthConfig(hours=2.0, seed=0, voice_set="extended"))


def test_imported_manifests_are_never_overwritten(tmp_path):
    out = tmp_path / "imported"
    out.mkdir()
    (out / "cuts_train.jsonl.gz").write_bytes(b"")  # e.g. from `holitok-data librispeech`: no corpus.json
    with pytest.raises(CorpusError, match="--stage 1"):
        build_corpus(out, SynthConfig(hours=0.01, seed=0))
    assert (out / "cuts_train.jsonl.gz").read_bytes() == b""
