"""One place that sets up a training run: process group, device, precision, DDP or DeepSpeed.

Launchers: a plain `python ...` (single process), `torchrun --nproc_per_node N [--nnodes M
--node_rank R --master_addr A --master_port P]` and the `deepspeed` launcher all export RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; accelerate's `Accelerator` reads them, so
multi-node needs nothing beyond the launcher's env vars. On CPU, accelerate skips process-group
init unless asked: `InitProcessGroupKwargs(backend="gloo")` (TOOLCHAIN.md).

Precision: `mixed_precision` "auto" is bf16 autocast on CUDA and fp32 on CPU (CPU runs stay
bit-reproducible across machines); "bf16" also autocasts on a CPU with native bf16 (AVX-512 BF16 /
AMX: the tiny tokenizer's training step runs ~1.7x faster, bench/bench_cpu_bf16.py), single-process
or DDP only; "no" is fp32 everywhere.

Units: everything a trainer optimizes is wrapped in a `TrainUnit` (module + optimizer + scheduler)
with one interface: `module(...)`, `backward(loss)`, `step() -> grad norm`, `save_state(dir)`,
`load_state(dir)`. `TorchUnit` is single-process or DDP (via accelerate); `DeepSpeedUnit` is a
DeepSpeed ZeRO-1/2/3 engine.

GANs under DeepSpeed: the generator (large: 181M params + AdamW state) is a DeepSpeed engine;
the discriminator (small) is a plain DDP `TorchUnit` with its own optimizer. Two DeepSpeed engines
would each install gradient hooks on their parameters; the generator loss back-propagates through
the discriminator, whose ZeRO-partitioned gradients would then be reduced into the wrong step
(and under ZeRO-3 its parameters would need gathering inside the generator's backward). With a DDP
discriminator the trainer simply freezes it (`requires_grad_(False)`) during the generator step,
exactly as in single-process GAN training, and ZeRO still shards the part that dominates memory.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import torch
import torch.distributed as dist

from holitok_common.config import ConfigError


@dataclass
class DistributedConfig:
    """zero_stage 0 = no DeepSpeed (DDP when WORLD_SIZE > 1); 1/2/3 = DeepSpeed ZeRO stage.

    Bucket sizes are in elements (DeepSpeed's unit). `torch_adam` uses torch's AdamW inside
    DeepSpeed instead of its JIT-compiled fused/CPU Adam (no compiler needed; required on CPU).
    """

    zero_stage: int = 0
    offload_optimizer: bool = False
    offload_params: bool = False
    gradient_clipping: float = 1.0
    reduce_bucket_size: int = 50_000_000
    allgather_bucket_size: int = 50_000_000
    mixed_precision: Literal["auto", "no", "bf16"] = "auto"
    torch_adam: bool = True
    find_unused_parameters: bool = False

    def validate(self) -> None:
        if self.zero_stage not in (0, 1, 2, 3):
            raise ConfigError(f"distributed.zero_stage must be 0 (off), 1, 2 or 3, got {self.zero_stage}")
        if self.offload_params and self.zero_stage != 3:
            raise ConfigError("distributed.offload_params needs zero_stage=3")
        if self.offload_optimizer and self.zero_stage == 0:
            raise ConfigError("distributed.offload_optimizer needs zero_stage 1, 2 or 3")
        if self.gradient_clipping < 0:
            raise ConfigError(f"distributed.gradient_clipping must be >= 0 (0 = off), got {self.gradient_clipping}")


@dataclass
class Runtime:
    """What the entry point decided once: device, ranks, precision, and the accelerator."""

    cfg: DistributedConfig
    accelerator: Any
    device: torch.device
    rank: int
    local_rank: int
    world_size: int
    bf16: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def uses_deepspeed(self) -> bool:
        return self.cfg.zero_stage > 0

    def barrier(self) -> None:
        if dist.is_available() and dist.is_initialized():
            dist.barrier()

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast when the run uses bf16 (CUDA, or an opted-in CPU); a no-op otherwise."""
        if self.bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def all_mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of a tensor over ranks (for logging)."""
        if self.world_size == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.world_size


def setup_runtime(cfg: DistributedConfig, *, cpu: bool = False) -> Runtime:
    """Create the accelerate `Accelerator` (and the process group) for this process.

    cpu=True forces CPU even where CUDA exists (tests). The process group uses NCCL on CUDA and
    gloo on CPU: the launcher's group when WORLD_SIZE > 1, a 1-rank in-memory one for DeepSpeed
    without a launcher, none for a single-process non-DeepSpeed run. Call once per process, before
    building models.
    """
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    use_cuda = torch.cuda.is_available() and not cpu
    bf16 = (use_cuda and cfg.mixed_precision == "auto") or cfg.mixed_precision == "bf16"
    if bf16 and not use_cuda:
        check_cpu_bf16(cfg)
    backend = "nccl" if use_cuda else "gloo"
    distributed = local_env()["WORLD_SIZE"] > 1
    if not distributed and cfg.zero_stage > 0:
        _single_process_group(backend)
    # The backend is named only under a launcher: accelerate 1.15, given InitProcessGroupKwargs,
    # reads the default group's world size, and without RANK/WORLD_SIZE it never creates one.
    handlers = [InitProcessGroupKwargs(backend=backend)] if distributed else []
    accelerator = Accelerator(cpu=not use_cuda, mixed_precision="no", kwargs_handlers=handlers)
    # Autocast is applied by the trainer (Runtime.autocast) rather than by accelerate, so that
    # DeepSpeed engines and DDP modules see the same precision policy.
    state = accelerator.state
    return Runtime(
        cfg=cfg,
        accelerator=accelerator,
        device=accelerator.device,
        rank=state.process_index,
        local_rank=state.local_process_index,
        world_size=state.num_processes,
        bf16=bf16,
    )


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 matmuls/convs natively on this CPU (AVX-512 BF16 or AMX)."""
    # oneDNN's own bf16 flag is also true on AVX-512 CPUs without BF16 instructions, where it emulates
    # bf16 (slower than fp32): ask for the instructions themselves.
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def check_cpu_bf16(cfg: DistributedConfig) -> None:
    """Refuse CPU bf16 autocast where it would be slow (no native bf16) or untested (DeepSpeed)."""
    if not cpu_has_native_bf16():
        raise ConfigError("distributed.mixed_precision=bf16 on this CPU: it has no native bf16 (AVX-512 BF16 / AMX), "
                          "so bf16 would be emulated and slower; use 'auto' (fp32 on CPU)")
    if cfg.zero_stage > 0:
        raise ConfigError("distributed.mixed_precision=bf16 on CPU is for single-process or DDP runs; DeepSpeed on "
                          "CPU trains in fp32: use mixed_precision=auto with zero_stage>0, or zero_stage=0")


def _single_process_group(backend: str) -> None:
    """A 1-rank process group on an in-memory store, for DeepSpeed in a plain `python` process.

    deepspeed.initialize() needs a process group; without the launcher's RANK / WORLD_SIZE /
    MASTER_ADDR / MASTER_PORT it falls back to MPI discovery (mpi4py, absent here and in CI), and
    its engine asserts LOCAL_RANK is set. A HashStore needs no port, address or file, so nothing can
    collide or hang at rendezvous (also used under a launcher that says WORLD_SIZE=1). RANK /
    LOCAL_RANK / WORLD_SIZE are exported as a launcher would (DeepSpeed's MPI discovery does the
    same), unless already set. No-op if a group exists (setup_runtime called twice in a process).
    """
    if dist.is_initialized():
        return
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
        os.environ.setdefault(key, value)
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, numpy and torch (all devices); ranks get distinct streams (seed + rank)."""
    import random

    import numpy as np

    random.seed(seed + rank)
    np.random.seed((seed + rank) % 2**32)
    torch.manual_seed(seed + rank)


class TorchUnit:
    """A module + optimizer (+ scheduler) trained single-process or with DDP (through accelerate).

    `module` is what to call (the DDP wrapper when distributed); `unwrapped` the plain model.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        *,
        grad_clip: float = 0.0,
        runtime: Runtime | None = None,
    ) -> None:
        self.unwrapped = model
        self.grad_clip = grad_clip
        self.runtime = runtime
        if runtime is not None and runtime.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [runtime.device.index] if runtime.device.type == "cuda" else None
            model = DistributedDataParallel(
                model, device_ids=ids, find_unused_parameters=runtime.cfg.find_unused_parameters
            )
        self.module = model
        self.optimizer = optimizer
        self.scheduler = scheduler

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> torch.Tensor:
        """Clip (if grad_clip > 0), optimizer step, scheduler step, zero grads. Returns the grad norm."""
        params = [p for p in self.unwrapped.parameters() if p.grad is not None]
        if self.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params]) if params else torch.zeros(())
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm.detach()

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def weights(self) -> dict[str, torch.Tensor]:
        """Full (unsharded) state dict of the plain model; identical on every rank."""
        return self.unwrapped.state_dict()

    def save_state(self, directory: Path, name: str) -> None:
        """Optimizer + scheduler state (rank 0 only: DDP keeps them identical on all ranks)."""
        if self.runtime is not None and not self.runtime.is_main:
            return
        state = {"optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        torch.save(state, directory / f"{name}.optim.pt")

    def load_state(self, directory: Path, name: str) -> None:
        state = torch.load(directory / f"{name}.optim.pt", map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])


class DeepSpeedUnit:
    """A DeepSpeed ZeRO engine. The engine clips gradients and steps the LR scheduler itself."""

    restores_weights = True  # load_state() restores module + fp32 master weights from the shards

    def __init__(
        self,
        model: torch.nn.Module,
        runtime: Runtime,
        *,
        lr: float,
        betas: tuple[float, float],
        weight_decay: float,
        scheduler_fn: Callable[[torch.optim.Optimizer], Any] | None = None,
        micro_batch_size: int = 1,
    ) -> None:
        import deepspeed  # lazy: the one place DeepSpeed is imported

        config = deepspeed_config(runtime, lr=lr, betas=betas, weight_decay=weight_decay, micro_batch_size=micro_batch_size)
        params = [p for p in model.parameters() if p.requires_grad]
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, model_parameters=params, config=config, lr_scheduler=scheduler_fn
        )
        self.module = self.engine
        self.unwrapped = self.engine.module
        self.runtime = runtime

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss)

    def step(self) -> torch.Tensor:
        self.engine.step()
        norm = self.engine.get_global_grad_norm()
        return torch.as_tensor(0.0 if norm is None else float(norm))

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def weights(self) -> dict[str, torch.Tensor]:
        """Full fp32-shaped weights; under ZeRO-3 they are gathered from all ranks (collective)."""
        if self.engine.zero_optimization_stage() == 3:
            import deepspeed

            params = list(self.unwrapped.parameters())
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                return {k: v.detach().clone() for k, v in self.unwrapped.state_dict().items()}
        return self.unwrapped.state_dict()

    def save_state(self, directory: Path, name: str) -> None:
        """DeepSpeed's own sharded format (every rank writes its shard: a collective)."""
        self.engine.save_checkpoint(str(directory / f"{name}.deepspeed"), tag="state", save_latest=False)

    def load_state(self, directory: Path, name: str) -> None:
        path, _ = self.engine.load_checkpoint(
            str(directory / f"{name}.deepspeed"), tag="state", load_optimizer_states=True, load_lr_scheduler_states=True
        )
        if path is None:
            raise FileNotFoundError(f"{directory}: no DeepSpeed state for {name!r}")


def deepspeed_config(
    runtime: Runtime, *, lr: float, betas: tuple[float, float], weight_decay: float, micro_batch_size: int
) -> dict[str, Any]:
    """The DeepSpeed JSON config derived from `DistributedConfig` (no separate ds_config file)."""
    cfg = runtime.cfg
    zero: dict[str, Any] = {
        "stage": cfg.zero_stage,
        "reduce_bucket_size": cfg.reduce_bucket_size,
        "allgather_bucket_size": cfg.allgather_bucket_size,
        "overlap_comm": runtime.device.type == "cuda",
        "contiguous_gradients": True,
    }
    if cfg.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": runtime.device.type == "cuda"}
    if cfg.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": runtime.device.type == "cuda"}
    return {
        "train_micro_batch_size_per_gpu": micro_batch_size,
        "gradient_accumulation_steps": 1,
        "train_batch_size": micro_batch_size * runtime.world_size,
        "gradient_clipping": cfg.gradient_clipping,
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": lr, "betas": list(betas), "weight_decay": weight_decay, "torch_adam": cfg.torch_adam},
        },
        "zero_optimization": zero,
        "bf16": {"enabled": runtime.bf16},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def local_env() -> dict[str, int]:
    """RANK / WORLD_SIZE / LOCAL_RANK as exported by torchrun or the deepspeed launcher."""
    return {k: int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0))}


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Temporarily set requires_grad=False on every parameter (restoring the previous flags)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
