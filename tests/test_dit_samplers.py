"""ODE solvers: exact on fields they should be exact on, with the expected convergence orders."""

from __future__ import annotations

import math

import pytest
import torch

from dit_head.samplers import cfg_combine, euler, midpoint, with_cfg

A = -1.3  # dx/dt = A * x  =>  x(1) = x(0) * exp(A)


def _linear_field(x, t):
    assert t.shape == (x.shape[0],)
    return A * x


def _error(solver, steps: int) -> float:
    x0 = torch.linspace(-2.0, 2.0, 6, dtype=torch.float64).view(3, 2)  # [N, 2]
    exact = x0 * math.exp(A)
    return (solver(_linear_field, x0, steps) - exact).abs().max().item()


@pytest.mark.parametrize("solver, order", [(euler, 1), (midpoint, 2)])
def test_convergence_order(solver, order):
    errors = [_error(solver, n) for n in (16, 32, 64, 128)]
    observed = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(o - order) < 0.1 for o in observed), (errors, observed)


@pytest.mark.parametrize("solver", [euler, midpoint])
def test_constant_field_is_exact(solver):
    x0 = torch.randn(4, 3, 5, dtype=torch.float64)
    c = torch.randn(4, 3, 5, dtype=torch.float64)
    out = solver(lambda x, t: c, x0, 7, t0=0.25, t1=0.75)
    torch.testing.assert_close(out, x0 + 0.5 * c, rtol=0, atol=1e-12)


def test_time_grid():
    """Euler evaluates at the left end of each step; midpoint is exact for v linear in t."""
    x0 = torch.zeros(2, 1, dtype=torch.float64)
    field = lambda x, t: t[:, None].expand_as(x)  # dx/dt = t  =>  x(1) = 1/2
    assert euler(field, x0, 4)[0, 0].item() == pytest.approx(0.25 * (0 + 0.25 + 0.5 + 0.75))
    assert midpoint(field, x0, 3)[0, 0].item() == pytest.approx(0.5, abs=1e-12)


def test_time_is_float32_for_a_bf16_state():
    seen = []
    euler(lambda x, t: seen.append(t.dtype) or torch.zeros_like(x), torch.zeros(2, 3, dtype=torch.bfloat16), 2)
    assert seen == [torch.float32, torch.float32]


def test_cfg_formula():
    v_c, v_u = torch.randn(3, 4, 5), torch.randn(3, 4, 5)
    x, t = torch.randn(3, 4, 5), torch.rand(3)
    guided = with_cfg(lambda x, t: v_c, lambda x, t: v_u, 1.7)
    torch.testing.assert_close(guided(x, t), v_u + 1.7 * (v_c - v_u))
    torch.testing.assert_close(cfg_combine(v_c, v_u, 1.0), v_c)
    torch.testing.assert_close(cfg_combine(v_c, v_u, 0.0), v_u)


@pytest.mark.parametrize("steps", [0, -1, 2.5])
def test_bad_step_count(steps):
    with pytest.raises(ValueError, match="steps"):
        euler(lambda x, t: x, torch.zeros(1, 1), steps)
