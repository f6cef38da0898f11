"""Text normalisation of each pinned protocol (SPEC section 4). Each returns a list of tokens.

- Seed-TTS (seed-tts-eval `run_wer.py::process_one`): delete every punctuation character except the
  ASCII apostrophe (deleted, not replaced by a space: "twenty-five" -> "twentyfive", as upstream),
  collapse spaces; en: lowercase, tokens are words; zh: tokens are characters (CER), spaces dropped.
  Upstream deletes `string.punctuation` + zhon's CJK punctuation; we delete `string.punctuation` plus
  every Unicode punctuation character (category P*), a superset covering zhon's list. The typographic
  apostrophe U+2019 is punctuation there and here, so "don’t" -> "dont" (upstream behaviour).
- Seed-TTS zh hypotheses are converted traditional -> simplified with zhconv (`zh-cn`), as upstream.
- LibriSpeech (Open ASR Leaderboard convention): Whisper's EnglishTextNormalizer on both sides.
  The implementation is transformers' port (`transformers.models.whisper.english_normalizer`,
  output-identical to openai/whisper's); its spelling map is openai/whisper's `english.json`, shipped
  in eval/assets (see NOTICE.txt), so no hub download is needed.
- LibriSpeech raw (icefall convention): uppercase, split on whitespace, nothing else.
"""

from __future__ import annotations

import functools
import json
import string
import unicodedata
import warnings
from pathlib import Path
from typing import Callable

SPELLING_MAP = Path(__file__).resolve().parent / "assets" / "whisper_english_spelling.json"
_ASCII_PUNCT = set(string.punctuation) - {"'"}


def _is_seedtts_punct(ch: str) -> bool:
    if ch == "'":
        return False
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def strip_punctuation(text: str) -> str:
    """Delete punctuation except the ASCII apostrophe, then collapse runs of whitespace."""
    kept = "".join(ch for ch in text if not _is_seedtts_punct(ch))
    return " ".join(kept.split())


def seedtts_tokens(text: str, lang: str) -> list[str]:
    """Seed-TTS tokens: lowercase words (en) or non-space characters (zh)."""
    text = strip_punctuation(text)
    if lang == "en":
        return text.lower().split()
    if lang == "zh":
        return [ch for ch in text if not ch.isspace()]
    raise ValueError(f"Seed-TTS language must be 'en' or 'zh', got {lang!r}")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese with zhconv ('zh-cn'), as seed-tts-eval does."""
    try:
        with warnings.catch_warnings():  # zhconv imports the deprecated pkg_resources
            warnings.simplefilter("ignore", UserWarning)
            import zhconv
    except ImportError as exc:
        raise ImportError(
            "the seedtts-zh protocol converts traditional to simplified Chinese with zhconv, which is not "
            "installed: pip install zhconv (part of holitok[eval])"
        ) from exc
    return zhconv.convert(text, "zh-cn")


@functools.lru_cache(maxsize=1)
def whisper_english_normalizer() -> Callable[[str], str]:
    """Whisper's English text normaliser (transformers' port + openai's spelling map)."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    mapping = json.loads(SPELLING_MAP.read_text(encoding="utf-8"))
    return EnglishTextNormalizer(mapping)


def whisper_tokens(text: str) -> list[str]:
    return whisper_english_normalizer()(text).split()


def raw_upper_tokens(text: str) -> list[str]:
    return text.upper().split()
