"""The frozen record of one forward + backward pass, as the views read it.

An ``AutogradTrace`` is made once by ``nnviz.core.autograd_capture`` and then
only read: every value and gradient is a read-only numpy array, so the trace
crosses from the worker thread to the views safely. This module imports no
torch (the graph views import it for these types and nothing else).

Node ids are ``n0, n1, ...`` in the order the graph walk meets them (output
first); the output tensor is its own node ``out`` (a model returning several
tensors: one ``out`` node with each of them in ``values``). Edges run from input
to consumer (forward direction); an edge's ``slots`` are the consumer's input
slots it feeds and ``outputs`` which output of the producer feeds each slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

OUTPUT_ID = "out"
MAX_SCALAR_WEIGHTS = 200  # the scalar graph is for networks this small (scalar_graph.py)


@dataclass(frozen=True)
class GraphNode:
    id: str
    kind: str  # "leaf", "op" or "output"
    op: str  # short op name: Mul, Addmm, AccumulateGrad, ...
    grad_fn: str  # torch's node class name (MulBackward0), "" for the output
    name: str  # a leaf's or parameter's name, a variable name, or ""
    label: str  # what a view shows: name, else op
    shape: tuple[int, ...]
    value: np.ndarray | None  # the forward value (None if not recorded)
    grad: np.ndarray | None  # dOut/d(this node's output): upstream / accumulated grad
    module: str = ""  # owning nn.Module path ("" for none)
    is_param: bool = False
    reason: str = ""  # why ``value`` is None (an op whose output could not be recovered)
    # Nodes with several outputs (Unbind, Split, an RNN's gates; the output node of a
    # model returning a tuple or dict): each output's value and gradient, in order
    # (``value`` / ``grad`` are output 0's). Empty for single-output nodes.
    values: tuple[np.ndarray | None, ...] = ()
    grads: tuple[np.ndarray | None, ...] = ()

    @property
    def n_outputs(self) -> int:
        return max(len(self.values), len(self.grads), 1)


@dataclass(frozen=True)
class EdgeGrad:
    """One input edge of a backward step: what the node passed on along it."""

    src: str  # the input node (it receives the gradient)
    slot: int  # which of the node's inputs
    passed_on: np.ndarray | None
    local: np.ndarray | None  # passed_on / upstream where that is elementwise, else None


@dataclass(frozen=True)
class BackwardStep:
    index: int
    node: str
    upstream: tuple[np.ndarray | None, ...]  # grad_outputs
    passed: tuple[EdgeGrad, ...]  # grad_inputs, one per input edge that takes a gradient

    @property
    def upstream0(self) -> np.ndarray | None:
        return self.upstream[0] if self.upstream else None


@dataclass(frozen=True)
class AutogradTrace:
    graph: nx.DiGraph = field(repr=False)  # node attr "node"; edge attrs "slots", "outputs"
    nodes: dict[str, GraphNode] = field(repr=False)
    output: str  # the output node's id
    forward_order: tuple[str, ...]  # ops and leaves in a topological (forward) order
    backward_order: tuple[str, ...]  # node ids in autograd's execution order
    steps: tuple[BackwardStep, ...] = field(repr=False)
    title: str = ""
    note: str = ""
    module_types: dict[str, str] = field(default_factory=dict, repr=False)  # path -> class
    train_step: int | None = None  # the training step the batch came from (trainer graphs)
    target: np.ndarray | None = field(default=None, repr=False)  # the batch's targets y
    scalar: bool = False  # the micrograd-style graph (every weight its own node)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> GraphNode:
        return self.nodes[node_id]

    def by_name(self, name: str) -> GraphNode:
        for n in self.nodes.values():
            if n.name == name:
                return n
        raise KeyError(name)

    def step_of(self, node_id: str) -> BackwardStep | None:
        for s in self.steps:
            if s.node == node_id:
                return s
        return None

    def modules(self) -> list[str]:
        """Module paths that own nodes, in forward order."""
        seen: dict[str, None] = {}
        for nid in self.forward_order:
            m = self.nodes[nid].module
            if m:
                seen.setdefault(m, None)
        return list(seen)

    def missing_values(self) -> list[GraphNode]:
        """Op nodes whose forward value is not in the trace (each says why in ``reason``)."""
        return [n for n in self.nodes.values() if n.kind == "op" and n.value is None]

    @property
    def every_value_shown(self) -> bool:
        """True when every node has its value: what a view may then claim."""
        return all(n.value is not None for n in self.nodes.values())

    def leaf_grads(self) -> dict[str, np.ndarray]:
        return {n.name: n.grad for n in self.nodes.values() if n.kind == "leaf" and n.name}


@dataclass(frozen=True)
class GradCheckRow:
    name: str  # parameter or leaf name
    index: tuple[int, ...]  # entry within it
    autograd: float
    numeric: float
    rel_error: float


@dataclass(frozen=True)
class GradCheckResult:
    """Finite differences beside autograd (``nnviz.core.gradcheck`` makes it)."""

    rows: tuple[GradCheckRow, ...]
    max_rel_error: float
    eps: float

    @property
    def ok(self) -> bool:
        return self.max_rel_error < 1e-4
