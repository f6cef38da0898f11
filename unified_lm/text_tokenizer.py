"""Text tokenizers behind one small interface: `TextTokenizer` (encode / decode / special ids).

Two implementations:
- `HFTextTokenizer`: the backbone's own tokenizer (AutoTokenizer from a local path) with the
  project's special tokens added (task / audio / text markers; eos and pad are the model's own
  when it has them).
- `SentencePieceTextTokenizer`: for from-scratch tiny backbones, trained by `train_sentencepiece`
  (deterministic: BPE, one thread, no input sampling) with the special tokens as user-defined symbols.

Text is normalised before encoding (`normalize_text`: NFKC, control characters removed, whitespace
collapsed). Characters the tokenizer still cannot encode (they would map to <unk>) are REPORTED:
`UnencodableTextError` lists them (default), or with `on_unknown="unk"` they map to <unk> with a
warning. Byte-level BPE tokenizers (Qwen) can encode every character, so they never report.
"""

from __future__ import annotations

import shutil
import unicodedata
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Optional, Sequence

# The project's special tokens, in this order (sequences.py documents where each goes).
TTS, ASR, AUDIO_START, AUDIO_END, TEXT_START = "<|tts|>", "<|asr|>", "<|audio_start|>", "<|audio_end|>", "<|text_start|>"
TASK_TOKENS = (TTS, ASR, AUDIO_START, AUDIO_END, TEXT_START)
EOS, PAD = "<|eos|>", "<|pad|>"  # used only where the tokenizer has no eos / pad of its own

OnUnknown = Literal["raise", "unk"]
TextUnits = Literal["tokens", "chars"]  # how `encode` segments: the tokenizer's tokens, or one id per character
SPACE_PIECE = "\u2581"  # sentencepiece's word-boundary marker


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the special tokens used by the sequence formats (sequences.py)."""

    tts: int
    asr: int
    audio_start: int
    audio_end: int
    text_start: int
    eos: int
    pad: int

    def all_ids(self) -> set[int]:
        return {self.tts, self.asr, self.audio_start, self.audio_end, self.text_start, self.eos, self.pad}


class UnencodableTextError(ValueError):
    """The text holds characters the tokenizer cannot encode; `.chars` lists them (sorted, unique)."""

    def __init__(self, text: str, chars: Sequence[str]):
        self.text, self.chars = text, list(chars)
        if self.chars:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in self.chars)
            what = f"cannot encode {len(self.chars)} character(s): {shown}"
        else:  # e.g. a word-level vocabulary: whole words map to <unk>, no single character does
            what = "maps part of the text to <unk> (words outside its vocabulary)"
        super().__init__(
            f"the text tokenizer {what} in {text[:80]!r}; "
            f"rewrite the text without them (a model trained with model.text_tokenizer.on_unknown=unk maps them "
            f"to <unk> with a warning instead)"
        )


def normalize_text(text: str) -> str:
    """NFKC, control/format characters removed (tabs/newlines become spaces), whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch)[0] != "C":
            kept.append(ch)
    return " ".join("".join(kept).split())


class TextTokenizer(ABC):
    """encode(text) -> ids, decode(ids) -> text, `special` ids, `vocab_size` (ids the embedding must hold)."""

    special: SpecialTokens
    unk_id: Optional[int]  # None: the tokenizer can encode any character

    def __init__(self, on_unknown: OnUnknown = "raise"):
        self.on_unknown = on_unknown

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def _encode_plain(self, text: str) -> list[int]:
        """Ids of already-normalised text, no special tokens added."""

    @abstractmethod
    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str: ...

    @abstractmethod
    def save(self, directory: str | Path) -> Path:
        """Write the tokenizer files into `directory`; return the path a config's `path` should hold."""

    def _encode_chars(self, text: str) -> list[int]:
        """One id per character of already-normalised text (units="chars")."""
        raise ValueError(f"{type(self).__name__} has no per-character ids; text_tokenizer.tts_units='chars' needs "
                         "a sentencepiece tokenizer (kind='sentencepiece')")

    def encode(self, text: str, on_unknown: Optional[OnUnknown] = None, units: TextUnits = "tokens") -> list[int]:
        """Normalise and encode `text` (no special tokens added; sequences.py adds them).

        units="tokens": the tokenizer's own segmentation. units="chars": one id per character (the
        tokenizer's single-character pieces; sentencepiece only), the input of a character-level
        TTS (text_tokenizer.tts_units). Raises UnencodableTextError listing the characters that
        would map to <unk> (unless on_unknown="unk"), and ValueError if the text spells one of our
        special tokens.
        """
        text = normalize_text(text)
        for token in TASK_TOKENS + (EOS, PAD):
            if token in text:
                raise ValueError(f"text contains the reserved special-token string {token!r}: {text[:80]!r}")
        if units not in ("tokens", "chars"):
            raise ValueError(f"unknown text units {units!r}; use 'tokens' or 'chars'")
        encode = self._encode_plain if units == "tokens" else self._encode_chars
        ids = encode(text)
        if self.unk_id is not None and self.unk_id in ids:
            chars = sorted({c for c in text if not c.isspace() and self.unk_id in encode(c)})
            if (on_unknown or self.on_unknown) == "raise":
                raise UnencodableTextError(text, chars)
            warnings.warn(str(UnencodableTextError(text, chars)) + " (mapped to <unk>)", stacklevel=2)
        return ids


class SentencePieceTextTokenizer(TextTokenizer):
    """A sentencepiece model trained by `train_sentencepiece` (special tokens are pieces of it)."""

    FILE = "spm.model"

    def __init__(self, model_file: str | Path, on_unknown: OnUnknown = "raise"):
        import sentencepiece as spm

        super().__init__(on_unknown)
        model_file = Path(model_file)
        if not model_file.is_file():
            raise FileNotFoundError(f"sentencepiece model {str(model_file)!r} does not exist; train one with train_sentencepiece")
        self.model_file = model_file
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        ids = {p: self.sp.piece_to_id(p) for p in TASK_TOKENS + (EOS, PAD)}
        missing = [p for p, i in ids.items() if i == self.sp.unk_id()]
        if missing:
            raise ValueError(f"{model_file} lacks the special pieces {missing}: train it with train_sentencepiece")
        self.special = SpecialTokens(*(ids[p] for p in TASK_TOKENS), eos=ids[EOS], pad=ids[PAD])
        self.unk_id = self.sp.unk_id()

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def _encode_plain(self, text: str) -> list[int]:
        return list(self.sp.encode(text))

    def _encode_chars(self, text: str) -> list[int]:
        # A space is the word-boundary piece; train_sentencepiece keeps every printable ASCII
        # character as a piece, so only other characters can map to <unk>.
        return [self.sp.piece_to_id(SPACE_PIECE if c == " " else c) for c in text]

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        drop = self.special.all_ids() if skip_special else set()
        return self.sp.decode([int(i) for i in ids if int(i) not in drop])

    def save(self, directory: str | Path) -> Path:
        Path(directory).mkdir(parents=True, exist_ok=True)
        target = Path(directory) / self.FILE
        shutil.copyfile(self.model_file, target)
        return target


REQUIRED_CHARS = "".join(chr(c) for c in range(33, 127))


def train_sentencepiece(texts: Iterable[str], out_prefix: str | Path, vocab_size: int) -> Path:
    """Train a BPE sentencepiece model on `texts` (normalised first); return the `.model` path.

    Deterministic: one thread, no sentence sampling/shuffling, character_coverage 1.0. Ids:
    0 <unk>, 1 <|pad|>, 2 <|eos|>, then the task tokens (user-defined symbols), then pieces.
    Raises ValueError when the texts cannot support `vocab_size` pieces.
    """
    import sentencepiece as spm

    sentences = [normalize_text(t) for t in texts]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise ValueError("train_sentencepiece: no non-empty text to train on")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_prefix=str(out_prefix),
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,
            num_threads=1,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            normalization_rule_name="identity",  # normalize_text already ran
            unk_id=0, pad_id=1, eos_id=2, bos_id=-1,
            pad_piece=PAD, eos_piece=EOS,
            user_defined_symbols=list(TASK_TOKENS),
            # Every printable ASCII character is in the alphabet even when the training transcripts
            # lack it (a held-out sentence with the only capital 'Q' must not become <unk>).
            required_chars=REQUIRED_CHARS,
            minloglevel=2,
        )
    except RuntimeError as exc:
        raise ValueError(f"train_sentencepiece(vocab_size={vocab_size}) failed: {exc}") from exc
    return out_prefix.with_suffix(".model")


class HFTextTokenizer(TextTokenizer):
    """A Hugging Face tokenizer (local directory) with our task tokens added as special tokens."""

    def __init__(self, path: str | Path, on_unknown: OnUnknown = "raise"):
        from transformers import AutoTokenizer

        super().__init__(on_unknown)
        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.tok.add_special_tokens({"extra_special_tokens": list(TASK_TOKENS)}, replace_extra_special_tokens=False)
        if self.tok.eos_token_id is None:
            self.tok.add_special_tokens({"eos_token": EOS})
        if self.tok.pad_token_id is None:
            self.tok.add_special_tokens({"pad_token": PAD})
        ids = self.tok.convert_tokens_to_ids(list(TASK_TOKENS))
        self.special = SpecialTokens(*ids, eos=self.tok.eos_token_id, pad=self.tok.pad_token_id)
        self.unk_id = self.tok.unk_token_id

    @property
    def vocab_size(self) -> int:
        return len(self.tok)

    def _encode_plain(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        return self.tok.decode([int(i) for i in ids], skip_special_tokens=skip_special)

    def save(self, directory: str | Path) -> Path:
        self.tok.save_pretrained(str(directory))
        return Path(directory)


def load_text_tokenizer(
    kind: Literal["hf", "sentencepiece"], path: str | Path, on_unknown: OnUnknown = "raise"
) -> TextTokenizer:
    """Build the tokenizer of `kind` from `path` (a .model file, or an HF tokenizer directory)."""
    if kind == "sentencepiece":
        return SentencePieceTextTokenizer(path, on_unknown)
    if kind == "hf":
        return HFTextTokenizer(path, on_unknown)
    raise ValueError(f"unknown text tokenizer kind {kind!r}; use 'hf' or 'sentencepiece'")
