"""TTS text normalisation (`holitok-tts --text-norm`): English digits become the words a reader would say,
in the corpus transcripts' style (holitok_common/numbers_en.py: "one hundred and five").

TTS models learn from transcripts, and read-speech transcripts (LibriSpeech, the embedded corpus)
spell numbers out, so a model has rarely or never seen a digit. `holitok-tts` runs this on English
text by default (`--text-norm en`) and prints the text it speaks when it changed it. Then, for a model
that records the characters of its training transcripts (`text_tokenizer.seen_chars`), characters it
never saw are replaced by harmless stand-ins it knows (`fit_alphabet`: case, punctuation, "&" -> "and");
whatever is left unseen is refused by the TTS engine with the characters named. Numbers covered, in this
order: money ($5, $3.50), times (8:15, 10:00 pm), phone-style digit groups (555-1234), percentages,
ordinals (21st), decimals (3.5), years (1999, 2024) and other cardinals (1,234, 42). Anything else
with digits is left as written.

    >>> normalize_numbers_en("The boat leaves at 8:15 on the 21st, $3.50 a ticket.")
    'The boat leaves at eight fifteen on the twenty first, three dollars and fifty cents a ticket.'
    >>> normalize_numbers_en("In 1905, 101 boats.")
    'In nineteen oh five, one hundred and one boats.'
"""

from __future__ import annotations

import re

from holitok_common.numbers_en import ONES, cardinal, ordinal, year


def _digits(text: str) -> str:
    return " ".join(ONES[int(d)] for d in text if d.isdigit())


def _money(m: re.Match) -> str:
    dollars, cents = int(m.group(1).replace(",", "")), m.group(2)
    words = cardinal(dollars) + (" dollar" if dollars == 1 else " dollars")
    if cents and int(cents):
        c = int(cents.ljust(2, "0")[:2])
        words += " and " + cardinal(c) + (" cent" if c == 1 else " cents")
    return words


def _time(m: re.Match) -> str:
    hour, minute, suffix = int(m.group(1)), int(m.group(2)), (m.group(3) or "").lower().replace(".", "")
    words = cardinal(hour) + (" o'clock" if minute == 0 and not suffix else "" if minute == 0
                              else " oh " + ONES[minute] if minute < 10 else " " + cardinal(minute))
    end = "." if (m.group(3) or "").endswith(".") else ""  # "7 p.m." may end the sentence: keep a full stop
    return words + (" " + " ".join(suffix) if suffix else "") + end


def _number(m: re.Match) -> str:
    text = m.group(0)
    value = int(text.replace(",", ""))
    if "," not in text and len(text) == 4 and 1100 <= value <= 2099:
        return year(value)
    if len(text.replace(",", "")) > 15:
        return _digits(text)
    return cardinal(value)


_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"\$(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\b"), _money),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?:\s?([ap]\.?m\.?)(?![a-z]))?", re.IGNORECASE), _time),
    (re.compile(r"\b\d{3}(?:-\d{3})?-\d{4}\b"), lambda m: _digits(m.group(0))),
    (re.compile(r"\b(\d+(?:\.\d+)?)\s?%"), lambda m: _decimal(m.group(1)) + " percent"),
    (re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE), lambda m: ordinal(int(m.group(1)))),
    (re.compile(r"\b(\d+)\.(\d+)\b"), lambda m: _decimal(m.group(0))),
    (re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b"), _number),
]


def _decimal(text: str) -> str:
    whole, _, frac = text.partition(".")
    words = _number(re.match(r"\d+", whole)) if len(whole) != 4 else cardinal(int(whole))
    return words + (" point " + _digits(frac) if frac else "")


def normalize_numbers_en(text: str) -> str:
    """`text` with its numbers spelled out (see the module docstring); text without digits is unchanged."""
    if not any(ch.isdigit() for ch in text):
        return text
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return " ".join(text.split())


# Stand-ins for characters a model may not have seen, in order of preference: the first one the
# model's alphabet holds is used (a space joins the neighbouring words; "" drops the character).
# Sentence-level punctuation only changes prosody; case, quotes and brackets do not change the words.
_STAND_INS: dict[str, tuple[str, ...]] = {
    "!": (".", ""), ";": (",", ".", " "), ":": (",", ".", " "), "\u2026": (".", ""),
    "\u2014": (" , ", " "), "\u2013": (" , ", " "), "(": (" , ", " "), ")": (" , ", " "), "[": (" , ", " "),
    "]": (" , ", " "),
    "-": (" ",), "/": (" ",), "_": (" ",), "&": (" and ",), "+": (" plus ",), "@": (" at ",), "=": (" equals ",),
    "\u2019": ("'", ""), "\u2018": ("'", ""), "`": ("'", ""), '"': ("",), "\u201c": ("",), "\u201d": ("",), "*": ("",),
}


# Punctuation that is never spoken, so a model that never saw it can leave it out. Other signs ("#",
# "§", "%") stand for words and stay, to be refused by name.
_UNSPOKEN = set(",.?!;:'\u2019\u2018`\"\u201c\u201d()[]{}-\u2013\u2014\u2026/_*\u00ab\u00bb\u00a1\u00bf")


def _unspoken(ch: str) -> str:
    """The last resort for an unseen character: unspoken punctuation goes (an apostrophe joins its
    word, "don't" -> "dont"; anything else becomes a word gap); any other character stays."""
    if ch not in _UNSPOKEN:
        return ch
    return "" if ch in "'\u2019\u2018`" else " "


def fit_alphabet(text: str, alphabet: str) -> str:
    """`text` rewritten into the characters of `alphabet` (the model's training transcripts) where a
    harmless stand-in exists: an unseen capital becomes its lower case (and vice versa), unseen
    punctuation one the model knows (`_STAND_INS`: "!" -> ".", ";" -> ",", "-" -> " ", "&" -> "and"),
    and unseen punctuation without a known stand-in is left out (it is not spoken). Other characters
    with no stand-in (letters with accents, other scripts, symbols) are kept, so the TTS engine can
    name them in its error.

        >>> fit_alphabet("Good night! Yes & no", "abcdefghijklmnopqrstuvwxyz ,.'")
        'good night. yes and no'
    """
    known = set(alphabet)
    out = []
    for ch in text:
        if ch in known or ch.isspace():
            out.append(ch)
        elif ch.lower() in known and ch.lower() != ch:
            out.append(ch.lower())
        elif ch.upper() in known and ch.upper() != ch:
            out.append(ch.upper())
        else:
            out.append(next((s for s in _STAND_INS.get(ch, ()) if all(c in known for c in s)), _unspoken(ch)))
    fitted = " ".join("".join(out).split())
    if fitted == " ".join(text.split()):
        return fitted
    fitted = re.sub(r" ([,.?])", r"\1", fitted)  # no space before the punctuation a stand-in brought
    fitted = re.sub(r",(?=[,.?])", "", fitted)  # "(two)." -> "two." rather than "two,."
    return fitted.lstrip(" ,")


TEXT_NORMS = ("en", "none")  # the choices of `holitok-tts --text-norm`


def apply_text_norm(text: str, norm: str, alphabet: str | None = None) -> str:
    """`text` as the model should read it. "en": numbers spelled out, then (with the model's
    `alphabet`, UnifiedConfig.text_tokenizer.seen_chars) characters it never saw replaced by
    stand-ins it knows (`fit_alphabet`); "none": the text as given."""
    if norm not in TEXT_NORMS:
        raise ValueError(f"unknown text normalisation {norm!r}; choose one of {TEXT_NORMS}")
    if norm == "none":
        return text
    text = normalize_numbers_en(text)
    return end_sentence(fit_alphabet(text, alphabet), alphabet) if alphabet else text


def end_sentence(text: str, alphabet: str) -> str:
    """End the text with a full stop the model knows, as its training transcripts end (with the text
    pointer a row ends after the patch where its last unit starts: a last letter would be clipped).
    A trailing "," becomes "."; repeated final stops ("Hi.." from "Hi!!") become one."""
    if "." not in alphabet or not text:
        return text
    text = re.sub(r"[.,]+(?=\?)", "", text)  # "roll.?" (from "roll!?") -> "roll?"
    body = text.rstrip(" ,.")
    if not body:
        return text
    return body if body.endswith("?") else body + "."
