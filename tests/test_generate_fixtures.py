"""Tiny random models shared by the generation tests (tests/test_generate_*.py, test_cli_tts_asr*.py).

`tiny_lm` is the `tiny` UnifiedLM preset with 32-dim latents (the tiny HoliTok's) and a
sentencepiece tokenizer trained here, with its zero-initialised parts randomised: a fresh DiT
head predicts velocity 0 (its samples would be the noise itself, blind to the condition) and a
fresh latent normaliser is the identity, which would hide exactly the bugs these tests look for.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from holitok_tokenizer.model import HoliTok
from unified_lm.model import UnifiedLM
from unified_lm.text_tokenizer import SentencePieceTextTokenizer, train_sentencepiece

WORDS = ("the cat dog bird man woman child river house tree sees likes reads finds wants hears builds "
         "carries follows red green quiet long small old new two three today again slowly near park lunch "
         "morning night water letter apples books ball friend teacher brother sister").split()


def sentences(n: int = 300, seed: int = 0) -> list[str]:
    r = random.Random(seed)
    return [" ".join(r.choice(WORDS) for _ in range(r.randint(3, 9))).capitalize() + "." for _ in range(n)]


def tiny_text_tokenizer(directory: Path) -> SentencePieceTextTokenizer:
    return SentencePieceTextTokenizer(train_sentencepiece(sentences(), Path(directory) / "spm", 256))


@torch.no_grad()
def randomise_(model: UnifiedLM, seed: int = 0) -> UnifiedLM:
    """Give the zero-initialised DiT (and voice) parameters random values and the latent normaliser random stats."""
    g = torch.Generator().manual_seed(seed)
    voice = [] if model.voice is None else list(model.voice.parameters())
    for p in [*model.head.parameters(), *voice]:
        if not p.any():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    d = model.cfg.latent_dim
    model.latent_norm.load_stats({"mean": (0.1 * torch.randn(d, generator=g)).tolist(),
                                  "std": (0.5 + torch.rand(d, generator=g)).tolist(), "count": 1})
    return model


def tiny_lm(directory: Path, seed: int = 0, latent_dim: int = 32, **overrides) -> UnifiedLM:
    torch.manual_seed(seed)
    model = UnifiedLM.from_preset("tiny", tiny_text_tokenizer(directory), latent_dim=latent_dim, **overrides)
    return randomise_(model, seed).eval()


def save_cli_models(root: Path) -> Path:
    """A tiny HoliTok (root/tok) and a tiny unified model referencing it (root/model, returned): what
    the CLI tests point `--model` at."""
    tiny_holitok().save_pretrained(root / "tok")
    model = tiny_lm(root / "spm", backbone={"tie_word_embeddings": False})
    model.cfg.tokenizer_ref = str(root / "tok")
    # as a trained model records it (text_tokenizer.seen_chars): here every printable ASCII character
    model.cfg.text_tokenizer.seen_chars = "".join(chr(c) for c in range(32, 127))
    model.save_pretrained(root / "model")
    return root / "model"


def tiny_holitok(seed: int = 0, **overrides) -> HoliTok:
    torch.manual_seed(seed)
    if overrides:
        from holitok_common.config import merge
        from holitok_tokenizer.config import TokenizerConfig

        return HoliTok(merge(TokenizerConfig.from_preset("tiny"), overrides)).fold_weight_norm().eval()
    return HoliTok.from_preset("tiny").fold_weight_norm().eval()


def test_fixtures_build(tmp_path):
    model, tok = tiny_lm(tmp_path), tiny_holitok()
    assert model.cfg.latent_dim == tok.latent_dim == 32 and model.cfg.frame_rate == tok.frame_rate
    assert model.head.final.linear.weight.any() if hasattr(model.head.final, "linear") else True
