"""Autograd capture: values, gradients and execution order, with torch as the oracle."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nnviz.core.autograd_graph import (
    capture_autograd_graph,
    capture_expression_graph,
    capture_module_graph,
    capture_scenario_graph,
    capture_trainer_graph,
)
from nnviz.core.errors import NnvizError
from nnviz.core.scalar_graph import scalar_mlp_forward
from nnviz.core.scenarios import get_scenario
from nnviz.core.trace import OUTPUT_ID


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
        return self.c(torch.relu(k) * k)  # k used twice


def autograd_oracle(forward):
    """Run ``forward()`` again and ask torch directly: ``torch.autograd.grad`` of the
    loss with respect to every op output Python can see, and a pre-hook on every
    backward node for the ones made inside C++ (Linear's transpose, the loss's
    internals). Nodes get ids by the same walk as the capture (n0 = the loss's
    grad_fn, breadth first over next_functions), so ids match node for node."""
    seen = {}

    class Outputs(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for o in out if isinstance(out, tuple | list) else (out,):
                if isinstance(o, torch.Tensor) and o.grad_fn is not None:
                    seen.setdefault(o.grad_fn, o)
            return out

    with Outputs():
        loss = forward()
    ids, queue = {loss.grad_fn: "n0"}, [loss.grad_fn]
    while queue:
        f = queue.pop(0)
        for g, _ in f.next_functions:
            if g is not None and g not in ids:
                ids[g] = f"n{len(ids)}"
                queue.append(g)
    visible = {nid: seen[f] for f, nid in ids.items() if f in seen}
    direct = dict(
        zip(visible, torch.autograd.grad(loss, list(visible.values()), retain_graph=True))
    )
    hooked = {}
    for f, nid in ids.items():
        if not hasattr(f, "variable"):
            f.register_prehook(lambda go, nid=nid: hooked.__setitem__(nid, go[0].clone()))
    loss.backward()
    values = {nid: t.detach() for nid, t in visible.items()}
    return ids, direct, hooked, values, loss


MODELS = {
    "mlp": lambda: nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2)),
    "branchy": Branchy,
    "layernorm-gelu": lambda: nn.Sequential(
        nn.Linear(3, 4), nn.LayerNorm(4), nn.GELU(), nn.Linear(4, 2)
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_recorded_gradient_equals_autograds(name):
    torch.manual_seed(0)
    model = MODELS[name]().double()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (5,))
    loss_fn = nn.CrossEntropyLoss()
    tr = capture_module_graph(model, x, y, loss_fn)
    model.zero_grad()
    ids, direct, hooked, values, loss = autograd_oracle(lambda: loss_fn(model(x), y))
    assert set(ids.values()) | {OUTPUT_ID} == set(tr.nodes)  # the same nodes, same ids
    assert float(tr.nodes[OUTPUT_ID].value) == pytest.approx(loss.item(), rel=1e-12)
    for pname, p in model.named_parameters():  # what accumulates into each leaf
        np.testing.assert_allclose(tr.by_name(pname).grad, p.grad.numpy(), rtol=1e-10)
    ops = [n for n in tr.nodes.values() if n.kind == "op"]
    for n in ops:  # what flows into each op: its output's gradient
        np.testing.assert_allclose(n.grad, hooked[n.id].numpy(), rtol=1e-10, atol=1e-300)
        if n.id in direct:
            np.testing.assert_allclose(n.grad, direct[n.id].numpy(), rtol=1e-10, atol=1e-300)
            np.testing.assert_allclose(n.value, values[n.id].numpy(), rtol=1e-12)
    assert len(direct) >= len(ops) // 2  # most ops checked against autograd.grad itself
    # every backward step: what it passed on along each edge sums, over all the
    # edges into a node, to that node's gradient (a tensor used twice gets both)
    into: dict[str, np.ndarray] = {}
    for step in tr.steps:
        for e in step.passed:
            if e.passed_on is not None:
                into[e.src] = into.get(e.src, 0) + e.passed_on
    for nid, total in into.items():
        np.testing.assert_allclose(total, tr.nodes[nid].grad, rtol=1e-10, atol=1e-15)


def test_values_of_ops_made_inside_cpp_are_filled_in():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("or-gate"))  # L1Loss(sum): Sub, Abs, Sum inside C++
    x, y = t.sample_batch()
    tr = capture_module_graph(t.model, x, y, t.loss_fn)
    with torch.no_grad():
        a = t.model(x)
    W = t.model[0].weight.detach().numpy()
    (tn,) = [n for n in tr.nodes.values() if n.op == "T"]
    np.testing.assert_array_equal(tn.value, W.T)
    sub = next(n for n in tr.nodes.values() if n.op == "Sub")
    ab = next(n for n in tr.nodes.values() if n.op == "Abs")
    np.testing.assert_allclose(sub.value, (a - y).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ab.value, (a - y).abs().numpy(), rtol=1e-12)
    assert float(tr.nodes[OUTPUT_ID].value) == pytest.approx(1.4673, abs=1e-4)  # the seed's
    assert all(n.value is not None for n in tr.nodes.values())
    assert {sub.module, ab.module} == {"loss"} and tr.module_types["loss"] == "L1Loss"


def test_forward_order_is_the_order_the_forward_ran():
    tr = chain_rule()
    assert [tr.nodes[i].label for i in tr.forward_order] == ["b", "c", "u", "a", "v", "L", "L"]
    assert tr.forward_order[-1] == OUTPUT_ID


def test_tensor_used_twice_sums_both_paths():
    x = torch.tensor([1.5, -2.0], requires_grad=True)
    tr = capture_autograd_graph(lambda: (x * x + x.exp()).sum(), {"x": x})
    np.testing.assert_allclose(tr.leaf_grads()["x"], 2 * x.detach().numpy() + np.exp([1.5, -2.0]))
    mul = next(n for n in tr.nodes.values() if n.op == "Mul")
    assert tr.graph.edges[tr.by_name("x").id, mul.id]["slots"] == (0, 1)


def test_modules_recorded_for_grouping():
    tr = capture_scenario_graph("mnist-mlp")
    mods = Counter(n.module for n in tr.nodes.values())
    assert set(tr.modules()) == {"1", "2", "3", "4", "5", "loss"}
    assert mods["1"] == 4  # weight, T, bias, Addmm
    assert mods["loss"] == 2  # CrossEntropyLoss: LogSoftmax, NllLoss
    assert tr.module_types["loss"] == "CrossEntropyLoss"


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


def test_logistic_regression_scalar_graph_shows_dz_is_a_minus_y():
    """Seed 002's dz = a − y, dw = (a − y)x, db = a − y, on the nodes of one example."""
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("logistic-regression"))
    x, y = t.sample_batch()
    fwd, leaves = scalar_mlp_forward(t.model, x[:1], y[:1], t.loss_fn)
    tr = capture_autograd_graph(fwd, leaves, local_names=False)
    a, z = tr.by_name("a1[0,0]"), tr.by_name("z1[0,0]")
    assert (a.op, z.op) == ("Sigmoid", "Add")
    a_minus_y = float(a.value) - float(y[0, 0])
    assert float(z.grad) == pytest.approx(a_minus_y, rel=1e-5)  # dz = a − y
    for i in range(2):
        dw = float(tr.by_name(f"0.weight[0,{i}]").grad)
        assert dw == pytest.approx(a_minus_y * float(x[0, i]), rel=1e-5, abs=1e-7)  # (a − y)x
    assert float(tr.by_name("0.bias[0]").grad) == pytest.approx(a_minus_y, rel=1e-5)  # db
    assert z.module == "0" and a.module == "1"


def test_scalar_graph_of_a_trainer_matches_the_model_and_stays_small():
    from nnviz.core.engine import Trainer

    t = Trainer(get_scenario("scratch-mlp"))
    tr = capture_trainer_graph(t, scalar=True)
    assert tr.scalar and tr.note == "scalar graph of 1 row of the batch"  # a row is 38 ops
    assert len(tr.nodes) < 70
    x, y = t.sample_batch()
    t.model.zero_grad()
    t.loss_fn(t.model(x[:1]), y[:1]).backward()
    W0, W2 = t.model[0].weight.grad, t.model[2].weight.grad
    g = tr.leaf_grads()
    for j in range(3):
        for i in range(4):
            assert float(g[f"0.weight[{j},{i}]"]) == pytest.approx(W0[j, i].item(), abs=1e-12)
        assert float(g[f"2.weight[0,{j}]"]) == pytest.approx(W2[0, j].item(), abs=1e-12)
        assert tr.by_name(f"a1[0,{j}]").op == "Sigmoid"
    assert float(tr.nodes[OUTPUT_ID].value) == pytest.approx(
        t.loss_fn(t.model(x[:1]), y[:1]).item(), rel=1e-12
    )
    assert set(tr.modules()) == {"0", "1", "2", "3", "loss"}
    np.testing.assert_array_equal(tr.target, y[:1].numpy())
    # or-gate's rows are small: four of them
    tr4 = capture_trainer_graph(Trainer(get_scenario("or-gate")), scalar=True)
    assert tr4.note == "scalar graph of 4 rows of the batch"
    assert {f"a1[{r},0]" for r in range(4)} <= {n.name for n in tr4.nodes.values()}


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


def test_expression_graph_is_for_expression_scenarios_only():
    tr = capture_expression_graph(get_scenario("autograd-mean"))
    assert tr.title == get_scenario("autograd-mean").title and len(tr.steps) > 0
    with pytest.raises(NnvizError, match="not an expression"):
        capture_expression_graph(get_scenario("or-gate"))
