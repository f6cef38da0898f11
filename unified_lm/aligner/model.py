"""CTCAligner: latents [T, D] -> per-frame character posteriors (CTC), and Viterbi forced alignment.

Units are the characters of `normalize_text(text)`, one per character (the text pointer's
`tts_units=chars`), labelled case-insensitively; characters outside CHARSET share one label, so
every text aligns. The latent frames are repeated `upsample` times before the network: at 25 Hz a
fast speaker says ~16 characters/s, and CTC needs a frame per unit plus one between repeats.

    conv(k=5) -> GELU -> conv(k=5) -> GELU -> BiGRU -> linear -> log-softmax over CHARSET + other + blank
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from unified_lm.text_tokenizer import normalize_text

CHARSET = " abcdefghijklmnopqrstuvwxyz0123456789',.?!-;:\""
OTHER = len(CHARSET)  # any other character
BLANK = len(CHARSET) + 1


def unit_labels(text: str) -> list[int]:
    """One label per character of normalize_text(text) (the TTS text units)."""
    return [CHARSET.index(c) if c in CHARSET else OTHER for c in normalize_text(text).lower()]


@dataclass
class AlignerConfig:
    latent_dim: int
    width: int = 192
    rnn: int = 128
    upsample: int = 2


class CTCAligner(nn.Module):
    CONFIG, WEIGHTS = "aligner.json", "aligner.safetensors"

    def __init__(self, cfg: AlignerConfig, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("std", std.float().clamp(min=1e-5).clone())
        self.conv = nn.Sequential(nn.Conv1d(cfg.latent_dim, cfg.width, 5, padding=2), nn.GELU(),
                                  nn.Conv1d(cfg.width, cfg.width, 5, padding=2), nn.GELU())
        self.rnn = nn.GRU(cfg.width, cfg.rnn, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * cfg.rnn, BLANK + 1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Raw latents [B, T, D] -> log-probabilities [B, T * upsample, BLANK + 1]."""
        x = ((latents - self.mean) / self.std).repeat_interleave(self.cfg.upsample, dim=1)
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.out(self.rnn(h)[0]).log_softmax(-1)

    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / self.CONFIG).write_text(json.dumps({**asdict(self.cfg), "charset": CHARSET}, indent=2))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / self.WEIGHTS))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "CTCAligner":
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / cls.CONFIG).is_file() or not (directory / cls.WEIGHTS).is_file():
            raise FileNotFoundError(f"{directory} is not an aligner directory ({cls.CONFIG} + {cls.WEIGHTS}); "
                                    "train one with `holitok-align train`")
        meta = json.loads((directory / cls.CONFIG).read_text())
        if meta.pop("charset") != CHARSET:
            raise ValueError(f"{directory}: the aligner was trained with another character set; retrain it")
        state = load_file(str(directory / cls.WEIGHTS))
        model = cls(AlignerConfig(**meta), state["mean"], state["std"])
        model.load_state_dict(state)
        return model.eval()


def forced_align(log_probs: np.ndarray, labels: list[int], blank: int = BLANK) -> list[int]:
    """Viterbi CTC alignment. log_probs [T, C], labels [L] -> the first frame of each label [L]
    (non-decreasing). Raises ValueError when T frames cannot hold the labels."""
    t_len, n = log_probs.shape[0], len(labels)
    if n == 0:
        return []
    states = np.full(2 * n + 1, blank)
    states[1::2] = labels
    emit = log_probs[:, states]  # [T, S]
    neg = -1e30
    skip = np.zeros(len(states), dtype=bool)  # s-2 -> s: a label differing from the one before
    skip[3::2] = states[3::2] != states[1:-2:2]
    score = np.full(len(states), neg)
    score[:2] = emit[0, :2]
    back = np.zeros((t_len, len(states)), dtype=np.int8)
    for t in range(1, t_len):
        options = np.stack([score, np.concatenate([[neg], score[:-1]]),
                            np.where(skip, np.concatenate([[neg, neg], score[:-2]]), neg)])  # [3, S]
        back[t] = options.argmax(0)
        score = options[back[t], np.arange(len(states))] + emit[t]
    last = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
    if score[last] < neg / 2:
        raise ValueError(f"{t_len} frames cannot hold {n} units under CTC (too short for its text)")
    path = np.zeros(t_len, dtype=np.int64)
    for t in range(t_len - 1, -1, -1):
        path[t] = last
        last -= int(back[t, last])
    starts = [-1] * n
    for t in range(t_len - 1, -1, -1):  # backwards: the first frame of each label wins
        if path[t] % 2:
            starts[path[t] // 2] = t
    return starts
