"""A distributed smoke run of the shared training stack on a toy model (no data, no downloads).

    OMP_NUM_THREADS=1 torchrun --nproc_per_node 2 -m holitok_common.train.smoke --out DIR --zero-stage 2

Use it to check a cluster's launcher/process-group/DeepSpeed setup before a real run. Each rank
trains a small MLP for a few steps on its own shard of a fixed regression problem, saves a
checkpoint, and writes `rank<r>.json` (losses, parameter checksum) to --out. `--save-at K` also
checkpoints after step K; `--resume-from DIR` continues such a checkpoint (exact-resume check).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from holitok_common.train.checkpoint import TrainState, load_checkpoint, save_checkpoint
from holitok_common.train.distributed import (
    DeepSpeedUnit,
    DistributedConfig,
    TorchUnit,
    seed_everything,
    setup_runtime,
)


def _toy_batch(step: int, rank: int, batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic [batch, 16] inputs and [batch, 1] targets for (step, rank)."""
    g = torch.Generator().manual_seed(1000 * step + rank)
    x = torch.randn(batch, 16, generator=g)
    return x, x.sum(dim=1, keepdim=True).sin()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--zero-stage", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--save-at", type=int, default=None, help="also checkpoint after this step")
    parser.add_argument("--resume-from", default=None, help="checkpoint directory to resume from")
    args = parser.parse_args(argv)
    runtime = setup_runtime(DistributedConfig(zero_stage=args.zero_stage), cpu=True)
    seed_everything(0)  # same init on every rank (DeepSpeed/DDP also broadcast rank 0's weights)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    if runtime.uses_deepspeed:
        unit = DeepSpeedUnit(model, runtime, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.0, micro_batch_size=4)
    else:
        unit = TorchUnit(model, torch.optim.AdamW(model.parameters(), lr=1e-2), grad_clip=1.0, runtime=runtime)
    start = 0
    if args.resume_from:
        start = load_checkpoint(args.resume_from, {"model": unit}).step
    out = Path(args.out)
    losses = []
    for step in range(start, args.steps):
        x, y = _toy_batch(step, runtime.rank)
        loss = torch.nn.functional.mse_loss(unit.module(x.to(runtime.device)), y.to(runtime.device))
        unit.backward(loss)
        unit.step()
        losses.append(float(runtime.all_mean(loss.detach())))
        if step + 1 == args.save_at:
            save_checkpoint(out / "ckpt", {"model": unit}, TrainState(step=step + 1), keep_last=2)
    ckpt = save_checkpoint(out / "ckpt", {"model": unit}, TrainState(step=args.steps), keep_last=2)
    checksum = sum(float(v.double().sum()) for v in unit.weights().values())
    record = {"rank": runtime.rank, "world_size": runtime.world_size, "losses": losses, "checksum": checksum, "ckpt": str(ckpt)}
    (out / f"rank{runtime.rank}.json").write_text(json.dumps(record))
    runtime.barrier()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
