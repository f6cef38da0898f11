"""Learning-rate schedules: optional linear warmup, then exponential decay to a floor.

SPEC (training): AdamW lr 1e-4 decaying exponentially to 1e-6 over the stage's steps. The schedule
is a pure function of the optimizer step, so resuming only needs the step (the LambdaLR state is
checkpointed as well, for completeness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from holitok_common.config import ConfigError


@dataclass
class ScheduleConfig:
    """Exponential decay from the optimizer's lr to `final_lr` over `decay_steps` (default: the
    stage's total steps), after `warmup_steps` of linear warmup from 0. Constant after decay."""

    final_lr: float = 1e-6
    warmup_steps: int = 0
    decay_steps: int | None = None

    def validate(self) -> None:
        if self.final_lr <= 0:
            raise ConfigError(f"schedule.final_lr must be > 0 (exponential decay), got {self.final_lr}")
        if self.warmup_steps < 0:
            raise ConfigError(f"schedule.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.decay_steps is not None and self.decay_steps <= 0:
            raise ConfigError(f"schedule.decay_steps must be positive or null, got {self.decay_steps}")


def lr_factor(step: int, peak_lr: float, cfg: ScheduleConfig, total_steps: int) -> float:
    """Multiplier of `peak_lr` at optimizer step `step` (0-based: the lr used by the step'th update).

    warmup: (step + 1) / warmup_steps; then peak * (final / peak) ** (t / T) with t counted from the
    end of warmup and T = decay_steps (or total_steps - warmup_steps), clamped at the floor.
    """
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if peak_lr <= cfg.final_lr:
        return 1.0
    horizon = cfg.decay_steps if cfg.decay_steps is not None else max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / horizon)
    return math.exp(progress * math.log(cfg.final_lr / peak_lr))


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR applying `lr_factor` to every param group (each group's own initial lr is its peak)."""
    peaks = [group["lr"] for group in optimizer.param_groups]
    lambdas = [_Factor(peak, cfg, total_steps) for peak in peaks]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


class _Factor:
    """Picklable-free callable (LambdaLR stores callables' __dict__ in its state; keep it plain)."""

    def __init__(self, peak: float, cfg: ScheduleConfig, total_steps: int) -> None:
        self.peak, self.final_lr, self.warmup_steps = peak, cfg.final_lr, cfg.warmup_steps
        self.decay_steps, self.total_steps = cfg.decay_steps, total_steps

    def __call__(self, step: int) -> float:
        cfg = ScheduleConfig(self.final_lr, self.warmup_steps, self.decay_steps)
        return lr_factor(step, self.peak, cfg, self.total_steps)
