"""The unified model as a train unit whose checkpoints describe themselves, and init-from-checkpoint.

A training checkpoint (holitok_common.train.checkpoint) of this trainer looks like

    <exp>/checkpoints/step-000200/
        model/                      UnifiedLM.save_pretrained: model.safetensors, config.json,
                                    backbone/, latent_stats.json, text_tokenizer/, meta.json
        model.optim.pt | model.deepspeed/   optimizer + LR scheduler (or DeepSpeed's shards)
        model.safetensors           empty: the weights live once, in model/ (no 2x disk at 0.9B)
        rng-rank*.safetensors, train_state.json, config.yaml

`model/` is written inside the checkpoint's `.tmp` directory, so it is atomic with the rest, and it
loads on its own with `UnifiedLM.from_pretrained(step_dir / "model")` (holitok-tts / holitok-asr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file, load_model

from holitok_common.train.checkpoint import latest
from unified_lm.model import UnifiedLM

EXPORT_DIR = "model"


class UnifiedUnit:
    """Wraps a holitok_common TorchUnit / DeepSpeedUnit; adds the `model/` export to its state."""

    restores_weights = True  # load_state() loads model/model.safetensors (or DeepSpeed's shards)

    def __init__(self, inner: Any, is_main: bool):
        self.inner, self.is_main = inner, is_main
        self.module, self.unwrapped = inner.module, inner.unwrapped

    def backward(self, loss: torch.Tensor) -> None:
        self.inner.backward(loss)

    def step(self) -> torch.Tensor:
        return self.inner.step()

    def lr(self) -> float:
        return self.inner.lr()

    def weights(self) -> dict[str, torch.Tensor]:
        return {}

    def save_state(self, directory: Path, name: str) -> None:
        # Under DeepSpeed the live parameters are views of flat buffers (ZeRO-1/2) or empty shards
        # (ZeRO-3): save the full weights instead (gathered from all ranks under ZeRO-3: a
        # collective). save_pretrained stores tied parameters once, found from the module structure.
        deepspeed = getattr(self.inner, "engine", None) is not None
        full = self.inner.weights() if deepspeed else None
        if self.is_main:
            self.unwrapped.save_pretrained(Path(directory) / EXPORT_DIR, state_dict=full)
        self.inner.save_state(directory, name)

    def load_state(self, directory: Path, name: str) -> None:
        if not getattr(self.inner, "restores_weights", False):
            load_model(self.unwrapped, str(Path(directory) / EXPORT_DIR / "model.safetensors"), strict=True)
        self.inner.load_state(directory, name)


def resolve_model_dir(path: str | Path) -> Path:
    """A save_pretrained directory from: itself, a step checkpoint, a checkpoints root, or a run dir."""
    path = Path(path)
    for candidate in (path, path / EXPORT_DIR):
        if (candidate / "meta.json").is_file():
            return candidate
    for root in (path, path / "checkpoints"):
        newest = latest(root)
        if newest is not None and (newest / EXPORT_DIR / "meta.json").is_file():
            return newest / EXPORT_DIR
    raise FileNotFoundError(f"init.checkpoint {str(path)!r}: no UnifiedLM checkpoint found (expected a save_pretrained "
                            "directory, a step-XXXXXX checkpoint with model/, or a run directory with checkpoints/)")


@torch.no_grad()
def init_from_checkpoint(model: UnifiedLM, path: str | Path, parts: Sequence[str]) -> list[str]:
    """Copy the parameters whose names start with one of `parts` (or all, for ["all"]) from a
    previous run; returns the names copied. Shapes must match; a part matching nothing fails."""
    source = load_file(str(resolve_model_dir(path) / "model.safetensors"))
    own = model.state_dict()
    prefixes = [""] if list(parts) == ["all"] else [p.rstrip(".") + "." for p in parts]
    for prefix in prefixes:
        if prefix and not any(k.startswith(prefix) for k in own):
            raise ValueError(f"init.parts: the model has no parameters under {prefix[:-1]!r}; "
                             f"top-level parts: {sorted({k.split('.')[0] for k in own})} (a part switched off in the "
                             f"model config, e.g. model.voice.enabled=false, must leave init.parts too)")
    chosen = {k: v for k, v in source.items() if k in own and any(k.startswith(p) for p in prefixes)}
    shared = {own[k].data_ptr() for k in chosen}
    missing = [k for k in own if any(k.startswith(p) for p in prefixes) and k not in chosen
               and own[k].data_ptr() not in shared]  # tied aliases are stored once by save_pretrained
    if missing:
        raise ValueError(f"init.checkpoint {str(path)!r} lacks {len(missing)} parameter(s) of the chosen parts, "
                         f"e.g. {missing[:3]}: it was trained with a different architecture")
    for key, value in chosen.items():
        if own[key].shape != value.shape:
            raise ValueError(f"init.checkpoint: {key} has shape {tuple(value.shape)} there, {tuple(own[key].shape)} here")
    model.load_state_dict(chosen, strict=False)
    return sorted(chosen)
