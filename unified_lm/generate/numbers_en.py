"""English number normalisation for TTS input: digits become the words a reader would say.

TTS models learn from transcripts, and read-speech transcripts (LibriSpeech, the embedded corpus)
spell numbers out, so a model has rarely or never seen a digit. `holitok-tts` runs this on English
text by default (`--text-norm en`) and prints the text it speaks when it changed it. Covered, in this
order: money ($5, $3.50), times (8:15, 10:00 pm), phone-style digit groups (555-1234), percentages,
ordinals (21st), decimals (3.5), years (1999, 2024) and other cardinals (1,234, 42). Anything else
with digits is left as written.

    >>> normalize_numbers_en("The boat leaves at 8:15 on the 21st, $3.50 a ticket.")
    'The boat leaves at eight fifteen on the twenty first, three dollars and fifty cents a ticket.'
"""

from __future__ import annotations

import re

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """0 <= n < 10**15 in words: 1234 -> 'one thousand two hundred thirty four'."""
    if not 0 <= n < 10**15:
        raise ValueError(f"cardinal: {n} is out of range [0, 10**15)")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + cardinal(rest))
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            return cardinal(n // value) + " " + name + ("" if rest == 0 else " " + cardinal(rest))
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """21 -> 'twenty first'."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year(n: int) -> str:
    """1999 -> 'nineteen ninety nine', 2005 -> 'two thousand five', 1900 -> 'nineteen hundred'."""
    if 2000 <= n <= 2009:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    return cardinal(high) + " " + (("oh " + _ONES[low]) if low < 10 else cardinal(low))


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


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
                              else " oh " + _ONES[minute] if minute < 10 else " " + cardinal(minute))
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


TEXT_NORMS = ("en", "none")  # the choices of `holitok-tts --text-norm`


def apply_text_norm(text: str, norm: str) -> str:
    """`text` as the model should read it: "en" spells numbers out, "none" keeps it as given."""
    if norm not in TEXT_NORMS:
        raise ValueError(f"unknown text normalisation {norm!r}; choose one of {TEXT_NORMS}")
    return normalize_numbers_en(text) if norm == "en" else text
