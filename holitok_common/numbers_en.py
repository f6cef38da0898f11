"""English numbers in words, in the style of the embedded corpus's transcripts ("three hundred and
forty two", "nineteen oh five", "two thousand and five"): the corpus generator writes numbers with
these, and TTS text normalisation (unified_lm/generate/numbers_en.py) speaks digits with them, so a
model hears numbers the way it was trained on them."""

from __future__ import annotations

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """0 <= n < 10**15 in words: 342 -> 'three hundred and forty two', 21000 -> 'twenty one thousand'."""
    if not 0 <= n < 10**15:
        raise ValueError(f"number {n} out of range [0, 10**15)")
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + cardinal(rest))
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            sep = "" if rest == 0 else (" and " if rest < 100 else " ")
            return cardinal(n // value) + " " + name + sep + ("" if rest == 0 else cardinal(rest))
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """21 -> 'twenty first', 100 -> 'one hundredth'."""
    words = cardinal(n).split()
    last = words[-1]
    words[-1] = _ORDINAL.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return " ".join(words)


def year(n: int) -> str:
    """1987 -> 'nineteen eighty seven', 1905 -> 'nineteen oh five', 1900 -> 'nineteen hundred',
    2005 -> 'two thousand and five' (0 <= n < 10000)."""
    if not 0 <= n < 10000:
        raise ValueError(f"year {n} out of range [0, 10000)")
    if 2000 <= n < 2010 or n < 100:
        return cardinal(n)
    hi, lo = divmod(n, 100)
    return cardinal(hi) + " " + ("hundred" if lo == 0 else "oh " + ONES[lo] if lo < 10 else cardinal(lo))
