"""Capture a forward + backward pass as a graph with every value and gradient.

``capture_autograd_graph(fn, names)`` runs ``fn()`` once while recording each
operation's output (a ``TorchFunctionMode``, module hooks and, for ops made
inside C++ composites, ``_saved_result``), walks ``grad_fn.next_functions``
into a networkx DiGraph, then runs one backward with ``grad_fn.register_hook``
on every node, which autograd calls in its real execution order with the
gradients each node received (upstream) and passed on. Everything is copied
to read-only numpy arrays: the trace is recorded once and replayed later, so
nothing ever blocks autograd mid-pass.

Node ids are ``n0, n1, ...`` in the order the graph walk meets them (output
first); the output tensor is its own node ``out``. Edges run from input to
consumer (forward direction).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nnviz.core.errors import NnvizError

OUTPUT_ID = "out"
_TORCH_DIR = str(Path(torch.__file__).parent)

# Local derivatives in words, by op (for the chain-rule panel).
LOCAL_FORMULAS = {
    "Mul": "the other factor",
    "Add": "1",
    "Sub": "+1 / −1",
    "Div": "1/b, −a/b²",
    "Neg": "−1",
    "Sigmoid": "σ(z)(1 − σ(z))",
    "Tanh": "1 − tanh²(z)",
    "Relu": "1 if z > 0 else 0",
    "Exp": "exp(z)",
    "Log": "1/z",
    "Mean": "1/n",
    "Sum": "1",
    "Pow": "p·z^(p−1)",
    "Abs": "sign(z)",
    "Sqrt": "1/(2√z)",
    "Addmm": "z = b + x·Wᵀ, so dL/dx = dL/dz·W, dL/dWᵀ = xᵀ·dL/dz, dL/db = Σ_rows dL/dz",
    "Mm": "z = x·W, so dL/dx = dL/dz·Wᵀ, dL/dW = xᵀ·dL/dz",
    "T": "transposes the gradient back",
    "View": "reshapes the gradient back",
    "Reshape": "reshapes the gradient back",
    "Stack": "splits the gradient back to each input",
    "LogSoftmax": "g − softmax(z)·Σg row by row (g: upstream)",
    "NllLoss": "−1/m at each row's target class, 0 elsewhere",
    "BinaryCrossEntropy": "(a − y) / (a(1 − a)·m)",
    "MseLoss": "2(ŷ − y)/m",
}


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def to_numpy(t: torch.Tensor | None) -> np.ndarray | None:
    """A read-only numpy copy of a tensor (None stays None)."""
    if t is None:
        return None
    t = t.detach()
    if t.is_complex():
        t = t.abs()
    if t.layout != torch.strided:
        t = t.to_dense()
    a = t.to("cpu", copy=True)
    if a.dtype in (torch.bfloat16, torch.float16):
        a = a.float()
    return _ro(np.array(a.numpy(), copy=True))


def short_op(grad_fn_name: str) -> str:
    """``MulBackward0`` → ``Mul``; ``AccumulateGrad`` stays."""
    name = grad_fn_name
    for suffix in ("Backward0", "Backward1", "Backward2", "Backward"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


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
    graph: nx.DiGraph = field(repr=False)  # node attr "node": GraphNode; edge attr "slots"
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

    def leaf_grads(self) -> dict[str, np.ndarray]:
        return {n.name: n.grad for n in self.nodes.values() if n.kind == "leaf" and n.name}


# --- forward recording -----------------------------------------------------------

_LOCAL = threading.local()  # the captures running in this thread (worker and GUI apart)


def _active() -> list[_Recorder]:
    if not hasattr(_LOCAL, "recorders"):
        _LOCAL.recorders = []
    return _LOCAL.recorders


class module_scope:  # noqa: N801 (used like a function: ``with module_scope("0"):``)
    """Ops made inside ``with module_scope(path):`` during a capture belong to
    module ``path`` (for forwards that compute a module's work by hand, like the
    scalar graph)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        for rec in _active():
            rec.module_stack.append(self.path)

    def __exit__(self, *exc) -> None:
        for rec in _active():
            rec.module_stack.pop()


class _Recorder(TorchFunctionMode):
    """Maps each new grad_fn to a detached copy of its output and its module."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[int, tuple[object, torch.Tensor]] = {}  # id(grad_fn) -> (fn, value)
        self.modules: dict[int, str] = {}
        self.module_stack: list[str] = []

    def note(self, out) -> None:
        if isinstance(out, torch.Tensor):
            fn = out.grad_fn
            if fn is not None and id(fn) not in self.values:
                self.values[id(fn)] = (fn, out.detach().clone())
                if self.module_stack:
                    self.modules[id(fn)] = self.module_stack[-1]
        elif isinstance(out, list | tuple):
            for o in out:
                self.note(o)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.is_grad_enabled():
            self.note(out)
        return out


class _LocalNames:
    """Variable names of tensors in the frames of an expression (u, v, L)."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.keep: list[torch.Tensor] = []
        self.depth = 0

    def __call__(self, frame, event, arg) -> None:
        if event == "call":
            self.depth += 1
        elif event == "return":
            fname = frame.f_code.co_filename
            if 0 < self.depth <= 2 and not fname.startswith(_TORCH_DIR) and fname != __file__:
                for k, v in frame.f_locals.items():
                    fresh = isinstance(v, torch.Tensor) and id(v) not in self.names
                    if fresh and not k.startswith("_"):
                        self.names[id(v)] = k
                        self.keep.append(v)  # ids stay unique while we look
            self.depth -= 1


def _module_of(names) -> nn.Module | None:
    return names if isinstance(names, nn.Module) else None


def _named_tensors(names) -> dict[str, torch.Tensor]:
    if names is None:
        return {}
    if isinstance(names, nn.Module):
        return dict(names.named_parameters())
    return dict(names)


# --- the capture ----------------------------------------------------------------------


def capture_autograd_graph(
    fn: Callable[[], torch.Tensor],
    names: Mapping[str, torch.Tensor] | nn.Module | None = None,
    *,
    title: str = "",
    note: str = "",
    local_names: bool | None = None,
    keep_grads: bool = False,
    extra_modules: Mapping[str, nn.Module] | None = None,
) -> AutogradTrace:
    """Run ``fn()`` (a forward returning the output) and one backward; record all.

    ``names`` names leaves and parameters (a name → tensor mapping, or a module
    whose ``named_parameters`` are used; a module also gives each op its owning
    module path). ``fn`` may return ``(output, named)``: ``named`` maps names to
    leaves and to intermediate results (``{"z": z}``) alike. ``local_names``
    (default: on unless ``names`` is a module) names intermediate results after
    the variables of ``fn``'s frames. ``extra_modules`` (path → module, e.g.
    ``{"loss": loss_fn}``) group ops made outside ``names``'s modules. Leaf
    ``.grad`` values are restored afterwards unless ``keep_grads``.
    """
    module = _module_of(names)
    named = _named_tensors(names)
    rec = _Recorder()
    handles = []
    hooked = list(module.named_modules()) if module is not None else []
    hooked += list((extra_modules or {}).items())
    if hooked:
        for path, m in hooked:

            def pre(_m, _inp, path=path):
                rec.module_stack.append(path)

            def post(_m, _inp, out, path=path):
                rec.module_stack.pop()
                if out is not None:
                    rec.note(out)

            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
    if local_names is None:
        local_names = module is None
    locals_rec = _LocalNames() if local_names else None
    old_profile = sys.getprofile()
    try:
        with torch.enable_grad():
            if locals_rec is not None:
                sys.setprofile(locals_rec)
            try:
                _active().append(rec)
                with rec:
                    out = fn()
            finally:
                _active().remove(rec)
                if locals_rec is not None:
                    sys.setprofile(old_profile)
    finally:
        for h in handles:
            h.remove()
    inner: list[tuple[str, torch.Tensor]] = []  # named intermediate results
    if isinstance(out, tuple):  # expression scenarios: (out, leaves)
        out, extra = out
        extra = dict(extra)
        inner = [(k, t) for k, t in extra.items() if t.grad_fn is not None]
        named = {**{k: t for k, t in extra.items() if t.grad_fn is None}, **named}
    if not isinstance(out, torch.Tensor):
        raise NnvizError("the forward must return a tensor; return the loss or output")
    if out.grad_fn is None:
        raise NnvizError(
            "the output does not depend on anything that requires a gradient; "
            "mark the leaves with requires_grad=True"
        )
    var_tensors = inner + (
        [(locals_rec.names[id(t)], t) for t in locals_rec.keep] if locals_rec is not None else []
    )
    leaf_names = {id(t): n for n, t in named.items()}
    trace = _walk_and_backward(out, rec, leaf_names, var_tensors, title, note, keep_grads)
    trace.module_types.update({p: type(m).__name__ for p, m in hooked if p})
    return trace


def _walk_and_backward(out, rec, leaf_names, var_tensors, title, note, keep_grads) -> AutogradTrace:
    var_names = {id(t): n for n, t in var_tensors}
    # 1. walk grad_fn / next_functions (breadth first from the output)
    ids: dict[int, str] = {}
    fns: dict[str, object] = {}
    edges: dict[tuple[str, str], list[int]] = {}
    queue = [out.grad_fn]
    ids[id(out.grad_fn)] = "n0"
    fns["n0"] = out.grad_fn
    head = 0
    while head < len(queue):
        f = queue[head]
        head += 1
        fid = ids[id(f)]
        for slot, (g, _k) in enumerate(f.next_functions):
            if g is None:
                continue
            if id(g) not in ids:
                gid = f"n{len(ids)}"
                ids[id(g)] = gid
                fns[gid] = g
                queue.append(g)
            edges.setdefault((ids[id(g)], fid), []).append(slot)

    saved_results: dict[str, torch.Tensor] = {}
    for nid, f in fns.items():  # outputs kept by the op itself (freed by backward)
        entry = rec.values.get(id(f))
        if entry is None or entry[0] is not f:
            try:
                r = getattr(f, "_saved_result", None)
            except RuntimeError:
                r = None
            if isinstance(r, torch.Tensor):
                saved_results[nid] = r.detach().clone()
    saved_inputs = _saved_inputs(fns, edges, rec, saved_results)

    # 2. one backward with a hook on every node
    order: list[str] = []
    raw: dict[str, tuple] = {}

    def make_hook(nid):
        def hook(grad_inputs, grad_outputs):
            order.append(nid)
            raw[nid] = (
                tuple(None if g is None else g.detach().clone() for g in grad_inputs),
                tuple(None if g is None else g.detach().clone() for g in grad_outputs),
            )

        return hook

    hooks = [f.register_hook(make_hook(nid)) for nid, f in fns.items()]
    leaves = {nid: f.variable for nid, f in fns.items() if hasattr(f, "variable")}
    saved = {nid: (None if t.grad is None else t.grad.clone()) for nid, t in leaves.items()}
    try:
        for t in leaves.values():
            t.grad = None
        seed = torch.ones_like(out)
        out.backward(seed)
        accumulated = {nid: t.grad for nid, t in leaves.items()}
    finally:
        for h in hooks:
            h.remove()
        if not keep_grads:
            for nid, t in leaves.items():
                t.grad = saved[nid]

    # 3. nodes
    graph = nx.DiGraph()
    nodes: dict[str, GraphNode] = {}
    for nid, f in fns.items():
        cls = type(f).__name__
        op = short_op(cls)
        module = ""
        if nid in leaves:
            t = leaves[nid]
            value = to_numpy(t)
            acc = accumulated.get(nid)
            grad = to_numpy(acc if acc is not None else _first(raw.get(nid, ((), ()))[1]))
            name = leaf_names.get(id(t)) or var_names.get(id(t), "")
            is_param = isinstance(t, nn.Parameter)
            kind, shape = "leaf", tuple(t.shape)
        else:
            kind, is_param = "op", False
            entry = rec.values.get(id(f))
            vt = entry[1] if entry is not None and entry[0] is f else None
            if vt is None:
                vt = saved_results.get(nid)
            value = to_numpy(vt)
            up = raw.get(nid, ((), ()))[1]
            grad = to_numpy(_first(up))
            shape = (
                tuple(vt.shape)
                if vt is not None
                else (tuple(grad.shape) if grad is not None else ())
            )
            name = ""
            module = rec.modules.get(id(f), "")
        nodes[nid] = GraphNode(
            id=nid,
            kind=kind,
            op=op,
            grad_fn=cls,
            name=name,
            label=name or op,
            shape=shape,
            value=value,
            grad=grad,
            module=module,
            is_param=is_param,
        )
    _recover_values(nodes, saved_inputs, edges)
    # names of intermediate variables (u, v, L) for expressions
    by_fn: dict[int, str] = {}
    for vname, t in var_tensors:
        if t.grad_fn is not None:
            by_fn.setdefault(id(t.grad_fn), vname)
    for nid, f in fns.items():
        nm = by_fn.get(id(f))
        if nm and nodes[nid].kind == "op":
            nodes[nid] = _replace(nodes[nid], name=nm, label=nm)
    unseen = {nid for nid in fns if nid not in leaves and not _recorded(rec, fns[nid])}
    _infer_modules(nodes, edges, unseen)

    out_name = var_names.get(id(out), "")
    nodes[OUTPUT_ID] = GraphNode(
        id=OUTPUT_ID,
        kind="output",
        op="output",
        grad_fn="",
        name=out_name,
        label=out_name or "output",
        shape=tuple(out.shape),
        value=to_numpy(out),
        grad=to_numpy(seed),
        module="",
    )
    for nid in nodes:
        graph.add_node(nid, node=nodes[nid])
    for (src, dst), slots in edges.items():
        graph.add_edge(src, dst, slots=tuple(slots))
    graph.add_edge("n0", OUTPUT_ID, slots=(0,))

    # 4. backward steps
    steps = []
    for i, nid in enumerate(order):
        gin, gout = raw[nid]
        f = fns[nid]
        up = tuple(to_numpy(g) for g in gout)
        passed = []
        for slot, (g, _k) in enumerate(f.next_functions):
            if g is None or slot >= len(gin):
                continue
            pg = to_numpy(gin[slot])
            loc = _local(nodes[nid].op, up[0] if up else None, pg)
            passed.append(EdgeGrad(ids[id(g)], slot, pg, loc))
        steps.append(BackwardStep(i, nid, up, tuple(passed)))

    forward = _forward_order(graph, fns)
    return AutogradTrace(
        graph=graph,
        nodes=nodes,
        output=OUTPUT_ID,
        forward_order=forward,
        backward_order=tuple(order),
        steps=tuple(steps),
        title=title,
        note=note,
    )


# Which saved tensor of a consumer holds its input at a slot (for ops whose own
# output is not visible from Python, like the transpose inside nn.Linear).
_SAVED_INPUT = {
    "AddmmBackward0": {1: "_saved_mat1", 2: "_saved_mat2"},
    "MmBackward0": {0: "_saved_self", 1: "_saved_mat2"},
    "BmmBackward0": {0: "_saved_self", 1: "_saved_mat2"},
}
_SAVED_DEFAULT = {0: "_saved_self", 1: "_saved_other"}
# Unary ops whose value follows from their input's.
_UNARY = {
    "T": lambda x: x.T,
    "Abs": np.abs,
    "Neg": np.negative,
    "Relu": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "Tanh": np.tanh,
    "Exp": np.exp,
}


def _saved_inputs(fns: dict, edges, rec, saved_results) -> dict[str, torch.Tensor]:
    """For ops whose output was not seen: a copy of it from a consumer that saved
    it as its input (taken before backward frees it)."""
    found: dict[str, torch.Tensor] = {}
    for (src, dst), slots in edges.items():
        f = fns[src]
        if src in found or src in saved_results or hasattr(f, "variable"):
            continue
        entry = rec.values.get(id(f))
        if entry is not None and entry[0] is f:
            continue
        g = fns[dst]
        for slot in slots:
            attr = _SAVED_INPUT.get(type(g).__name__, _SAVED_DEFAULT).get(slot)
            try:
                t = getattr(g, attr, None) if attr else None
            except RuntimeError:
                t = None
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                found[src] = t.detach().clone()
                break
    return found


def _recover_values(nodes: dict[str, GraphNode], saved_inputs: dict, edges) -> None:
    """Fill in values of ops made inside C++ (Linear's transpose, L1Loss's
    difference): from a consumer that saved them as its input, else from the
    input's value for a few unary ops. Only when the shape fits the gradient."""
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    for nid in nx.topological_sort(g):
        n = nodes[nid]
        if n.kind != "op" or n.value is not None:
            continue
        want = tuple(n.grad.shape) if n.grad is not None else None
        value = None
        t = saved_inputs.get(nid)
        if t is not None and (want is None or tuple(t.shape) == want):
            value = to_numpy(t)
        ins = list(g.predecessors(nid))
        if value is None and n.op in _UNARY and len(ins) == 1:
            src = nodes[ins[0]].value
            if src is not None:
                with np.errstate(all="ignore"):
                    v = np.asarray(_UNARY[n.op](np.asarray(src, dtype=np.float64)))
                if want is None or v.shape == want:
                    value = _ro(np.array(v.astype(src.dtype), copy=True))
        if value is not None:
            nodes[nid] = _replace(n, value=value, shape=n.shape or tuple(value.shape))


def _forward_order(graph: nx.DiGraph, fns: dict) -> tuple[str, ...]:
    """The order the forward ran in (autograd numbers nodes as they are made);
    a leaf comes right before its first consumer."""
    seq: dict[str, float] = {}
    for nid, f in fns.items():
        if not hasattr(f, "variable"):
            try:
                seq[nid] = float(f._sequence_nr())
            except (AttributeError, RuntimeError):
                seq[nid] = -float(nid[1:])
    big = float("inf")
    key = {}
    for nid in graph.nodes:
        if nid == OUTPUT_ID:
            key[nid] = (big, 1, 0)
        elif nid in seq:
            key[nid] = (seq[nid], 1, 0)
        else:  # a leaf: just before its first consumer
            first = min((seq.get(s, big) for s in graph.successors(nid)), default=big)
            key[nid] = (first, 0, int(nid[1:]))
    return tuple(nx.lexicographical_topological_sort(graph, key=key.__getitem__))


def _first(seq):
    return seq[0] if seq else None


def _replace(obj, **kw):
    from dataclasses import replace

    return replace(obj, **kw)


# Ops whose output entry k depends only on entry k of each input (same shape).
ELEMENTWISE = frozenset(
    [
        "Mul",
        "Div",
        "Add",
        "Sub",
        "Neg",
        "Sigmoid",
        "Tanh",
        "Relu",
        "Exp",
        "Log",
        "Pow",
        "Abs",
        "Sqrt",
        "Clone",
        "Gelu",
        "Silu",
        "Elu",
        "LeakyRelu",
        "Hardtanh",
        "Softplus",
        "Rsub",
        "Reciprocal",
        "Square",
        "Sin",
        "Cos",
    ]
)


def _local(op: str, up: np.ndarray | None, passed: np.ndarray | None) -> np.ndarray | None:
    """The local derivative, passed_on / upstream, where it is one: for an
    elementwise op, or when the op's output is a single number."""
    if up is None or passed is None:
        return None
    if up.size != 1 and not (op in ELEMENTWISE and up.shape == passed.shape):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        loc = np.where(up != 0, passed / np.where(up != 0, up, 1), np.nan)
    return _ro(np.asarray(loc, dtype=np.float64).reshape(passed.shape))


def _recorded(rec: _Recorder, f) -> bool:
    entry = rec.values.get(id(f))
    return entry is not None and entry[0] is f


def _infer_modules(nodes: dict[str, GraphNode], edges, unseen: set[str] = frozenset()) -> None:
    """Ops made inside C++ composites (``unseen`` from Python) get the module of
    the op that came out of the composite, or of a neighbour on both sides; a
    parameter gets its name's module."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for s, d in edges:
        succ.setdefault(s, []).append(d)
        pred.setdefault(d, []).append(s)
    g = nx.DiGraph(list(edges))
    for nid in reversed(list(nx.topological_sort(g))):  # consumers first
        n = nodes[nid]
        if nid in unseen and not n.module and n.kind == "op":
            outs = {nodes[s].module for s in succ.get(nid, ())}
            if len(outs) == 1 and "" not in outs:
                nodes[nid] = _replace(n, module=outs.pop())
    for nid, n in list(nodes.items()):
        if not n.module and n.kind == "leaf" and n.is_param and n.name:
            mod = n.name.rpartition(".")[0]
            if mod:
                nodes[nid] = _replace(n, module=mod)
    for nid, n in list(nodes.items()):
        if not n.module and n.kind == "op":
            cands = [nodes[p].module for p in pred.get(nid, ()) if nodes[p].module]
            outs = [nodes[s].module for s in succ.get(nid, ()) if nodes[s].module]
            common = set(cands) & set(outs)
            if common:
                nodes[nid] = _replace(n, module=sorted(common)[0])


# --- models and scenarios -----------------------------------------------------------


def capture_module_graph(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    loss_fn: Callable | None = None,
    *,
    title: str = "",
    note: str = "",
) -> AutogradTrace:
    """``loss_fn(model(x), y)`` (or ``model(x)`` without a loss), grouped by module;
    a loss that is an ``nn.Module`` groups as module ``loss``."""

    def forward():
        out = model(x)
        return loss_fn(out, y) if loss_fn is not None else out

    extra = {"loss": loss_fn} if isinstance(loss_fn, nn.Module) else None
    trace = capture_autograd_graph(forward, model, title=title, note=note, extra_modules=extra)
    if y is not None and loss_fn is not None:
        trace = _replace(trace, target=to_numpy(y))
    return trace


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    table = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "linear": lambda z: z,
        "identity": lambda z: z,
    }
    if name not in table:
        raise NnvizError(
            f"the scalar graph handles sigmoid, tanh, relu and linear neurons, not {name!r}; "
            "use the tensor graph for this model"
        )
    return table[name]


MAX_SCALAR_WEIGHTS = 200
SCALAR_NODE_BUDGET = 60  # rows of the batch are added while a row adds fewer nodes


def scalar_rows(model: nn.Module, max_rows: int = 4) -> int:
    """How many rows of a batch the scalar graph shows: as many as keep it near
    ``SCALAR_NODE_BUDGET`` nodes (at least one, at most ``max_rows``)."""
    from nnviz.core.models import neuron_layers

    layers = neuron_layers(model)
    if not layers:
        return 1
    per_row = layers[0].fan_in + sum(la.width * (2 * la.fan_in + 1) for la in layers)
    return max(1, min(max_rows, SCALAR_NODE_BUDGET // max(per_row, 1)))


def scalar_mlp_forward(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable
) -> tuple[Callable[[], tuple[torch.Tensor, dict]], dict[str, torch.Tensor]]:
    """The same forward as ``model`` with every neuron expanded into scalar ops.

    Each weight and bias becomes its own scalar leaf (``0.weight[j,i]``), each
    input ``x[r,i]`` too, so every weight's gradient appears on its own node
    (micrograd style). A neuron's sum is named ``z{l}[r,j]`` and its activation
    ``a{l}[r,j]`` (layer ``l`` from 1, row ``r``, neuron ``j``), and its ops belong
    to the Linear's and the activation's module paths. Returns
    ``(forward, leaves)``; ``forward()`` returns ``(loss, named results)``.
    """
    from nnviz.core.models import neuron_layers

    layers = neuron_layers(model)
    mods = dict(model.named_modules())
    n_w = sum(layer.width * (layer.fan_in + 1) for layer in layers)
    if not layers or n_w > MAX_SCALAR_WEIGHTS:
        raise NnvizError(
            f"the scalar graph is for tiny networks (at most {MAX_SCALAR_WEIGHTS} weights, "
            f"this one has {n_w}); use the tensor graph"
        )
    dtype = next(model.parameters()).dtype
    leaves: dict[str, torch.Tensor] = {}

    def leaf(name: str, v: float, param: bool = True) -> torch.Tensor:
        t = torch.tensor(float(v), dtype=dtype, requires_grad=True)
        t = nn.Parameter(t) if param else t  # weights look like parameters
        leaves[name] = t
        return t

    params = []
    for layer in layers:
        lin = mods[layer.linear]
        W = lin.weight.detach().cpu()
        B = lin.bias.detach().cpu() if lin.bias is not None else None
        w = [
            [leaf(f"{layer.linear}.weight[{j},{i}]", W[j, i]) for i in range(W.shape[1])]
            for j in range(W.shape[0])
        ]
        b = (
            [leaf(f"{layer.linear}.bias[{j}]", B[j]) for j in range(W.shape[0])]
            if B is not None
            else None
        )
        params.append((layer, w, b))
    xs = x.detach().cpu().reshape(x.shape[0], -1)
    inputs = [
        [leaf(f"x[{r},{i}]", xs[r, i], param=False) for i in range(xs.shape[1])]
        for r in range(xs.shape[0])
    ]

    def forward() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        named: dict[str, torch.Tensor] = {}
        outs = []
        for r in range(len(inputs)):
            a = inputs[r]
            for li, (layer, w, b) in enumerate(params, start=1):
                act = _activation(layer.activation)
                nxt = []
                for j in range(len(w)):
                    with module_scope(layer.linear):
                        z = w[j][0] * a[0]
                        for i in range(1, len(a)):
                            z = z + w[j][i] * a[i]
                        if b is not None:
                            z = z + b[j]
                    named[f"z{li}[{r},{j}]"] = z
                    with module_scope(layer.act or layer.linear):
                        aj = act(z)
                    if aj is not z:
                        named[f"a{li}[{r},{j}]"] = aj
                    nxt.append(aj)
                a = nxt
            outs.extend(a)
        out = torch.stack(outs)  # one Stack for every output of every row
        target = y.detach().cpu()
        if target.dtype.is_floating_point:  # regression-style targets: match entry by entry
            target = target.reshape(out.shape)
        else:  # class labels: rows of logits
            out = out.reshape(len(inputs), -1)
        return loss_fn(out, target), named

    return forward, leaves


def capture_trainer_graph(trainer, scalar: bool = False, max_rows: int = 4) -> AutogradTrace:
    """One forward + backward of ``trainer``'s next batch (no update).

    ``scalar``: the micrograd-style graph of the first rows of the batch (at
    most ``max_rows``, fewer when a row alone makes a big graph).
    """
    x, y = trainer.sample_batch()
    trace = _capture_batch(trainer, x, y, scalar, max_rows)
    return _replace(trace, train_step=trainer.step_count)


def _capture_batch(trainer, x, y, scalar: bool, max_rows: int) -> AutogradTrace:
    sc = trainer.scenario
    if scalar:
        rows = min(scalar_rows(trainer.model, max_rows), int(x.shape[0]))
        fwd, leaves = scalar_mlp_forward(trainer.model, x[:rows], y[:rows], trainer.loss_fn)
        loss = trainer.loss_fn
        trace = capture_autograd_graph(
            fwd,
            leaves,
            title=sc.title,
            note=f"scalar graph of {rows} row{'s' if rows != 1 else ''} of the batch",
            local_names=False,
            extra_modules={"loss": loss} if isinstance(loss, nn.Module) else None,
        )
        trace.module_types.update(
            {p: type(m).__name__ for p, m in trainer.model.named_modules() if p}
        )
        return _replace(trace, target=to_numpy(y[:rows]), scalar=True)
    return capture_module_graph(
        trainer.model,
        x,
        y,
        trainer.loss_fn,
        title=sc.title,
        note=f"one batch of {int(x.shape[0])}",
    )


def capture_scenario_graph(scenario_id: str, scalar: bool = False, seed: int = 0, data_dir=None):
    """The trace ``nnviz graph ID`` prints."""
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario(scenario_id)
    if sc.kind == "expression":
        if scalar:
            raise NnvizError(f"{sc.id} is already a scalar expression; drop --scalar")
        return capture_autograd_graph(sc.expression, title=sc.title)
    from nnviz.core.engine import TrainConfig, Trainer

    trainer = Trainer(sc, TrainConfig.for_scenario(sc, seed=seed), data_dir=data_dir)
    return capture_trainer_graph(trainer, scalar=scalar)
