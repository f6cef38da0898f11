"""Load the public runtime's checkpoints (HoliTok-Base/Unite `model.pt`) into `HoliTok`.

The official file is a state dict, or {"model": state_dict}, keys maybe prefixed "module.", in
weight-norm form. Our module tree has the official names, so the only renaming is the weight-norm
parametrisation: `X.weight_g` -> `X.parametrizations.weight.original0` (magnitude) and
`X.weight_v` -> `X.parametrizations.weight.original1` (direction). Training-only tensors (flow
prior, supervision LM, distillation heads, quantiser) are counted and ignored; a key that is neither
in the inference graph nor under a known training-only prefix is an error, as is a missing key.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from holitok_tokenizer.config import TokenizerConfig, config_from_runtime
from holitok_tokenizer.model import HoliTok

# Prefixes of the runtime's training-only modules (SPEC.md section 5), matched after "module.".
TRAINING_PREFIXES = ("flow.", "supervise_net.", "wavlm_", "xvector_", "gq.", "quantizer.", "sid_", "mi_estimator.")
_WEIGHT_NORM_RENAMES = {".weight_g": ".parametrizations.weight.original0", ".weight_v": ".parametrizations.weight.original1"}


class ConversionError(ValueError):
    """An official checkpoint that does not fit the inference graph."""


@dataclass
class ConversionReport:
    loaded: int  # tensors loaded into the model
    ignored_by_prefix: dict[str, int] = field(default_factory=dict)  # training-only keys per prefix

    @property
    def ignored(self) -> int:
        return sum(self.ignored_by_prefix.values())

    def summary(self) -> str:
        parts = ", ".join(f"{p}*: {n}" for p, n in sorted(self.ignored_by_prefix.items())) or "none"
        return f"loaded {self.loaded} tensors; ignored {self.ignored} training-only keys ({parts})"


def official_to_ours(name: str) -> str:
    """Official runtime key -> our state-dict key (only the weight-norm suffixes change)."""
    for old, new in _WEIGHT_NORM_RENAMES.items():
        if name.endswith(old):
            return name[: -len(old)] + new
    return name


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Accept a raw state dict or {"model": state_dict}; strip a leading "module." from every key."""
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError("checkpoint is neither a state dict of tensors nor {'model': state_dict}")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def load_official_state_dict(model: HoliTok, state: Mapping[str, torch.Tensor]) -> ConversionReport:
    """Copy an official (weight-norm form) state dict into `model`, which must be in weight-norm form."""
    if not model.has_weight_norm:
        raise ConversionError("the target model must be in weight-norm form (HoliTok(cfg, weight_norm=True))")
    expected = model.state_dict()
    ours: dict[str, torch.Tensor] = {}
    ignored: Counter[str] = Counter()
    unknown = []
    for name, tensor in state.items():
        prefix = next((p for p in TRAINING_PREFIXES if name.startswith(p)), None)
        target = official_to_ours(name)
        if target in expected:
            ours[target] = tensor
        elif prefix is not None:
            ignored[prefix] += 1
        else:
            unknown.append(name)
    if unknown:
        raise ConversionError(f"{len(unknown)} keys are neither in the inference graph nor training-only: {sorted(unknown)[:20]}")
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise ConversionError(f"checkpoint lacks {len(missing)} tensors of the inference graph: {missing[:20]}")
    bad = [f"{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}" for k, v in ours.items() if v.shape != expected[k].shape]
    if bad:
        raise ConversionError(f"shape mismatch (is the config right?): {bad[:10]}")
    model.load_state_dict(ours, strict=True)
    return ConversionReport(loaded=len(ours), ignored_by_prefix=dict(ignored))


def _read_runtime_config(path: Path) -> dict[str, Any]:
    """The runtime's config.json as a dict, or a ConversionError naming the file."""
    if not path.is_file():
        raise ConversionError(f"{path}: runtime config does not exist; pass the config.json shipped with model.pt")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path}: runtime config is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: runtime config must hold a JSON object, got {type(data).__name__}")
    return data


def convert_official(
    checkpoint: str | Path | Mapping[str, Any], runtime_config: str | Path | Mapping[str, Any] | None = None
) -> tuple[HoliTok, ConversionReport]:
    """Official `model.pt` (path or loaded object) + runtime config json (path/dict; None = holitok-48k).

    Returns the model in weight-norm form (fold it for inference) and a report.
    """
    if isinstance(runtime_config, (str, Path)):
        runtime_config = _read_runtime_config(Path(runtime_config))
    config = TokenizerConfig.from_preset("holitok-48k") if runtime_config is None else config_from_runtime(runtime_config)
    if isinstance(checkpoint, (str, Path)):
        path = Path(checkpoint)
        if not path.is_file():
            raise ConversionError(f"{path}: checkpoint file does not exist")
        try:
            checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)  # untrusted file: tensors only
        except Exception as exc:  # pickle/zip/EOF errors of a corrupt or foreign file, or a non-tensor pickle
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConversionError(f"{path}: not a torch checkpoint ({reason}); pass the official model.pt") from exc
    state = unwrap_state_dict(checkpoint)
    with torch.device("meta"):  # every tensor comes from the checkpoint: skip the random init
        model = HoliTok(config, weight_norm=True)
    model = model.to_empty(device=next(iter(state.values())).device)
    report = load_official_state_dict(model, state)
    return model.eval(), report
