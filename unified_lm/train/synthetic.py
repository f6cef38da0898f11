"""A fake latent corpus in the exact `holitok-tokenizer extract` layout, for tests and smoke runs.

    D/<split>/latents/<cut_id>.npy, D/<split>/cuts_with_latents.jsonl.gz, D/<split>/latent_stats.json

The latents are LEARNABLE, not noise: each character of the transcript becomes `frames_per_char`
frames of a fixed random vector for that character, plus a per-speaker offset and a little noise.
So ASR can learn to read the text back and TTS can learn to produce it, and a smoke run shows
falling losses within minutes. The exact character alignment is known and written as each cut's
`unit_starts` (what `holitok-align extract` writes for real data; the TTS text pointer reads it). No audio exists: the cuts' recordings point at absent files.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import numpy as np

from holitok_common.audio import AudioInfo
from holitok_common.data.manifests import make_cut, save_cuts

ALPHABET = string.ascii_lowercase + " "


def fake_sentences(n: int, seed: int, words: int = 60) -> list[str]:
    """n sentences of 2-5 words from a seeded lexicon of `words` consonant-vowel words."""
    rng = random.Random(seed)
    lexicon = sorted({"".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(1, 3)))
                      for _ in range(words * 2)})[:words]
    return [" ".join(rng.choice(lexicon) for _ in range(rng.randint(2, 5))) for _ in range(n)]


def text_latents(text: str, speaker: int, table: np.ndarray, rng: np.random.Generator,
                 frames_per_char: int) -> np.ndarray:
    """[len(text) * frames_per_char, D] float32: character vectors + speaker offset + noise."""
    ids = [ALPHABET.index(c) for c in text]
    frames = np.repeat(table[ids], frames_per_char, axis=0)  # [T, D]
    offset = 0.3 * np.sin(np.arange(table.shape[1]) * (speaker + 1))  # [D]
    return (frames + offset + 0.05 * rng.standard_normal(frames.shape)).astype(np.float32)


def write_fake_split(out_dir: str | Path, texts: list[str], speakers: int, seed: int, latent_dim: int = 32,
                     frames_per_char: int = 2, split: str = "train") -> Path:
    """Write one split (latents, manifest, stats); returns the manifest path."""
    out = Path(out_dir)
    (out / "latents").mkdir(parents=True, exist_ok=True)
    table = np.random.default_rng(1234).standard_normal((len(ALPHABET), latent_dim))  # shared by all splits
    rng = np.random.default_rng(seed)
    cuts, total, total_sq, count = [], np.zeros(latent_dim), np.zeros(latent_dim), 0
    for i, text in enumerate(texts):
        speaker = i % speakers
        latents = text_latents(text, speaker, table, rng, frames_per_char)
        cut_id = f"{split}-{i:05d}"
        path = (out / "latents" / f"{cut_id}.npy").resolve()
        np.save(path, latents)
        total, total_sq, count = total + latents.sum(0), total_sq + (latents.astype(np.float64) ** 2).sum(0), count + len(latents)
        info = AudioInfo(sample_rate=16000, channels=1, num_samples=len(latents) * 640)  # 25 Hz frames
        cuts.append(make_cut(cut_id, f"audio/{cut_id}.flac", info, text, f"spk{speaker}",
                             custom={"split": split, "latents_path": str(path), "num_frames": len(latents),
                                     "unit_starts": list(range(0, len(latents), frames_per_char))}))
    manifest = save_cuts(cuts, out / "cuts_with_latents.jsonl.gz")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-8))
    stats = {"mean": mean.tolist(), "std": std.tolist(), "count": count, "latent_dim": latent_dim, "frame_rate": 25.0}
    (out / "latent_stats.json").write_text(json.dumps(stats))
    return manifest


def write_fake_corpus(root: str | Path, num_train: int = 96, num_dev: int = 16, speakers: int = 4,
                      seed: int = 0, latent_dim: int = 32) -> dict[str, Path]:
    """train / dev / test splits under root; returns {"train": manifest, ..., "stats": train stats}."""
    root = Path(root)
    texts = fake_sentences(num_train + 2 * num_dev, seed)
    splits = {"train": texts[:num_train], "dev": texts[num_train:num_train + num_dev],
              "test": texts[num_train + num_dev:]}
    paths = {name: write_fake_split(root / name, t, speakers, seed + k, latent_dim, split=name)
             for k, (name, t) in enumerate(splits.items())}
    paths["stats"] = root / "train" / "latent_stats.json"
    return paths
