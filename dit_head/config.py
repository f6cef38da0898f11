"""DiTConfig: the flow-matching head's typed config and its named presets.

A plain dataclass (torch-free, holitok_common-free) so that `holitok_common.config` can load it
from YAML/overrides like any other config; `validate()` is the one place constraints are checked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable


@dataclass
class DiTConfig:
    """Hyper-parameters of the per-step DiT flow head (see dit_head/README.md).

    Sizes are in latent frames (25 Hz) and channels; a patch is `patch_size` consecutive frames.
    """

    latent_dim: int = 128  # D, channels of one latent frame
    patch_size: int = 4  # P, frames per patch (the LM runs at 25/P Hz on audio)
    cond_dim: int = 896  # C, backbone hidden size (the unified model sets it)
    width: int = 1024  # transformer width of the head
    depth: int = 18  # number of DiT blocks
    heads: int = 16  # attention heads (width % heads == 0)
    ffn: int = 4096  # hidden size of each block's MLP
    history_patches: int = 2  # K: the head also attends to the last K clean patches (0 = off)
    cond_dropout: float = 0.1  # P(replace the condition by the learned null), training only (CFG)
    time_mean: float = 0.0  # logit-normal time sampling: t = sigmoid(N(time_mean, time_std^2))
    time_std: float = 1.0
    batch_mul: int = 4  # (noise, t) draws per target in the loss (MAR's diffusion_batch_mul)

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix when the config cannot build a head."""
        positive = ("latent_dim", "patch_size", "cond_dim", "width", "depth", "heads", "ffn", "batch_mul")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"DiTConfig.{name} must be a positive integer, got {value!r}")
        if self.width % self.heads != 0:
            raise ValueError(
                f"DiTConfig.width ({self.width}) must be divisible by heads ({self.heads}); "
                f"pick heads among the divisors of width"
            )
        if (self.width // self.heads) % 2 != 0:
            raise ValueError(f"DiTConfig head dim width/heads = {self.width // self.heads} must be even")
        if self.width < self.latent_dim:
            # Each frame's noise must pass through a width-sized token to be predicted: a narrower
            # head has an irreducible loss (measured: a width-64 head on 128-dim latents stalls).
            raise ValueError(
                f"DiTConfig.width ({self.width}) must be >= latent_dim ({self.latent_dim}); "
                f"a narrower head cannot carry the per-frame noise it has to predict"
            )
        if self.history_patches < 0:
            raise ValueError(f"DiTConfig.history_patches must be >= 0 (0 = off), got {self.history_patches}")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ValueError(f"DiTConfig.cond_dropout is a probability in [0, 1), got {self.cond_dropout}")
        if self.time_std <= 0.0:
            raise ValueError(f"DiTConfig.time_std must be > 0 (logit-normal std), got {self.time_std}")

    @property
    def window(self) -> int:
        """Tokens the head attends over: K*P history frames + P current frames."""
        return (self.history_patches + 1) * self.patch_size

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "DiTConfig":
        """Build and validate a named preset, optionally replacing some fields."""
        if name not in PRESETS:
            raise ValueError(f"unknown DiT preset {name!r}; known presets: {sorted(PRESETS)}")
        cfg = dataclasses.replace(PRESETS[name](), **overrides)
        cfg.validate()
        return cfg


def tiny() -> DiTConfig:
    """A sub-million-parameter head for tests and CPU smoke runs (width = latent_dim, see validate)."""
    return DiTConfig(cond_dim=64, width=128, depth=2, heads=4, ffn=512)


def paper() -> DiTConfig:
    """The paper's head: 18 layers, width 1024, FFN 4096 (~345M parameters with cond_dim 896)."""
    return DiTConfig(cond_dim=896, width=1024, depth=18, heads=16, ffn=4096)


# Name -> function returning a fresh config (the shape `holitok_common.config.load_config` expects).
PRESETS: dict[str, Callable[[], DiTConfig]] = {"tiny": tiny, "paper": paper}
