"""Our backward graph has the nodes and edges torchviz's ``make_dot`` draws.

torchviz is in the ``[test]`` extra; this test needs it (it is the reference).
``make_dot`` only builds the DOT source (the ``graphviz`` Python package), so
no Graphviz binary is needed.
"""

from __future__ import annotations

import re
from collections import Counter

import networkx as nx
import pytest
import torch
from torch import nn

from nnviz.core.autograd_graph import capture_module_graph
from nnviz.core.engine import Trainer
from nnviz.core.scenarios import get_scenario
from nnviz.core.trace import OUTPUT_ID, AutogradTrace

NODE = re.compile(
    r'^\s*(\d+) \[label=(?:"((?:[^"\\]|\\.)*)"|(\S+?))(?: fillcolor=(\w+))?\]\s*$', re.S
)
EDGE = re.compile(r"^\s*(\d+) -> (\d+)")


@pytest.fixture(scope="module")
def torchviz():
    try:
        import torchviz
    except ImportError:  # pragma: no cover - the [test] extra installs it
        pytest.fail("torchviz is missing: pip install -e '.[test]' (it is the reference here)")
    return torchviz


def torchviz_graph(torchviz, out: torch.Tensor, params: dict) -> nx.MultiDiGraph:
    """The backward graph in make_dot's DOT source: grad_fn nodes labelled by class,
    AccumulateGrad by its parameter's name and shape, the output as ``output``."""
    dot = torchviz.make_dot(out, params=params)
    labels, fills, edges = {}, {}, []
    for line in dot.body:
        if m := EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        elif m := NODE.match(line):
            labels[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
            fills[m.group(1)] = m.group(4)
    g = nx.MultiDiGraph()
    tensors = {k for k, f in fills.items() if f is not None}
    for k, lab in labels.items():
        if fills[k] is None:
            g.add_node(k, label=lab)
        elif fills[k].startswith("darkolivegreen"):
            g.add_node(k, label="output")
    for u, v in edges:
        if u in tensors and v not in tensors:  # a parameter into its AccumulateGrad
            name, _, shape = labels[u].partition("\n")
            g.nodes[v]["label"] = f"AccumulateGrad:{name}:{shape.strip()}"
        elif u not in tensors:
            g.add_edge(u, v)
    return g


def our_graph(tr: AutogradTrace) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for nid, n in tr.nodes.items():
        if n.kind == "output":
            lab = "output"
        elif n.kind == "leaf":
            shape = "(" + ", ".join(map(str, n.shape)) + ")"
            lab = f"AccumulateGrad:{n.name}:{shape}"
        else:
            lab = n.grad_fn
        g.add_node(nid, label=lab)
    for u, v, d in tr.graph.edges(data=True):
        for _ in d["slots"]:  # an input used twice is two edges, as in torchviz
            g.add_edge(u, v)
    return g


def assert_same_graph(ours: nx.MultiDiGraph, ref: nx.MultiDiGraph) -> None:
    def labels(g):
        return Counter(d["label"] for _, d in g.nodes(data=True))

    def edge_labels(g):
        return Counter((g.nodes[u]["label"], g.nodes[v]["label"]) for u, v in g.edges())

    assert labels(ours) == labels(ref)
    assert edge_labels(ours) == edge_labels(ref)
    assert nx.is_isomorphic(ours, ref, node_match=lambda a, b: a["label"] == b["label"])


def test_mnist_mlp_has_the_backward_nodes_torchviz_finds(torchviz):
    t = Trainer(get_scenario("mnist-mlp"))
    x, y = t.sample_batch()
    tr = capture_module_graph(t.model, x, y, t.loss_fn)
    ref = torchviz_graph(torchviz, t.loss_fn(t.model(x), y), dict(t.model.named_parameters()))
    assert_same_graph(our_graph(tr), ref)
    # 16 backward nodes: 3 × (AccumulateGrad weight, T, AccumulateGrad bias, Addmm),
    # 2 Relu, LogSoftmax, NllLoss
    ops = Counter(d["label"].partition(":")[0] for _, d in ref.nodes(data=True))
    assert ops == {
        "AccumulateGrad": 6,
        "TBackward0": 3,
        "AddmmBackward0": 3,
        "ReluBackward0": 2,
        "LogSoftmaxBackward0": 1,
        "NllLossBackward0": 1,
        "output": 1,
    }
    assert len(tr.backward_order) == 16


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        h = torch.tanh(self.a(x))
        k = h * self.b(h) + h  # h feeds three ops
        return (k * k).sum(dim=1)  # k used twice by one op


def test_branching_and_a_tensor_used_twice_match_torchviz(torchviz):
    torch.manual_seed(0)
    model = Branchy()
    x = torch.randn(5, 3)
    tr = capture_module_graph(model, x, torch.zeros(5), nn.MSELoss())
    ref = torchviz_graph(
        torchviz, nn.MSELoss()(model(x), torch.zeros(5)), dict(model.named_parameters())
    )
    assert_same_graph(our_graph(tr), ref)
    mul_twice = [(u, v) for u, v, d in tr.graph.edges(data=True) if d["slots"] == (0, 1)]  # k * k
    assert len(mul_twice) == 1 and tr.nodes[mul_twice[0][1]].op == "Mul"
    assert tr.output == OUTPUT_ID
