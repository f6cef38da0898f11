"""Text tokenizers: deterministic sentencepiece training, special ids, normalisation, and a clear
report of characters the tokenizer cannot encode. The HF tokenizer is built locally (no hub).

`make_sentences`, `train_tiny_sentencepiece` and `save_tiny_hf_tokenizer` are reused by the
other test_unified_* files.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from unified_lm.text_tokenizer import (
    TASK_TOKENS, HFTextTokenizer, SentencePieceTextTokenizer, UnencodableTextError, load_text_tokenizer,
    normalize_text, train_sentencepiece,
)

SUBJECTS = "the cat|a dog|my friend|the old man|our teacher|a small bird|the children|her brother".split("|")
VERBS = "sees|likes|reads|finds|wants|paints|hears|builds|carries|follows".split("|")
OBJECTS = "a red ball|the green house|two books|some water|the quiet river|a long letter|three apples".split("|")
TAILS = "today|at night|in the morning|very slowly|with joy|again|near the park|before lunch".split("|")


def make_sentences(n: int = 200, seed: int = 0) -> list[str]:
    """n generated English sentences (deterministic in `seed`)."""
    r = random.Random(seed)
    return [f"{r.choice(SUBJECTS).capitalize()} {r.choice(VERBS)} {r.choice(OBJECTS)} {r.choice(TAILS)}."
            for _ in range(n)]


def train_tiny_sentencepiece(directory: Path, vocab_size: int = 256) -> Path:
    return train_sentencepiece(make_sentences(), directory / "spm", vocab_size)


def save_tiny_hf_tokenizer(directory: Path) -> Path:
    """A small byte-free BPE HF tokenizer (has <unk>) saved with save_pretrained into `directory`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer, tk.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tk.train_from_iterator(make_sentences(), trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<unk>", "<|endoftext|>"], show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<|endoftext|>").save_pretrained(str(directory))
    return directory


def test_sentencepiece_training_is_deterministic(tmp_path):
    tok = SentencePieceTextTokenizer(train_tiny_sentencepiece(tmp_path / "a"))
    again = SentencePieceTextTokenizer(train_tiny_sentencepiece(tmp_path / "b"))

    def pieces(t):  # (the .model bytes differ only in the recorded model_prefix path)
        return [(t.sp.id_to_piece(i), t.sp.get_score(i)) for i in range(t.vocab_size)]

    assert pieces(tok) == pieces(again)
    assert tok.vocab_size == 256
    # fixed layout: <unk> 0, <|pad|> 1, <|eos|> 2, then the task tokens in order
    assert (tok.unk_id, tok.special.pad, tok.special.eos) == (0, 1, 2)
    assert [tok.special.tts, tok.special.asr, tok.special.audio_start, tok.special.audio_end,
            tok.special.text_start] == [3, 4, 5, 6, 7]


def test_sentencepiece_roundtrip_and_normalisation(tmp_path):
    tok = load_text_tokenizer("sentencepiece", train_tiny_sentencepiece(tmp_path))
    text = "The cat reads two books today."
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert not set(ids) & tok.special.all_ids()
    # NFKC (full-width letters), control characters dropped, whitespace collapsed
    assert normalize_text("  The\tcat\u0007  ｒｅａｄｓ\n") == "The cat reads"
    assert tok.encode("The\tcat\u200b  reads") == tok.encode("The cat reads")
    assert tok.decode([tok.special.tts, *ids, tok.special.eos], skip_special=False).startswith("<|tts|>")


def test_unencodable_characters_are_reported(tmp_path):
    tok = SentencePieceTextTokenizer(train_tiny_sentencepiece(tmp_path))
    with pytest.raises(UnencodableTextError) as info:
        tok.encode("The cat sees Zoë 好 again")
    assert info.value.chars == ["ë", "好"]  # 'Z' is absent from training but every printable ASCII char is required
    assert "U+597D" in str(info.value) and "on_unknown=unk" in str(info.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = tok.encode("The cat sees 好", on_unknown="unk")
    assert tok.unk_id in ids and any("U+597D" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="reserved special-token"):
        tok.encode("say <|tts|> now")


def test_sentencepiece_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_sentencepiece"):
        SentencePieceTextTokenizer(tmp_path / "missing.model")
    with pytest.raises(ValueError, match="vocab_size=100000"):
        train_sentencepiece(make_sentences(20), tmp_path / "big", 100000)


def test_hf_tokenizer_gets_special_tokens(tmp_path):
    tok = HFTextTokenizer(save_tiny_hf_tokenizer(tmp_path / "hf"))
    ids = tok.tok.convert_tokens_to_ids(list(TASK_TOKENS))
    assert [tok.special.tts, tok.special.asr, tok.special.audio_start, tok.special.audio_end,
            tok.special.text_start] == ids
    assert tok.special.eos == tok.tok.convert_tokens_to_ids("<|endoftext|>")  # the model's own eos
    assert tok.special.pad == tok.tok.convert_tokens_to_ids("<|pad|>")  # added: it had none
    assert tok.vocab_size == len(tok.tok) and max(tok.special.all_ids()) < tok.vocab_size
    text = "the cat sees a red ball"
    assert tok.decode(tok.encode(text)) == text
    with pytest.raises(UnencodableTextError) as info:
        tok.encode("the zebra")
    assert info.value.chars == ["z"]
    # saved and reloaded: same ids for everything
    again = HFTextTokenizer(tok.save(tmp_path / "saved"))
    assert again.special == tok.special and again.encode(text) == tok.encode(text)


def test_character_units_for_tts(tmp_path):
    tok = SentencePieceTextTokenizer(train_tiny_sentencepiece(tmp_path))
    text = "The cat reads, Zed!"
    ids = tok.encode(text, units="chars")
    assert len(ids) == len(text) and tok.unk_id not in ids  # every printable ASCII char is a piece
    assert tok.decode(ids) == text
    assert len(tok.encode(text)) < len(ids)  # tokens merge characters
    assert tok.encode("The\tcat ", units="chars") == tok.encode("The cat", units="chars")  # normalised first
    with pytest.raises(UnencodableTextError) as info:
        tok.encode("Zoë", units="chars")
    assert info.value.chars == ["ë"]
    with pytest.raises(ValueError, match="tokens' or 'chars"):
        tok.encode(text, units="words")
    hf = HFTextTokenizer(save_tiny_hf_tokenizer(tmp_path / "hf"))
    with pytest.raises(ValueError, match="sentencepiece"):
        hf.encode("the cat", units="chars")
