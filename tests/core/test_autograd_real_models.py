"""The autograd graph of real models: every value and gradient, checked against torch.

The oracle is a second, plain run of the same forward (float64, same seed, so
the same dropout masks): torch's own forward hooks on every module, the
tensors autograd saved on its nodes (``_saved_result``, a consumer's saved
input), the op recomputed by torch from its inputs' recorded values, and
``grad_fn.register_hook`` on every node for the gradients. Nodes are matched
by the breadth-first walk from the output (``n0, n1, ...``, as ``trace.py``
documents), and the graph is compared with torchviz's ``make_dot``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from nnviz.core.autograd_graph import capture_autograd_graph, capture_module_graph
from nnviz.core.trace import OUTPUT_ID
from tests.core.test_torchviz_parity import assert_same_graph, our_graph, torchviz_graph
from tests.test_examples import load_example

ATOL = 1e-9


def _transformer_layer():
    return nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), torch.randn(3, 5, 16), None


def _cnn_bn():
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(inplace=True),  # in place: the conv's and BatchNorm's values must survive it
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 2),
    )
    return model, torch.randn(4, 1, 4, 4), nn.CrossEntropyLoss(), torch.tensor([0, 1, 1, 0])


def _lstm():  # returns (output, (h, c)): three outputs, no loss
    return nn.LSTM(3, 4, num_layers=2, batch_first=True), torch.randn(2, 3, 3), None


def _example(name: str, rows: int = 4):
    def make():
        ex = load_example(name)
        (x, y), _val = ex.data()
        return ex.model(), x[:rows], ex.loss, y[:rows]

    return make


CASES = {
    "transformer-layer": _transformer_layer,
    "cnn-batchnorm": _cnn_bn,
    "lstm": _lstm,
    "example-cnn_digits": _example("cnn_digits"),
    "example-gru_sequence": _example("gru_sequence", rows=2),
    "example-transformer_reverse": _example("transformer_reverse", rows=2),
    "example-residual_mlp": _example("residual_mlp"),
}


def _f64(t):
    return t.double() if isinstance(t, torch.Tensor) and t.is_floating_point() else t


def build(case: str):
    torch.manual_seed(0)
    model, x, loss, *y = CASES[case]()
    model = model.double().train()
    return model, _f64(x), loss, (y[0] if y else None)


def forward_of(model, x, loss, y):
    def forward():
        out = model(x)
        return loss(out, y) if loss is not None else out

    return forward


def bfs(roots) -> list:
    """Every node from the outputs' grad_fns, breadth first (the trace's n0, n1, ...)."""
    order, index = [], {}
    for f in roots:
        if f not in index:
            index[f] = len(order)
            order.append(f)
    head = 0
    while head < len(order):
        for g, _k in order[head].next_functions:
            if g is not None and g not in index:
                index[g] = len(order)
                order.append(g)
        head += 1
    return order


def torch_sees(model, forward):
    """One plain run: module outputs from forward hooks, then one backward with a
    hook on every node. Returns (outputs, nodes in walk order, module outputs by
    (node, output index), (grad_inputs, grad_outputs) by node)."""
    module_out: dict[tuple, torch.Tensor] = {}

    def hook(_m, _inp, out):
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.grad_fn is not None:
                module_out.setdefault((t.grad_fn, t.output_nr), t.detach().clone())

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        out = forward()
    finally:
        for h in handles:
            h.remove()
    outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    fns = bfs([t.grad_fn for t in outs])
    grads: dict = {}

    def make(f):
        def h(gin, gout):
            grads[f] = (
                tuple(None if g is None else g.clone() for g in gin),
                tuple(None if g is None else g.clone() for g in gout),
            )

        return h

    hooks = [f.register_hook(make(f)) for f in fns]
    try:
        seeds = (
            None if len(outs) == 1 and outs[0].numel() == 1 else [torch.ones_like(t) for t in outs]
        )
        torch.autograd.backward(outs, seeds, retain_graph=True)
    finally:
        for h in hooks:
            h.remove()
    return outs, fns, module_out, grads


def close(ours, theirs) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    theirs = theirs.detach().double().numpy()
    return ours.shape == theirs.shape and np.allclose(ours, theirs, atol=ATOL, rtol=0)


def out_value(node, k: int):
    return node.values[k] if node.values else (node.value if k == 0 else None)


# slot of the consumer's input that a saved tensor holds (by attribute name)
SAVED_SLOT = {"_saved_self": 0, "_saved_input": 0, "_saved_other": 1, "_saved_mat1": 1}


def saved_inputs(f):
    """(slot, tensor) for each input node ``f`` saved whole."""
    n = len(f.next_functions)
    for attr in (*SAVED_SLOT, "_saved_mat2"):
        try:
            t = getattr(f, attr, None)
        except RuntimeError:
            continue
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            slot = n - 1 if attr == "_saved_mat2" else SAVED_SLOT[attr]
            if slot < n:
                yield slot, t


def sv(f, name: str):
    """A saved argument of node ``f`` (a saved -1 reads back as 2**64 - 1)."""
    v = getattr(f, f"_saved_{name}")
    if isinstance(v, tuple):
        return tuple(i - 2**64 if i >= 2**63 else i for i in v)
    return v - 2**64 if isinstance(v, int) and v >= 2**63 else v


REPLAY = {  # the op recomputed by torch from its inputs' recorded values
    "ViewBackward0": lambda f, a, k, shape: a[0].reshape(shape),
    "UnsafeViewBackward0": lambda f, a, k, shape: a[0].reshape(shape),
    "ReshapeAliasBackward0": lambda f, a, k, shape: a[0].reshape(shape),
    "CloneBackward0": lambda f, a, k, shape: a[0].clone(),
    "TBackward0": lambda f, a, k, shape: a[0].T,
    "TransposeBackward0": lambda f, a, k, shape: a[0].transpose(sv(f, "dim0"), sv(f, "dim1")),
    "PermuteBackward0": lambda f, a, k, shape: a[0].permute(sv(f, "dims")),
    "UnsqueezeBackward0": lambda f, a, k, shape: a[0].unsqueeze(sv(f, "dim")),
    "SqueezeBackward1": lambda f, a, k, shape: a[0].squeeze(sv(f, "dim")),
    "SelectBackward0": lambda f, a, k, shape: a[0].select(sv(f, "dim"), sv(f, "index")),
    "ExpandBackward0": lambda f, a, k, shape: a[0].expand(shape),
    "AddBackward0": lambda f, a, k, shape: a[0] + f._saved_alpha * a[1],
    "SubBackward0": lambda f, a, k, shape: a[0] - f._saved_alpha * a[1],
    "MulBackward0": lambda f, a, k, shape: a[0] * a[1],
    "BmmBackward0": lambda f, a, k, shape: a[0] @ a[1],
    "MmBackward0": lambda f, a, k, shape: a[0] @ a[1],
    "AddmmBackward0": lambda f, a, k, shape: f._saved_beta * a[0] + f._saved_alpha * a[1] @ a[2],
    "UnbindBackward0": lambda f, a, k, shape: a[0].unbind(sv(f, "dim"))[k],
    "SplitBackward0": lambda f, a, k, shape: a[0].split(sv(f, "split_size"), sv(f, "dim"))[k],
    "UnsafeSplitBackward0": lambda f, a, k, shape: a[0].split(sv(f, "split_size"), sv(f, "dim"))[k],
    "TanhBackward0": lambda f, a, k, shape: a[0].tanh(),
    "SigmoidBackward0": lambda f, a, k, shape: a[0].sigmoid(),
}


def check_against_torch(case: str):
    """Capture, then the oracle run; returns (trace, nodes checked by value)."""
    model, x, loss, y = build(case)
    forward = forward_of(model, x, loss, y)
    torch.manual_seed(1)
    tr = capture_module_graph(model, x, y, loss)
    torch.manual_seed(1)  # the same dropout masks as the capture drew
    outs, fns, module_out, grads = torch_sees(model, forward)
    nodes = [tr.nodes[f"n{i}"] for i in range(len(fns))]
    assert len(tr.nodes) == len(fns) + 1  # and the output node
    assert [n.grad_fn for n in nodes] == [type(f).__name__ for f in fns]
    index = {f: i for i, f in enumerate(fns)}
    checked: set[int] = set()

    def value_of(f, k):
        n = nodes[index[f]]
        return n.value if n.kind == "leaf" else out_value(n, k)

    # values: every copy torch shows must equal ours
    for (f, k), t in module_out.items():
        if f not in index:  # an output the loss does not use (a GRU's last state)
            continue
        assert close(out_value(nodes[index[f]], k), t), (case, nodes[index[f]].op, k)
        checked.add(index[f])
    for f in fns:
        for attr, k in (("_saved_result", 0), ("_saved_result1", 1), ("_saved_result2", 2)):
            t = getattr(f, attr, None)
            if isinstance(t, torch.Tensor) and k < nodes[index[f]].n_outputs:
                assert close(out_value(nodes[index[f]], k), t), (case, nodes[index[f]].op, attr)
                checked.add(index[f])
        for slot, t in saved_inputs(f):
            g, k = f.next_functions[slot]
            if g is not None and value_of(g, k) is not None and value_of(g, k).shape == t.shape:
                assert close(value_of(g, k), t), (case, type(f).__name__, slot)
                checked.add(index[g])
    for f in fns:
        replay = REPLAY.get(type(f).__name__)
        n = nodes[index[f]]
        ins = [(g, k) for g, k in f.next_functions]
        if replay is None or any(g is None for g, _k in ins):
            continue
        args = [torch.from_numpy(np.array(value_of(g, k))) for g, k in ins]
        for k in range(n.n_outputs):
            ours = out_value(n, k)
            want = replay(f, args, k, ours.shape)
            assert close(ours, want), (case, n.op, k)
        checked.add(index[f])
    for i, t in enumerate(outs):  # the model's outputs (or the loss) themselves
        assert close(out_value(nodes[index[t.grad_fn]], t.output_nr), t)
        checked.add(index[t.grad_fn])
        out = tr.nodes[OUTPUT_ID]
        assert close(out.values[i] if out.values else out.value, t)
    # gradients: what every node's hook received and passed on
    for f, (gin, gout) in grads.items():
        n = nodes[index[f]]
        step = tr.step_of(n.id)
        assert len(step.upstream) == len(gout)
        for ours, theirs in zip(step.upstream, gout, strict=True):
            assert close(ours, theirs), (case, n.op)
        if n.kind == "op":
            assert close(n.grad, gout[0])
            for k, g in enumerate(gout if n.grads else ()):
                assert close(n.grads[k], g), (case, n.op, k)
        passed = {e.slot: e.passed_on for e in step.passed}
        for slot, g in enumerate(gin):
            if f.next_functions[slot][0] is not None:
                assert close(passed[slot], g), (case, n.op, slot)
    for f in fns:
        if hasattr(f, "variable"):
            assert close(nodes[index[f]].grad, f.variable.grad)
    return tr, checked


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_value_and_gradient_is_what_torch_sees(case):
    tr, checked = check_against_torch(case)
    ops = [i for i in range(len(tr.nodes) - 1) if tr.nodes[f"n{i}"].kind == "op"]
    assert tr.missing_values() == []  # every op node has its value
    for i in ops:  # ... of the shape of its gradient
        n = tr.nodes[f"n{i}"]
        assert n.grad is None or n.value.shape == n.grad.shape
    # almost every op's value is confirmed by torch itself (the rest feed only ops
    # that neither save their inputs nor have a replay above)
    assert len(checked & set(ops)) >= 0.9 * len(ops), (len(checked & set(ops)), len(ops))


def test_the_transformer_layer_shows_every_value_inside_self_attention():
    tr, checked = check_against_torch("transformer-layer")
    attn = [n for n in tr.nodes.values() if n.kind == "op" and n.module == "self_attn"]
    assert len(attn) >= 30 and all(n.value is not None for n in attn)
    assert tr.every_value_shown


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_backward_nodes_as_torchviz(case, torchviz):
    model, x, loss, y = build(case)
    torch.manual_seed(1)
    tr = capture_module_graph(model, x, y, loss)
    torch.manual_seed(1)
    out = forward_of(model, x, loss, y)()
    outs = tuple(t for t in tree_leaves(out) if isinstance(t, torch.Tensor))
    ref = torchviz_graph(
        torchviz, outs if len(outs) > 1 else outs[0], dict(model.named_parameters())
    )
    ours = our_graph(tr)
    if len(outs) > 1:  # torchviz draws one output node per tensor, we draw one in all
        ours.remove_node(OUTPUT_ID)
        ref.remove_nodes_from([k for k, d in list(ref.nodes(data=True)) if d["label"] == "output"])
    assert_same_graph(ours, ref)


@pytest.fixture(scope="module")
def torchviz():
    import torchviz

    return torchviz


# --- several outputs, structured inputs and outputs ------------------------------------


class Splits(nn.Module):
    """unbind, split and chunk: nodes with several outputs, each used."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 6)

    def forward(self, x):
        h = self.lin(x)  # 4 × 6
        a, b, c = h[:, :3].unbind(1)
        d, e = h.split(2, dim=0)
        f, g = h.chunk(2, dim=1)
        return (a * b - c).sum() + (d * e).sum() + (f.tanh() * g).sum()


def test_multi_output_nodes_show_each_output_value_and_gradient():
    torch.manual_seed(0)
    model = Splits().double()
    x = torch.randn(4, 3, dtype=torch.float64)
    tr = capture_module_graph(model, x)
    by_op = {n.grad_fn: n for n in tr.nodes.values() if n.kind == "op"}
    h = model.lin(x).detach()
    for name, parts in (
        ("UnbindBackward0", h[:, :3].unbind(1)),
        ("SplitBackward0", None),  # split and chunk are both Split: checked below
    ):
        if parts is not None:
            n = by_op[name]
            assert n.n_outputs == 3 and len(n.values) == len(n.grads) == 3
            for k, p in enumerate(parts):
                assert close(n.values[k], p)
    splits = [n for n in tr.nodes.values() if n.grad_fn == "SplitBackward0"]
    assert len(splits) == 2
    for n in splits:
        assert n.n_outputs == 2 and all(v is not None for v in n.values)
        assert all(g is not None for g in n.grads)
    # the gradients each output received are torch's: hook the outputs directly
    a, b, c = (t.requires_grad_() for t in h[:, :3].clone().unbind(1))
    (a * b - c).sum().backward()
    unbind = by_op["UnbindBackward0"]
    for k, t in enumerate((a, b, c)):
        assert close(unbind.grads[k], t.grad)
    # edges say which output of a node feeds each consumer
    outs = {k for u, _v, d in tr.graph.edges(data=True) if u == unbind.id for k in d["outputs"]}
    assert outs == {0, 1, 2}


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)

    def forward(self, batch, extra, *, scale=1.0):
        return {"p": self.a(batch["x"]) * scale, "q": [self.b(extra[0]), self.b(extra[1])]}


def test_dict_list_and_keyword_inputs_and_outputs_work():
    torch.manual_seed(0)
    model = DictModel().double()
    batch = {"x": torch.randn(2, 3, dtype=torch.float64)}
    extra = [torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)]
    tr = capture_module_graph(model, (batch, extra), kwargs={"scale": 2.0})
    want = model(batch, extra, scale=2.0)
    out = tr.nodes[OUTPUT_ID]
    assert out.n_outputs == 3 and "['p']" in out.label and "['q'][1]" in out.label
    for ours, t in zip(out.values, (want["p"], *want["q"]), strict=True):
        assert close(ours, t)
    # backward seeds each output with ones: dL/dW of b sums both of its uses
    torch.autograd.backward([want["p"], *want["q"]], [torch.ones(2, 2, dtype=torch.float64)] * 3)
    assert close(tr.by_name("b.weight").grad, model.b.weight.grad)
    assert close(tr.by_name("a.weight").grad, model.a.weight.grad)
    assert tr.missing_values() == []
    # a dict alone is keyword arguments
    tr2 = capture_module_graph(model, {"batch": batch, "extra": extra})
    assert tr2.nodes[OUTPUT_ID].n_outputs == 3


def test_a_value_that_cannot_be_recovered_says_why():
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    made_before = w + 1  # outside the captured forward; Add saves nothing
    tr = capture_autograd_graph(lambda: (made_before + w).sum(), {"w": w})
    missing = tr.missing_values()
    assert [n.op for n in missing] == ["Add"]
    assert "before the captured forward" in missing[0].reason
    assert not tr.every_value_shown
    from nnviz.cli.graph_cmd import trace_json

    nodes = {n["id"]: n for n in trace_json(tr)["nodes"]}
    assert nodes[missing[0].id]["value"] is None
    assert "before the captured forward" in nodes[missing[0].id]["reason"]
    assert all(n["reason"] is None for i, n in nodes.items() if i != missing[0].id)


# --- capture leaves the model as it was ----------------------------------------------


class FlipsFlags(nn.Module):
    """BatchNorm (running statistics), dropout (the RNG) and a forward that
    changes a ``training`` flag (some code does)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = self.drop(torch.relu(self.bn(self.conv(x))))
        self.head.eval()
        return self.head(h.flatten(1))


def test_capture_leaves_batchnorm_statistics_rng_and_training_flags_as_they_were():
    torch.manual_seed(0)
    model = FlipsFlags().double().train()
    model.drop.eval()  # a mixed state must come back mixed
    model.drop.train()
    model.head.train()
    x = torch.randn(5, 1, 4, 4, dtype=torch.float64)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: m.training for n, m in model.named_modules()}
    torch.manual_seed(7)
    capture_module_graph(model, x, torch.tensor([0, 1, 0, 1, 1]), nn.CrossEntropyLoss())
    after_capture = torch.rand(4)
    torch.manual_seed(7)
    without = torch.rand(4)
    assert torch.equal(after_capture, without)  # the RNG is where it was: same dropout next
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k  # running_mean, running_var, num_batches_tracked
    assert {n: m.training for n, m in model.named_modules()} == flags
    assert int(model.bn.num_batches_tracked) == 0


def test_the_next_training_step_is_the_one_without_a_capture():
    def step(capture: bool):
        torch.manual_seed(0)
        model = FlipsFlags().double()
        x = torch.randn(5, 1, 4, 4, dtype=torch.float64)
        y = torch.tensor([0, 1, 0, 1, 1])
        if capture:
            capture_module_graph(model, x, y, nn.CrossEntropyLoss())
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        return loss.detach(), model.conv.weight.grad, model.bn.running_mean.clone()

    for a, b in zip(step(False), step(True), strict=True):
        assert torch.equal(a, b)


# --- autograd against finite differences ---------------------------------------------


def test_recorded_gradients_match_finite_differences():
    """A transformer layer in training mode (dropout on): the trace's parameter
    gradients against central differences, each evaluation with the same masks."""
    torch.manual_seed(0)
    model = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).double().train()
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    y = torch.randn(2, 3, 8, dtype=torch.float64)
    loss = nn.MSELoss()
    torch.manual_seed(3)
    tr = capture_module_graph(model, x, y, loss)
    params = dict(model.named_parameters())
    eps = 1e-6
    gen = np.random.default_rng(0)
    with torch.no_grad():
        for name in ("self_attn.in_proj_weight", "linear1.weight", "norm2.bias"):
            p, g = params[name], tr.by_name(name).grad
            for k in gen.choice(p.numel(), 4, replace=False):
                idx = np.unravel_index(int(k), tuple(p.shape))
                old = float(p[idx])
                diffs = []
                for sign in (1, -1):
                    p[idx] = old + sign * eps
                    torch.manual_seed(3)
                    diffs.append(float(loss(model(x), y)))
                p[idx] = old
                numeric = (diffs[0] - diffs[1]) / (2 * eps)
                assert abs(numeric - g[idx]) <= 1e-6 * max(1.0, abs(numeric)), (name, idx)


class Noisy(nn.Module):
    """Randomness outside torch's generator: a second run differs."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(3, 2)
        self.rng = np.random.default_rng(0)

    def forward(self, x):  # x: 2 × 5 × 4, so Linear b flattens h inside C++ (View → Addmm)
        return self.b(self.a(x) * torch.from_numpy(self.rng.normal(size=3))).sum()


def test_a_forward_that_is_not_repeatable_shows_the_plain_run_only():
    """Values come from the run whose graph is shown; the recording run's copies
    are not used when the two runs disagree, and what is missing says why."""
    torch.manual_seed(0)
    model = Noisy().double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    tr = capture_module_graph(model, x)
    draws = np.random.default_rng(0)
    draws.normal(size=3)  # the recording run's noise
    h = model.a(x) * torch.from_numpy(draws.normal(size=3))  # the plain run's
    mm = next(n for n in tr.nodes.values() if n.op == "Addmm" and n.module == "b")
    flat = next(tr.nodes[u] for u in tr.graph.predecessors(mm.id) if tr.nodes[u].op == "View")
    assert close(flat.value, h.reshape(10, 3))  # inside C++, yet the plain run's value
    assert close(tr.nodes[OUTPUT_ID].value, model.b(h).sum())
    assert all("different results when run twice" in n.reason for n in tr.missing_values())


class Doubler(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_custom_autograd_function_has_its_value():
    torch.manual_seed(0)
    lin = nn.Linear(3, 3).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    tr = capture_autograd_graph(lambda: Doubler.apply(lin(x)).tanh().sum(), lin)
    node = next(n for n in tr.nodes.values() if n.grad_fn == "DoublerBackward")
    assert close(node.value, 2 * lin(x))
    assert tr.missing_values() == []
