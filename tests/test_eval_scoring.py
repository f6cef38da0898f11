"""Scoring protocols with hand-computed numbers (eval/scoring.py, eval/normalize.py)."""

from __future__ import annotations

import math

import pytest

from eval.normalize import seedtts_tokens, strip_punctuation, whisper_english_normalizer
from eval.scoring import score


def test_mean_per_utterance_differs_from_corpus_wer():
    refs = {"u1": "Hello world, this is a test.", "u2": "Don't stop."}
    hyps = {"u1": "hello world this is a test", "u2": "do not stop"}
    res = score("seedtts-en", refs, hyps)
    # u1: 6 ref words, 0 errors -> 0.  u2: ref [don't, stop], hyp [do, not, stop]:
    # don't->do (1 sub) + "not" inserted (1 ins) = 2 errors / 2 words -> 100%.
    # mean per-utterance = (0 + 100) / 2 = 50%;  corpus = 2 errors / 8 words = 25%.
    assert res.wer == pytest.approx(50.0)
    assert res.mean_utt_wer == pytest.approx(50.0)
    assert res.corpus_wer == pytest.approx(25.0)
    assert (res.substitutions, res.deletions, res.insertions, res.ref_tokens) == (1, 0, 1, 8)
    assert res.missing == 0 and res.wer_with_missing == pytest.approx(50.0)


def test_librispeech_headline_is_corpus_wer():
    refs = {"a": "one two three four", "b": "five six"}
    hyps = {"a": "one two three four", "b": "five"}
    res = score("librispeech-raw", refs, hyps)
    # a: 0/4; b: 1 deletion / 2.  corpus = 1/6 = 16.67%; mean per-utt = (0 + 50)/2 = 25%.
    assert res.wer == pytest.approx(100 / 6)
    assert res.corpus_wer == pytest.approx(100 / 6)
    assert res.mean_utt_wer == pytest.approx(25.0)


def test_missing_and_extra_ids_are_counted_never_dropped():
    refs = {"u1": "a b c d", "u2": "e f", "u3": "g h i j"}
    hyps = {"u1": "a b c x", "u2": "e f", "zz": "extra"}
    res = score("seedtts-en", refs, hyps)
    # scored: u1 1/4 = 25%, u2 0% -> mean 12.5%; u3 missing = 100% -> (25 + 0 + 100) / 3 = 41.67%.
    assert res.missing == 1 and res.missing_ids == ["u3"]
    assert res.extra == 1 and res.extra_ids == ["zz"]
    assert res.utterances == 2 and res.references == 3
    assert res.wer == pytest.approx(12.5)
    assert res.wer_with_missing == pytest.approx(125 / 3)
    corpus = score("librispeech-raw", refs, hyps)
    # corpus: 1 error / 6 words = 16.67%; with u3 as 4 deletions: 5 / 10 = 50%.
    assert corpus.wer == pytest.approx(100 / 6)
    assert corpus.wer_with_missing == pytest.approx(50.0)


def test_seedtts_punctuation_removed_apostrophe_kept():
    assert seedtts_tokens("Don't   STOP, \"believing\"!", "en") == ["don't", "stop", "believing"]
    # deleted, not replaced by a space (as seed-tts-eval's process_one)
    assert strip_punctuation("twenty-five; ok.") == "twentyfive ok"
    res = score("seedtts-en", {"x": "It's fine, really."}, {"x": "it's fine really"})
    assert res.wer == 0.0


def test_seedtts_zh_character_tokens_and_traditional_to_simplified():
    assert seedtts_tokens("你好，世界！ 今天", "zh") == ["你", "好", "世", "界", "今", "天"]
    res = score("seedtts-zh", {"a": "今天天气很好。"}, {"a": "今天天氣不好"})
    # 氣 -> 气 by zhconv; one substitution (很 -> 不) over 6 characters: 16.67% CER.
    assert res.unit == "char"
    assert res.wer == pytest.approx(100 / 6)
    assert res.per_utt[0].hyp == "今 天 天 气 不 好"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mr. Smith", "mister smith"),
        ("twenty five", "25"),
        ("25", "25"),
        ("HELLO World", "hello world"),
        ("I don't know, it's colour", "i do not know it is color"),
        ("um, we're gonna go [noise]", "we are going to go"),
    ],
)
def test_whisper_english_normaliser(text, expected):
    assert whisper_english_normalizer()(text).strip() == expected


def test_librispeech_protocol_uses_whisper_normaliser_both_sides():
    refs = {"a": "MISTER SMITH PAID TWENTY FIVE DOLLARS"}
    hyps = {"a": "Mr. Smith paid $25."}
    assert score("librispeech", refs, hyps).wer == 0.0
    raw = score("librispeech-raw", refs, hyps)
    assert raw.wer > 0  # icefall convention: raw uppercase text, no normalisation


def test_empty_reference_is_counted_not_averaged():
    res = score("seedtts-en", {"a": "...", "b": "one two"}, {"a": "noise", "b": "one two"})
    assert res.empty_refs == 1
    assert res.wer == 0.0 and res.insertions == 1
    assert math.isclose(res.corpus_wer, 50.0)  # 1 insertion / 2 reference words


def test_unknown_protocol_is_rejected():
    with pytest.raises(ValueError, match="unknown protocol"):
        score("seedtts-fr", {"a": "x"}, {"a": "x"})
