"""Numbers in words (holitok_common/numbers_en.py, the corpus transcripts' style) and the TTS text
normalisation built on them (unified_lm/generate/text_norm.py)."""

from __future__ import annotations

import pytest

from holitok_common.numbers_en import cardinal, ordinal, year
from unified_lm.generate.text_norm import apply_text_norm, fit_alphabet, normalize_numbers_en


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety nine"), (100, "one hundred"),
    (101, "one hundred and one"), (1000, "one thousand"), (1005, "one thousand and five"),
    (1234, "one thousand two hundred and thirty four"), (21000, "twenty one thousand"), (1_000_000, "one million"),
    (2_000_345_000, "two billion three hundred and forty five thousand"),
])
def test_cardinal(n, words):
    assert cardinal(n) == words


def test_ordinal_and_year():
    assert [ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty first", "one hundredth"]
    assert [year(n) for n in (1987, 1900, 2005, 2024, 1905)] == [
        "nineteen eighty seven", "nineteen hundred", "two thousand and five", "twenty twenty four", "nineteen oh five"]
    with pytest.raises(ValueError):
        cardinal(-1)


@pytest.mark.parametrize("text,spoken", [
    ("The boat leaves at 8:15 on the 21st, $3.50 a ticket.",
     "The boat leaves at eight fifteen on the twenty first, three dollars and fifty cents a ticket."),
    ("Call 555-1234 at 8:15pm.", "Call five five five one two three four at eight fifteen p m."),
    ("It is 10:00 now, 10:05 am later.", "It is ten o'clock now, ten oh five a m later."),
    ("Meet at 7 p.m.", "Meet at seven p.m."),
    ("Flight at 7:00 PM.", "Flight at seven p m."),
    ("In 1999, 1,234 people paid $1.", "In nineteen ninety nine, one thousand two hundred and thirty four people paid one dollar."),
    ("3.5% of 42", "three point five percent of forty two"),
    ("No digits here.", "No digits here."),
])
def test_normalize_numbers_en(text, spoken):
    assert normalize_numbers_en(text) == spoken
    assert not any(ch.isdigit() for ch in normalize_numbers_en(text))


def test_normalisation_is_idempotent_and_selectable():
    once = normalize_numbers_en("On May 3rd 2024 at 9:30 we paid $12,500.75 for 3 boats.")
    assert normalize_numbers_en(once) == once and not any(ch.isdigit() for ch in once)
    assert apply_text_norm("At 9:30.", "none") == "At 9:30."
    with pytest.raises(ValueError, match="unknown text normalisation"):
        apply_text_norm("x", "fr")


ALPHABET = " ',.?ABCDEFHIJKLMNOPRSTUVWabcdefghijklmnopqrstuvwxyz"  # the shipped model's seen_chars (no G, !, ;, &)


@pytest.mark.parametrize("text,fitted", [
    ("Good night! Yes & no", "good night. yes and no"),  # unseen capitals -> lower case; "!" -> "."; "&" -> "and"
    ("Zebras (two) ran - fast; \"really\".", "zebras, two, ran fast, really."),
    ("(Yes) he said (twice).", "yes, he said, twice."),
    ("It\u2019s late: go\u2026", "It's late, go."),
    ("Known text, unchanged.", "Known text, unchanged."),
    ("caf\u00e9 \u65e5", "caf\u00e9 \u65e5"),  # no stand-in: kept, so the engine can name them in its error
])
def test_fit_alphabet(text, fitted):
    assert fit_alphabet(text, ALPHABET) == fitted


def test_stand_ins_only_use_characters_the_model_knows():
    letters = "abcdefghijklmnopqrstuvwxyz "  # no punctuation at all (a small corpus can lack even ",")
    assert fit_alphabet("yes! no; maybe, don't (now).", letters) == "yes no maybe dont now"  # unspoken: left out
    assert fit_alphabet("5 $ caf\u00e9", letters) == "5 $ caf\u00e9"  # digits, symbols, accents: kept
    assert fit_alphabet("Go", "GOgo") == "Go"  # known capitals stay
    assert fit_alphabet("gO", "Go") == "Go"  # and an unseen lower case becomes a known capital


def test_apply_text_norm_with_and_without_the_alphabet():
    assert apply_text_norm("Go at 8:15!", "en", ALPHABET) == "go at eight fifteen."
    assert apply_text_norm("Go at 8:15!", "en") == "Go at eight fifteen!"  # no alphabet recorded: numbers only
    assert apply_text_norm("Go at 8:15!", "none", ALPHABET) == "Go at 8:15!"


@pytest.mark.parametrize("text,spoken", [
    ("Hello world", "Hello world."),  # the text pointer ends a row at its last unit: end it as training texts end
    ("Hi!!", "Hi."), ("We left (finally)", "We left, finally."), ("Wait;", "Wait."), ("rock-n-roll!?", "rock n roll?"),
    ("Is it?", "Is it?"), ("Done.", "Done."),
    ("See \u00a7 5.", "See \u00a7 five."),  # a sign that stands for words is kept, for the engine to refuse by name
])
def test_en_norm_ends_the_sentence_and_keeps_signs(text, spoken):
    assert apply_text_norm(text, "en", ALPHABET) == spoken
