"""Finite differences agree with autograd (and notice a wrong gradient)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz.core.errors import NnvizError
from nnviz.core.gradcheck import (
    gradcheck_expression,
    gradcheck_module,
    gradcheck_scenario_expression,
)
from nnviz.core.scenarios import get_scenario


def test_mlp_gradients_agree_in_float64():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    x, y = torch.randn(6, 3), torch.rand(6, 1)
    res = gradcheck_module(model, x, y, nn.BCELoss(), ["0.weight", "2.bias"], max_entries=5)
    assert len(res.rows) == 6
    assert res.max_rel_error < 1e-6
    assert model[0].weight.dtype == torch.float32  # the original is untouched


def test_chain_rule_expression():
    def L(v):
        return 3 * (v["a"] + v["b"] * v["c"])

    leaves = {k: torch.tensor(x) for k, x in (("a", 5.0), ("b", 3.0), ("c", 2.0))}
    res = gradcheck_expression(L, leaves)
    assert [round(r.numeric, 6) for r in res.rows] == [3.0, 6.0, 9.0]
    assert res.ok


def test_a_wrong_gradient_is_caught():
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2x

    res = gradcheck_expression(lambda v: Wrong.apply(v["x"]).sum(), {"x": torch.tensor([1.0, 2.0])})
    assert res.max_rel_error > 0.4 and not res.ok


def test_unknown_parameter():
    with pytest.raises(NnvizError):
        gradcheck_module(nn.Linear(2, 1), torch.ones(1, 2), torch.ones(1, 1), nn.MSELoss(), ["w"])


def test_expression_scenario_check_of_every_leaf_or_the_chosen_ones():
    sc = get_scenario("chain-rule")
    every = gradcheck_scenario_expression(sc)
    assert {r.name: r.autograd for r in every.rows} == {"a": 3.0, "b": 6.0, "c": 9.0}
    assert every.ok
    res = gradcheck_scenario_expression(sc, ["c"])
    assert [r.name for r in res.rows] == ["c"] and res.rows[0].numeric == pytest.approx(9.0)
    with pytest.raises(NnvizError, match="no leaf named w"):
        gradcheck_scenario_expression(sc, ["w"])
