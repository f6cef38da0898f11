"""ODE solvers for flow matching: pure functions of a velocity callable (no nn.Module, no state).

Convention (dit_head/README.md): `velocity_fn(x, t) -> v` with x [N, ...] and t [N] flow time,
integrated from t0 = 0 (noise) to t1 = 1 (data). Time tensors are float32 (float64 when x is
float64) so a bf16 state never rounds the time grid.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

VelocityFn = Callable[[Tensor, Tensor], Tensor]


def _time(x: Tensor, value: float) -> Tensor:
    """Broadcast a scalar time to [N] on x's device, at least float32."""
    dtype = torch.promote_types(x.dtype, torch.float32) if x.is_floating_point() else torch.float32
    return torch.full((x.shape[0],), value, device=x.device, dtype=dtype)


def _check(steps: int) -> None:
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"ODE solver needs a positive integer number of steps, got {steps!r}")


def euler(velocity_fn: VelocityFn, x0: Tensor, steps: int, t0: float = 0.0, t1: float = 1.0) -> Tensor:
    """Forward Euler, `steps` uniform steps from t0 to t1 (NFE = steps); global error O(1/steps).

    x0 [N, ...] state at t0 -> state at t1, same shape.
    """
    _check(steps)
    dt = (t1 - t0) / steps
    x = x0
    for i in range(steps):
        x = x + dt * velocity_fn(x, _time(x, t0 + i * dt))
    return x


def midpoint(velocity_fn: VelocityFn, x0: Tensor, steps: int, t0: float = 0.0, t1: float = 1.0) -> Tensor:
    """Explicit midpoint (RK2), `steps` uniform steps (NFE = 2 * steps); global error O(1/steps^2).

    x0 [N, ...] state at t0 -> state at t1, same shape.
    """
    _check(steps)
    dt = (t1 - t0) / steps
    x = x0
    for i in range(steps):
        t = t0 + i * dt
        x_half = x + (0.5 * dt) * velocity_fn(x, _time(x, t))
        x = x + dt * velocity_fn(x_half, _time(x, t + 0.5 * dt))
    return x


SOLVERS: dict[str, Callable[..., Tensor]] = {"euler": euler, "midpoint": midpoint}


def cfg_combine(v_cond: Tensor, v_uncond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): v_u + scale * (v_c - v_u); scale 1 = v_c."""
    return v_uncond + scale * (v_cond - v_uncond)


def with_cfg(velocity_fn_cond: VelocityFn, velocity_fn_uncond: VelocityFn, scale: float) -> VelocityFn:
    """Wrap two velocity callables into the guided one, v_u + scale * (v_c - v_u)."""

    def guided(x: Tensor, t: Tensor) -> Tensor:
        return cfg_combine(velocity_fn_cond(x, t), velocity_fn_uncond(x, t), scale)

    return guided
