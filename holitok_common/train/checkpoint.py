"""Atomic, self-describing checkpoint directories with exact resume.

Layout of `<root>/step-000123/` (written as `step-000123.tmp/`, fsynced, then renamed, so a
directory without `.tmp` is always complete):

    <unit>.safetensors          full model weights of each train unit (never pickle)
    <unit>.optim.pt             optimizer + LR-scheduler state (torch.save; loaded weights_only=True)
    <unit>.deepspeed/           DeepSpeed's sharded engine state instead, for DeepSpeed units
    rng-rank00000.safetensors   python / numpy / torch-CPU / CUDA RNG states of each rank
    sampler-rank00000.json      each rank's data-sampler state (when the trainer records one)
    train_state.json            step, data position, world size, config (rank 0's view)
    config.yaml                 the resolved config (what `holitok-train` would need to rerun)

Multi-rank runs write into one directory, so multi-node training needs a shared filesystem.

Exact-resume guarantee: for a fixed world size, a run stopped after a checkpoint at step k and
resumed from it produces bit-identical losses (on CPU) to the uninterrupted run, provided the
trainer (1) restores RNG states last, after building models/optimizers/data, (2) gives its
DataLoader a private generator (iterating a DataLoader otherwise draws from the global RNG), and
(3) resumes the data stream at the recorded position (`DataPosition`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import torch
import torch.distributed as dist
import yaml
from safetensors.torch import load_file, save_file

from holitok_common.config import to_dict

STEP_DIR = re.compile(r"^step-(\d{6,})$")


class Unit(Protocol):
    """What a checkpoint needs from a train unit (see distributed.TorchUnit / DeepSpeedUnit)."""

    unwrapped: torch.nn.Module

    def weights(self) -> dict[str, torch.Tensor]: ...
    def save_state(self, directory: Path, name: str) -> None: ...
    def load_state(self, directory: Path, name: str) -> None: ...


@dataclass
class DataPosition:
    """Where the data stream stands: `batches` batches of epoch `epoch` were consumed."""

    epoch: int = 0
    batches: int = 0


@dataclass
class TrainState:
    """The JSON part of a checkpoint. `sampler` is this rank's sampler state_dict (saved per rank;
    `load_checkpoint` returns the loading rank's); `extra` is free-form trainer metadata."""

    step: int = 0
    data: DataPosition = field(default_factory=DataPosition)
    world_size: int = 1
    sampler: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def step_dir_name(step: int) -> str:
    return f"step-{step:06d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint directories under root, oldest first (`.tmp` dirs are ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found)]


def latest(root: str | Path) -> Path | None:
    """The newest complete checkpoint directory under root, or None."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON-serialisable in train state: {type(value).__name__}")


def _fsync_tree(path: Path) -> None:
    for item in sorted(path.rglob("*")):
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [*sorted(p for p in path.rglob("*") if p.is_dir()), path, path.parent]:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_checkpoint(
    root: str | Path,
    units: Mapping[str, Unit],
    state: TrainState,
    config: Any = None,
    keep_last: int = 3,
    export: Callable[[Path], None] | None = None,
) -> Path:
    """Write `<root>/step-XXXXXX/` atomically; a collective: every rank must call it.

    Rank 0 writes weights, JSON and config; every rank writes its RNG file and (DeepSpeed) shard.
    `export(tmp_dir)` (called on every rank) may add files, e.g. an inference-ready model folder.
    Afterwards only the newest `keep_last` checkpoints are kept (keep_last <= 0 keeps all).
    Returns the final directory.
    """
    rank, world = _rank_world()
    root = Path(root)
    final = root / step_dir_name(state.step)
    tmp = root / (final.name + ".tmp")
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)  # left over from a crash mid-write
        tmp.mkdir()
    _barrier()
    for name, unit in units.items():
        weights = unit.weights()  # collective under ZeRO-3
        if rank == 0:
            save_weights(weights, tmp / f"{name}.safetensors")
        unit.save_state(tmp, name)
    save_rng_state(tmp / f"rng-rank{rank:05d}.safetensors")
    if state.sampler is not None:  # each rank has its own shard of the data stream
        (tmp / f"sampler-rank{rank:05d}.json").write_text(json.dumps(state.sampler, default=_jsonable))
    if export is not None:
        export(tmp)
    if rank == 0:
        state.world_size = world
        payload = asdict(state)
        payload["config"] = to_dict(config) if config is not None else None
        (tmp / "train_state.json").write_text(json.dumps(payload, indent=1, default=_jsonable))
        if config is not None:
            (tmp / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    _barrier()
    if rank == 0:
        _fsync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if keep_last > 0:
            for old in list_checkpoints(root)[:-keep_last]:
                shutil.rmtree(old)
    _barrier()
    return final


def load_checkpoint(path: str | Path, units: Mapping[str, Unit], *, restore_rng: bool = True) -> TrainState:
    """Load weights and optimizer/scheduler states into `units`; optionally restore this rank's RNG.

    Call after models, optimizers and data are built, and set `restore_rng=False` if you will call
    `load_rng_state` yourself just before training resumes.
    """
    path = Path(path)
    if not (path / "train_state.json").is_file():
        raise FileNotFoundError(f"{path}: not a checkpoint directory (no train_state.json)")
    for name, unit in units.items():
        if not getattr(unit, "restores_weights", False):  # DeepSpeed units load their own shards
            unit.unwrapped.load_state_dict(load_weights(path / f"{name}.safetensors"), strict=True)
        unit.load_state(path, name)
    state = read_train_state(path)
    rank, _ = _rank_world()
    sampler_file = path / f"sampler-rank{rank:05d}.json"
    if sampler_file.is_file():
        state.sampler = json.loads(sampler_file.read_text())
    if restore_rng:
        load_rng_state(path)
    return state


def read_train_state(path: str | Path) -> TrainState:
    data = json.loads((Path(path) / "train_state.json").read_text())
    data.pop("config", None)
    data["data"] = DataPosition(**data["data"])
    return TrainState(**data)


def read_config_dict(path: str | Path) -> dict[str, Any] | None:
    """The config saved with a checkpoint, as a plain dict (rebuild with config.from_dict)."""
    return json.loads((Path(path) / "train_state.json").read_text()).get("config")


def save_weights(weights: Mapping[str, torch.Tensor], file: Path) -> None:
    """safetensors of a state dict; tied tensors (same storage, e.g. tied LM embeddings) are stored
    once and their other names recorded in the metadata ("aliases": name -> stored name)."""
    stored: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    for key, value in weights.items():
        ident = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
        if value.numel() and ident in seen:
            aliases[key] = seen[ident]
            continue
        seen[ident] = key
        stored[key] = value.detach().contiguous().cpu()
    save_file(stored, str(file), metadata={"format": "pt", "aliases": json.dumps(aliases)})


def load_weights(file: str | Path) -> dict[str, torch.Tensor]:
    """Inverse of `save_weights` (aliases restored as the same tensor)."""
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as fh:
        aliases = json.loads((fh.metadata() or {}).get("aliases", "{}"))
    weights = load_file(str(file))
    for key, target in aliases.items():
        weights[key] = weights[target]
    return weights


def save_rng_state(file: Path) -> None:
    """Python, numpy, torch-CPU (and every CUDA device's) RNG state as tensors in one safetensors."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    tensors = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "numpy": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
        "torch_cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    meta = {
        "python_version": str(py_version),
        "python_gauss": json.dumps(py_gauss),
        "numpy_name": np_name,
        "numpy_pos": str(int(np_pos)),
        "numpy_has_gauss": str(int(np_has_gauss)),
        "numpy_gauss": repr(float(np_gauss)),
    }
    save_file(tensors, str(file), metadata=meta)


def load_rng_state(path: str | Path) -> None:
    """Restore this rank's RNG states from a checkpoint directory (warns if this rank has none)."""
    from safetensors import safe_open

    rank, _ = _rank_world()
    file = Path(path) / f"rng-rank{rank:05d}.safetensors"
    if not file.is_file():
        warnings.warn(f"{file} missing (different world size?): RNG not restored; resume is not exact")
        return
    with safe_open(str(file), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    random.setstate((int(meta["python_version"]), tuple(tensors["python"].tolist()), json.loads(meta["python_gauss"])))
    np.random.set_state(
        (
            meta["numpy_name"],
            tensors["numpy"].numpy().astype(np.uint32),
            int(meta["numpy_pos"]),
            int(meta["numpy_has_gauss"]),
            float(meta["numpy_gauss"]),
        )
    )
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[f"cuda{i}"] for i in range(len(tensors)) if f"cuda{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
