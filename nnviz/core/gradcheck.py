"""Finite differences against autograd, side by side.

A float64 copy of the model (the original is never touched) is evaluated at
θ ± ε for chosen entries of chosen parameters (central differences); autograd's
gradient comes from one backward of the same copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnviz.core.errors import NnvizError
from nnviz.core.trace import GradCheckResult, GradCheckRow

__all__ = [
    "GradCheckResult",
    "GradCheckRow",
    "gradcheck_expression",
    "gradcheck_module",
    "gradcheck_scenario_expression",
    "gradcheck_trainer",
]


def _rel(a: float, b: float) -> float:
    den = max(abs(a), abs(b))
    return 0.0 if den < 1e-12 else abs(a - b) / den


def _to64(t):
    if isinstance(t, torch.Tensor) and t.is_floating_point():
        return t.detach().to(torch.float64)
    return t.detach() if isinstance(t, torch.Tensor) else t


def gradcheck_module(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable,
    params: Sequence[str] | None = None,
    max_entries: int = 8,
    eps: float = 1e-6,
    seed: int = 0,
) -> GradCheckResult:
    """Compare dL/dθ from autograd and central differences, L = loss_fn(model(x), y).

    ``params``: parameter names (default: all); at most ``max_entries`` entries
    of each, picked at random (``seed``) when a parameter has more.
    """
    m = copy.deepcopy(model).to(torch.float64)
    lf = copy.deepcopy(loss_fn) if isinstance(loss_fn, nn.Module) else loss_fn
    x64, y64 = _to64(x), _to64(y)
    named = dict(m.named_parameters())
    names = list(named) if params is None else list(params)
    unknown = [n for n in names if n not in named]
    if unknown:
        raise NnvizError(f"no parameter named {', '.join(unknown)}; choose from {', '.join(named)}")

    rng_state = torch.get_rng_state()

    def loss() -> torch.Tensor:
        torch.set_rng_state(rng_state)  # every evaluation draws the same dropout masks
        return lf(m(x64), y64)

    m.zero_grad(set_to_none=True)
    with torch.enable_grad():
        loss().backward()
    rng = np.random.default_rng(seed)
    rows = []
    with torch.no_grad():
        for name in names:
            p = named[name]
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            n = p.numel()
            flat = np.arange(n) if n <= max_entries else np.sort(rng.choice(n, max_entries, False))
            for k in flat.tolist():
                idx = np.unravel_index(k, tuple(p.shape)) if p.dim() else ()
                idx = tuple(int(i) for i in idx)
                old = p[idx].item()
                p[idx] = old + eps
                lp = loss().item()
                p[idx] = old - eps
                lm = loss().item()
                p[idx] = old
                num = (lp - lm) / (2 * eps)
                ag = g[idx].item()
                rows.append(GradCheckRow(name, idx, ag, num, _rel(ag, num)))
    torch.set_rng_state(rng_state)  # as if the check had not drawn anything
    worst = max((r.rel_error for r in rows), default=0.0)
    return GradCheckResult(tuple(rows), worst, eps)


def gradcheck_trainer(trainer, params: Sequence[str] | None = None, **kw) -> GradCheckResult:
    """Grad check on the batch the trainer would train on next."""
    x, y = trainer.sample_batch()
    return gradcheck_module(trainer.model, x, y, trainer.loss_fn, params, **kw)


def gradcheck_expression(
    fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    leaves: dict[str, torch.Tensor],
    eps: float = 1e-6,
) -> GradCheckResult:
    """``fn(leaves)`` → scalar; every entry of every leaf, in float64."""
    vals = {k: v.detach().to(torch.float64).clone().requires_grad_(True) for k, v in leaves.items()}
    out = fn(vals)
    grads = torch.autograd.grad(out, list(vals.values()), allow_unused=True)
    rows = []
    with torch.no_grad():
        for (name, t), g in zip(vals.items(), grads, strict=True):
            g = torch.zeros_like(t) if g is None else g
            for k in range(t.numel()):
                idx = tuple(int(i) for i in np.unravel_index(k, tuple(t.shape))) if t.dim() else ()
                old = t[idx].item()
                t[idx] = old + eps
                lp = fn(vals).item()
                t[idx] = old - eps
                lm = fn(vals).item()
                t[idx] = old
                num = (lp - lm) / (2 * eps)
                rows.append(GradCheckRow(name, idx, g[idx].item(), num, _rel(g[idx].item(), num)))
    return GradCheckResult(tuple(rows), max((r.rel_error for r in rows), default=0.0), eps)


def gradcheck_scenario_expression(
    scenario, params: Sequence[str] | None = None, eps: float = 1e-6
) -> GradCheckResult:
    """Every leaf of an expression scenario (``chain-rule``, ``autograd-mean``), or
    the leaves named in ``params``. Runs torch: call it on the worker thread."""
    _, leaves = scenario.expression()
    unknown = [n for n in params or () if n not in leaves]
    if unknown:
        raise NnvizError(f"no leaf named {', '.join(unknown)}; choose from {', '.join(leaves)}")
    result = gradcheck_expression(lambda vals: scenario.expression(vals)[0], leaves, eps)
    if not params:
        return result
    rows = tuple(r for r in result.rows if r.name in params)
    return GradCheckResult(rows, max((r.rel_error for r in rows), default=0.0), eps)
