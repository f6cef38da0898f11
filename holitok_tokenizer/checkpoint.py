"""Self-describing checkpoint directories: model.safetensors + config.json + meta.json.

config.json is our resolved `TokenizerConfig` (`to_dict`); meta.json holds
{"kind": "holitok-tokenizer", "format_version": 1, "weight_norm": bool, "sample_rate", "hop",
"frame_rate", "latent_dim", "num_values", ...extra}. `weight_norm` records which form the tensors
are in (weight-norm parametrisation or folded plain weights); loading can return either form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from holitok_common.config import ConfigError, from_dict, to_dict
from holitok_tokenizer.config import TokenizerConfig

if TYPE_CHECKING:
    from holitok_tokenizer.model import HoliTok

KIND = "holitok-tokenizer"
FORMAT_VERSION = 1
WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "meta.json"


class CheckpointError(ValueError):
    """A checkpoint directory that is missing, of another kind, or inconsistent."""


def num_state_values(model: torch.nn.Module) -> int:
    """Numbers in the state dict (parameters + persistent buffers such as the AMP filters)."""
    return sum(t.numel() for t in model.state_dict().values())


def save_pretrained(model: "HoliTok", directory: str | Path, extra_meta: dict | None = None) -> Path:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "weight_norm": model.has_weight_norm,
        "sample_rate": model.sample_rate,
        "hop": model.hop,
        "frame_rate": model.frame_rate,
        "latent_dim": model.latent_dim,
        "num_values": num_state_values(model),
        **(extra_meta or {}),
    }
    save_file(state, str(directory / WEIGHTS), metadata={"format": "pt"})
    (directory / CONFIG).write_text(json.dumps(to_dict(model.config), indent=1) + "\n")
    (directory / META).write_text(json.dumps(meta, indent=1) + "\n")
    return directory


def read_meta(directory: str | Path) -> dict:
    """meta.json of a tokenizer checkpoint directory, checked for kind and version."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: tokenizer checkpoint directory does not exist")
    missing = [name for name in (WEIGHTS, CONFIG, META) if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{directory}: not a tokenizer checkpoint, missing {missing}; write one with HoliTok.save_pretrained "
            "or `holitok-tokenizer convert-official`"
        )
    meta = json.loads((directory / META).read_text())
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{directory}: meta.json kind is {meta.get('kind')!r}, expected {KIND!r}")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{directory}: format_version {meta.get('format_version')!r} is not supported (this code reads <= {FORMAT_VERSION})"
        )
    return meta


def load_pretrained(cls: type["HoliTok"], directory: str | Path, weight_norm: bool = False) -> "HoliTok":
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_meta(directory)
    try:
        config = from_dict(TokenizerConfig, json.loads((directory / CONFIG).read_text()))
    except ConfigError as exc:
        raise CheckpointError(f"{directory / CONFIG}: {exc}") from exc
    model = cls(config, weight_norm=bool(meta.get("weight_norm", False)))
    state = load_file(str(directory / WEIGHTS))
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"{directory / WEIGHTS} does not match its config: {exc}") from exc
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{directory / WEIGHTS} does not match its config: missing {result.missing_keys[:10]}, "
            f"unexpected {result.unexpected_keys[:10]}"
        )
    if weight_norm:
        model.apply_weight_norm()
    else:
        model.fold_weight_norm()
    return model.eval()
