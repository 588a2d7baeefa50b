"""The op table, one row per op, checked against torch itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnviz.core.autograd_ops import (
    OPS,
    local_derivative,
    local_formula,
    rule,
    saved_input_attr,
    short_op,
    value_from_input,
)

# a torch function per unary elementwise row: it must make a node of that name
UNARY = {
    "Neg": torch.neg,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Relu": torch.relu,
    "Exp": torch.exp,
    "Log": torch.log,
    "Abs": torch.abs,
    "Sqrt": torch.sqrt,
    "Clone": torch.clone,
    "Gelu": F.gelu,
    "Silu": F.silu,
    "Elu": F.elu,
    "LeakyRelu": F.leaky_relu,
    "Hardtanh": F.hardtanh,
    "Softplus": F.softplus,
    "Reciprocal": torch.reciprocal,
    "Sin": torch.sin,
    "Cos": torch.cos,
    "Pow": lambda x: x**3,
    "Rsub": lambda x: 1 - x,
}


def x64() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, generator=g, dtype=torch.float64) * 2 - 1
    return (x + 1.5 * x.sign()).requires_grad_(True)  # away from 0: Log, Sqrt of |x|


def test_one_row_per_op_keyed_by_torch_names():
    assert all(name == r.name for name, r in OPS.items())
    assert short_op("MulBackward0") == "Mul" and short_op("AccumulateGrad") == "AccumulateGrad"
    for name, f in UNARY.items():
        assert short_op(type(f(x64()).grad_fn).__name__) == name
    a, w, b = (torch.ones(2, 3), torch.ones(4, 3, requires_grad=True), torch.ones(4))
    assert short_op(type(F.linear(a, w, b).grad_fn).__name__) in OPS  # Addmm
    assert rule("NoSuchOp").formula == "" and not rule("NoSuchOp").elementwise


@pytest.mark.parametrize("name", sorted(UNARY))
def test_elementwise_local_derivative_is_torchs(name):
    """passed-on / upstream of an elementwise op is its derivative, entry by entry."""
    x = x64()
    xi = x.abs() if name in ("Log", "Sqrt") else x
    y = UNARY[name](xi)
    up = torch.full_like(y, 3.0)
    (passed,) = torch.autograd.grad(y, x, up, retain_graph=True)
    (want,) = torch.autograd.grad(y.sum(), x)
    assert rule(name).elementwise
    loc = local_derivative(name, up.numpy(), passed.detach().numpy())
    np.testing.assert_allclose(loc, want.numpy(), rtol=1e-12)
    assert not loc.flags.writeable


def test_a_matrix_op_has_no_elementwise_local_derivative():
    up, passed = np.ones((2, 4)), np.ones((2, 3))
    assert local_derivative("Addmm", up, passed) is None
    assert float(local_derivative("Addmm", np.array(2.0), np.array([4.0, 6.0]))[1]) == 3.0
    assert "dL/dx = dL/dz·W" in local_formula("Addmm") and local_formula("Mul")


def test_values_recovered_from_inputs_match_torch():
    x = x64()
    torch_of = {"T": lambda t: t.T, **UNARY}
    rows = [r for r in OPS.values() if r.value_fn is not None]
    assert {r.name for r in rows} >= {"T", "Relu", "Sigmoid", "Tanh", "Exp"}
    for r in rows:
        want = torch_of[r.name](x).detach().numpy()
        np.testing.assert_allclose(value_from_input(r.name, x.detach().numpy()), want, rtol=1e-12)
    assert value_from_input("Mul", np.ones(2)) is None


def test_saved_inputs_are_torchs_attributes():
    x, w = torch.randn(2, 3, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    fn = F.linear(x, w, torch.randn(4)).grad_fn  # Addmm(b, x, Wᵀ)
    assert short_op(type(fn).__name__) == "Addmm"
    assert torch.equal(getattr(fn, saved_input_attr("Addmm", 1)), x)
    assert torch.equal(getattr(fn, saved_input_attr("Addmm", 2)), w.T)
    mul = (w * 2.0).grad_fn
    assert saved_input_attr("Mul", 0) == "_saved_self" and hasattr(mul, "_saved_self")
