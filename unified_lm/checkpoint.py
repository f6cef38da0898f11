"""Self-describing UnifiedLM checkpoint directories (STYLE principle 11).

    DIR/model.safetensors      every weight and buffer (tied tensors stored once; no pickle)
    DIR/config.json            the resolved UnifiedConfig (paths inside DIR stored relative to it)
    DIR/backbone/config.json   the backbone's HF config (the exact architecture, vocab resizes included)
    DIR/latent_stats.json      the latent normaliser's per-dim statistics
    DIR/text_tokenizer/        the text tokenizer's files (spm.model, or an HF tokenizer directory)
    DIR/meta.json              {"kind": "holitok-unified", "format_version": 1, "tokenizer_ref": ...,
                                "relative_paths": [...], "parameters": {...}}

`tokenizer_ref` names the HoliTok tokenizer whose latents the model was trained on (the model never
imports the tokenizer). Loading rebuilds the backbone from DIR/backbone (no hub, no original
pretrained path needed) and loads the weights strictly.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, Mapping, TYPE_CHECKING

import torch
from safetensors.torch import load_model, save_file

from holitok_common.config import from_dict, merge, to_dict
from unified_lm.config import UnifiedConfig
from unified_lm.text_tokenizer import load_text_tokenizer

if TYPE_CHECKING:
    from unified_lm.model import UnifiedLM

KIND = "holitok-unified"
FORMAT_VERSION = 1


def save_unified(model: "UnifiedLM", directory: str | Path,
                 state_dict: Mapping[str, torch.Tensor] | None = None) -> Path:
    """Write `model` into `directory` (created if needed); returns the directory.

    `state_dict` (default: the model's own) supplies the weights, e.g. full ones gathered from
    DeepSpeed ZeRO shards, whose live parameters are empty (ZeRO-3) or views of flat buffers.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_weights(model, d / "model.safetensors", state_dict)
    model.backbone.config.save_pretrained(str(d / "backbone"))
    model.latent_norm.save_stats_file(d / "latent_stats.json")
    changes: dict[str, Any] = {"latent_stats": "latent_stats.json"}
    relative = ["latent_stats"]
    if model.text_tokenizer is not None:
        saved = model.text_tokenizer.save(d / "text_tokenizer")
        changes["text_tokenizer"] = {"path": str(saved.relative_to(d))}
        relative.append("text_tokenizer.path")
    else:
        warnings.warn(f"saving {d} without a text tokenizer (none attached to the model)", stacklevel=3)
    if model.cfg.backbone.pretrained is not None:
        changes["backbone"] = {"pretrained": "backbone"}  # the weights now live in model.safetensors
        relative.append("backbone.pretrained")
    saved_cfg = merge(model.cfg, changes)  # not validated here: the relative paths resolve against d
    (d / "config.json").write_text(json.dumps(to_dict(saved_cfg), indent=2))
    meta = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tokenizer_ref": model.cfg.tokenizer_ref,
        "text_tokenizer": {"kind": model.cfg.text_tokenizer.kind, "path": changes.get("text_tokenizer", {}).get("path")},
        "relative_paths": relative,
        "parameters": dataclasses.asdict(model.num_parameters()),
    }
    (d / "meta.json").write_text(json.dumps(meta, indent=2))
    return d


def tied_names(model: torch.nn.Module) -> dict[str, str]:
    """{alias: kept name} for names of one shared Parameter/buffer object (tied LM embeddings).

    Found from the module structure, not from storage pointers, so it also holds for a gathered
    state dict whose tied entries are separate copies. The kept name is the alphabetically first,
    as `safetensors.torch.save_model` chooses, so files match those it wrote before.
    """
    groups: dict[int, list[str]] = {}
    for name, tensor in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        groups.setdefault(id(tensor), []).append(name)
    return {alias: min(names) for names in groups.values() for alias in names if alias != min(names)}


def save_weights(model: torch.nn.Module, file: Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> None:
    """safetensors of `state_dict` (default: the model's) with tied duplicates stored once, in
    `safetensors.torch.save_model`'s layout (metadata alias -> kept name), so `load_model` reads it."""
    state = dict(model.state_dict() if state_dict is None else state_dict)
    aliases = {alias: kept for alias, kept in tied_names(model).items() if alias in state and kept in state}
    for alias in aliases:
        del state[alias]
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(file), metadata={"format": "pt", **aliases})


def read_meta(directory: str | Path) -> dict[str, Any]:
    """meta.json of a UnifiedLM checkpoint; ValueError with a clear message for anything else."""
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"checkpoint directory {str(d)!r} does not exist")
    path = d / "meta.json"
    if not path.is_file():
        raise ValueError(f"{str(d)!r} is not a {KIND} checkpoint (no meta.json); write one with UnifiedLM.save_pretrained")
    meta = json.loads(path.read_text())
    if meta.get("kind") != KIND:
        raise ValueError(f"{str(d)!r} holds a {meta.get('kind')!r} checkpoint, not a {KIND!r} one")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{str(d)!r} has format_version {meta['format_version']}; this code reads <= {FORMAT_VERSION}")
    return meta


def load_unified(cls: type["UnifiedLM"], directory: str | Path) -> "UnifiedLM":
    """Rebuild and strictly load a checkpoint written by `save_unified`; returns it in eval mode."""
    d = Path(directory)
    meta = read_meta(d)
    data = json.loads((d / "config.json").read_text())
    for dotted in meta["relative_paths"]:
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        if node[leaf] is not None:
            node[leaf] = str(d / node[leaf])
    cfg = from_dict(UnifiedConfig, data)
    tok = None
    if cfg.text_tokenizer.path is not None:
        tok = load_text_tokenizer(cfg.text_tokenizer.kind, cfg.text_tokenizer.path, cfg.text_tokenizer.on_unknown)
    model = cls.from_config(cfg, tok, hf_config_dir=d / "backbone")
    load_model(model, str(d / "model.safetensors"), strict=True)
    return model.eval()
