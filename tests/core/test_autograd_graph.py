"""Autograd capture: values, gradients and execution order, with torch as the oracle."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core.autograd_graph import (
    OUTPUT_ID,
    capture_autograd_graph,
    capture_module_graph,
    capture_scenario_graph,
    scalar_mlp_forward,
)
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario


def chain_rule():
    return capture_autograd_graph(get_scenario("chain-rule").expression)


def test_chain_rule_values_grads_and_order():
    tr = chain_rule()
    assert float(tr.nodes[OUTPUT_ID].value) == 33.0
    assert {k: float(v) for k, v in tr.leaf_grads().items()} == {"a": 3.0, "b": 6.0, "c": 9.0}
    order = [(tr.nodes[i].op, tr.nodes[i].name) for i in tr.backward_order]
    assert order == [
        ("Mul", "L"),
        ("Add", "v"),
        ("AccumulateGrad", "a"),
        ("Mul", "u"),
        ("AccumulateGrad", "b"),
        ("AccumulateGrad", "c"),
    ]


def test_chain_rule_in_numbers():
    tr = chain_rule()
    u = tr.by_name("u")
    step = tr.step_of(u.id)
    assert float(step.upstream0) == 3.0  # dL/du
    passed = {tr.nodes[e.src].name: e for e in step.passed}
    assert float(passed["b"].local) == 2.0 and float(passed["b"].passed_on) == 6.0  # du/db = c
    assert float(passed["c"].local) == 3.0 and float(passed["c"].passed_on) == 9.0  # du/dc = b
    v_step = tr.step_of(tr.by_name("v").id)
    assert float(v_step.upstream0) == 3.0
    assert {tr.nodes[e.src].name: float(e.local) for e in v_step.passed} == {"a": 1.0, "u": 1.0}
    assert float(u.value) == 6.0 and float(tr.by_name("v").value) == 11.0


def test_autograd_mean_quarter_everywhere():
    tr = capture_autograd_graph(get_scenario("autograd-mean").expression)
    np.testing.assert_array_equal(tr.leaf_grads()["a"], np.full((2, 2), 0.25))
    mean_step = tr.step_of(tr.by_name("c").id)
    np.testing.assert_array_equal(mean_step.passed[0].local, np.full((2, 2), 0.25))


def test_arrays_are_read_only_copies():
    tr = chain_rule()
    n = tr.by_name("a")
    with pytest.raises(ValueError):
        n.grad[...] = 0


def test_capture_leaves_user_grads_alone():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    a.grad = torch.tensor([7.0, 7.0])
    tr = capture_autograd_graph(lambda: (a * a).sum(), {"a": a})
    np.testing.assert_allclose(tr.leaf_grads()["a"], [2.0, 4.0])
    assert a.grad.tolist() == [7.0, 7.0]


def test_logistic_regression_dz_is_a_minus_y():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("logistic-regression"))
    tr = capture_module_graph(t.model, *t.sample_batch(), t.loss_fn)
    x, y = t.sample_batch()
    addmm = next(n for n in tr.nodes.values() if n.op == "Addmm")
    sig = next(n for n in tr.nodes.values() if n.op == "Sigmoid")
    m = x.shape[0]
    # dL/dz for mean BCE: (a − y)/m on the z node
    np.testing.assert_allclose(addmm.grad * m, sig.value - y.numpy(), rtol=1e-5, atol=1e-6)
    w = tr.by_name("0.weight")
    np.testing.assert_allclose(
        w.grad, ((sig.value - y.numpy()).T @ x.numpy()) / m, rtol=1e-4, atol=1e-6
    )


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 2)

    def forward(self, x):
        h = torch.tanh(self.a(x))
        g = self.b(h)
        k = h * g + h  # h used three times, branching
        return self.c(torch.relu(k) * k)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2)),
        Branchy,
        lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.GELU(), nn.Linear(4, 2)),
    ],
)
def test_every_recorded_gradient_equals_autograds(make):
    torch.manual_seed(0)
    model = make().double()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (5,))
    loss_fn = nn.CrossEntropyLoss()
    tr = capture_module_graph(model, x, y, loss_fn)
    # oracle: retain_grad on each op's output, found through its grad_fn
    outs = {}

    def hook(_m, _i, o):
        o.retain_grad()
        outs[id(o.grad_fn)] = o

    hs = [m.register_forward_hook(hook) for m in model.modules() if m is not model]
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    for h in hs:
        h.remove()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(tr.by_name(name).grad, p.grad.numpy(), rtol=1e-10)
    assert float(tr.nodes[OUTPUT_ID].value) == pytest.approx(loss.item())
    # op nodes: grads of module outputs match, by op and shape
    by_op = {}
    for o in outs.values():
        by_op.setdefault((type(o.grad_fn).__name__, tuple(o.shape)), []).append(o.grad.numpy())
    checked = 0
    for n in tr.nodes.values():
        cands = by_op.get((n.grad_fn, n.shape), [])
        if n.kind == "op" and cands:
            assert any(np.allclose(n.grad, c, rtol=1e-10) for c in cands)
            checked += 1
    assert checked >= 2
    # every passed-on gradient sums, per input, to that input's upstream
    for step in tr.steps:
        for e in step.passed:
            src = tr.nodes[e.src]
            if src.kind == "leaf" and e.passed_on is not None:
                assert e.passed_on.shape == src.grad.shape or src.grad.size == e.passed_on.size


def test_tensor_used_twice_sums_both_paths():
    x = torch.tensor([1.5, -2.0], requires_grad=True)
    tr = capture_autograd_graph(lambda: (x * x + x.exp()).sum(), {"x": x})
    np.testing.assert_allclose(tr.leaf_grads()["x"], 2 * x.detach().numpy() + np.exp([1.5, -2.0]))
    mul = next(n for n in tr.nodes.values() if n.op == "Mul")
    assert tr.graph.edges[tr.by_name("x").id, mul.id]["slots"] == (0, 1)


def test_modules_recorded_for_grouping():
    tr = capture_scenario_graph("mnist-mlp")
    mods = Counter(n.module for n in tr.nodes.values())
    assert set(tr.modules()) == {"1", "2", "3", "4", "5"}
    assert mods["1"] == 4  # weight, T, bias, Addmm


def torchviz_backward_nodes(var, params):
    """torchviz.make_dot's traversal (show_saved=False), reimplemented: the
    grad_fn nodes and next_functions edges, AccumulateGrad's variables named."""
    param_map = {id(v): k for k, v in params.items()}
    seen, nodes, edges = set(), [], []

    def add_nodes(fn):
        if fn in seen:
            return
        seen.add(fn)
        name = type(fn).__name__
        if hasattr(fn, "variable"):
            name += ":" + param_map.get(id(fn.variable), "")
        nodes.append(name)
        for u in getattr(fn, "next_functions", ()):
            if u[0] is not None:
                edges.append((u[0], fn))
                add_nodes(u[0])

    add_nodes(var.grad_fn)
    label = {}
    for fn in seen:
        label[fn] = type(fn).__name__ + (
            ":" + param_map.get(id(fn.variable), "") if hasattr(fn, "variable") else ""
        )
    return Counter(nodes), Counter((label[a], label[b]) for a, b in edges)


def test_mnist_mlp_nodes_match_torchviz():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("mnist-mlp"))
    x, y = t.sample_batch()
    tr = capture_module_graph(t.model, x, y, t.loss_fn)
    loss = t.loss_fn(t.model(x), y)
    want_nodes, want_edges = torchviz_backward_nodes(loss, dict(t.model.named_parameters()))

    def lab(n):
        return n.grad_fn + (":" + n.name if n.kind == "leaf" else "")

    got_nodes = Counter(lab(n) for n in tr.nodes.values() if n.kind != "output")
    got_edges = Counter(
        (lab(tr.nodes[u]), lab(tr.nodes[v])) for u, v in tr.graph.edges if v != OUTPUT_ID
    )
    assert got_nodes == want_nodes
    assert got_edges == want_edges
    assert sum(want_nodes.values()) == 16


def test_mnist_mlp_matches_real_torchviz_if_installed():
    torchviz = pytest.importorskip("torchviz")
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("mnist-mlp"))
    x, y = t.sample_batch()
    tr = capture_module_graph(t.model, x, y, t.loss_fn)
    dot = torchviz.make_dot(t.loss_fn(t.model(x), y), params=dict(t.model.named_parameters()))
    body = "\n".join(dot.body)
    for n in tr.nodes.values():
        if n.kind == "op":
            assert n.grad_fn in body


def test_scalar_mode_every_weight_has_its_own_node():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("or-gate"))
    x, y = t.sample_batch()
    fwd, leaves = scalar_mlp_forward(t.model, x, y, t.loss_fn)
    tr = capture_autograd_graph(fwd, leaves, local_names=False)
    t.model.zero_grad()
    t.loss_fn(t.model(x), y).backward()
    w, b = t.model[0].weight.grad, t.model[0].bias.grad
    g = tr.leaf_grads()
    assert float(g["0.weight[0,0]"]) == pytest.approx(w[0, 0].item())
    assert float(g["0.weight[0,1]"]) == pytest.approx(w[0, 1].item())
    assert float(g["0.bias[0]"]) == pytest.approx(b[0].item())
    ops = Counter(n.op for n in tr.nodes.values())
    assert ops["Mul"] == 8 and ops["Sigmoid"] == 4


def test_scalar_mode_refuses_big_models():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("digits-mlp"))
    with pytest.raises(NnvizError):
        capture_scenario_graph("digits-mlp", scalar=True)
    del t


def test_errors():
    with pytest.raises(NnvizError):
        capture_autograd_graph(lambda: torch.ones(2).sum())
    with pytest.raises(NnvizError):
        capture_scenario_graph("no-such-scenario")
