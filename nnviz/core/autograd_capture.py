"""Record a forward + backward pass as an ``AutogradTrace``.

``capture_autograd_graph(fn, names)`` runs ``fn()`` once while recording each
operation's output (a ``TorchFunctionMode``, module hooks and, for ops made
inside C++ composites, ``_saved_result``), walks ``grad_fn.next_functions``
into a networkx DiGraph, then runs one backward with ``grad_fn.register_hook``
on every node, which autograd calls in its real execution order with the
gradients each node received (upstream) and passed on. Everything is copied
to read-only numpy arrays: the trace is recorded once and replayed later, so
nothing ever blocks autograd mid-pass. What is known per op (formulas, saved
inputs, values recovered from inputs) is the table in ``autograd_ops``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import networkx as nx
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nnviz.core.arrays import frozen, frozen_or_none
from nnviz.core.autograd_ops import (
    local_derivative,
    saved_input_attr,
    short_op,
    value_from_input,
)
from nnviz.core.errors import NnvizError
from nnviz.core.trace import OUTPUT_ID, AutogradTrace, BackwardStep, EdgeGrad, GraphNode

_TORCH_DIR = str(Path(torch.__file__).parent)

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

    def value(self, fn) -> torch.Tensor | None:
        """The output recorded for ``fn`` (None if Python never saw it)."""
        entry = self.values.get(id(fn))
        return entry[1] if entry is not None and entry[0] is fn else None

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


def _named_tensors(names) -> dict[str, torch.Tensor]:
    if names is None:
        return {}
    if isinstance(names, nn.Module):
        return dict(names.named_parameters())
    return dict(names)


def _hook_modules(rec: _Recorder, hooked: list[tuple[str, nn.Module]]) -> list:
    """Forward hooks that tell ``rec`` which module each op is made in."""
    handles = []
    for path, m in hooked:

        def pre(_m, _inp, path=path):
            rec.module_stack.append(path)

        def post(_m, _inp, out, path=path):
            rec.module_stack.pop()
            if out is not None:
                rec.note(out)

        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    return handles


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
    module = names if isinstance(names, nn.Module) else None
    named = _named_tensors(names)
    rec = _Recorder()
    hooked = list(module.named_modules()) if module is not None else []
    hooked += list((extra_modules or {}).items())
    handles = _hook_modules(rec, hooked)
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
    trace = _walk_and_backward(out, rec, leaf_names, var_tensors, keep_grads)
    trace.module_types.update({p: type(m).__name__ for p, m in hooked if p})
    return replace(trace, title=title, note=note)


def _walk(out: torch.Tensor) -> tuple[dict[int, str], dict[str, object], dict]:
    """Breadth first over grad_fn / next_functions from the output: ids by id(fn),
    the fns by id, and the edges (input, consumer) -> the consumer's input slots."""
    ids: dict[int, str] = {id(out.grad_fn): "n0"}
    fns: dict[str, object] = {"n0": out.grad_fn}
    edges: dict[tuple[str, str], list[int]] = {}
    queue = [out.grad_fn]
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
    return ids, fns, edges


def _saved(f, attr: str | None) -> torch.Tensor | None:
    """A tensor autograd saved on node ``f`` (None once freed or absent)."""
    try:
        t = getattr(f, attr, None) if attr else None
    except RuntimeError:  # freed by an earlier backward
        return None
    return t if isinstance(t, torch.Tensor) else None


def _saved_values(fns: dict, edges, rec: _Recorder) -> tuple[dict, dict]:
    """For ops whose output Python did not see: the output the op kept itself
    (``_saved_result``), else a copy from a consumer that saved it as its input.
    Taken before backward frees them."""
    results: dict[str, torch.Tensor] = {}
    for nid, f in fns.items():
        r = _saved(f, "_saved_result") if rec.value(f) is None else None
        if r is not None:
            results[nid] = r.detach().clone()
    inputs: dict[str, torch.Tensor] = {}
    for (src, dst), slots in edges.items():
        f = fns[src]
        if src in inputs or src in results or hasattr(f, "variable") or rec.value(f) is not None:
            continue
        g = fns[dst]
        for slot in slots:
            t = _saved(g, saved_input_attr(short_op(type(g).__name__), slot))
            if t is not None and t.is_floating_point():
                inputs[src] = t.detach().clone()
                break
    return results, inputs


def _clone_all(grads) -> tuple:
    return tuple(None if g is None else g.detach().clone() for g in grads)


def _backward(out: torch.Tensor, fns: dict, keep_grads: bool):
    """One backward with a hook on every node: the order autograd ran them in,
    each node's (grad_inputs, grad_outputs), the leaves and what they accumulated."""
    order: list[str] = []
    raw: dict[str, tuple] = {}

    def make_hook(nid):
        def hook(grad_inputs, grad_outputs):
            order.append(nid)
            raw[nid] = (_clone_all(grad_inputs), _clone_all(grad_outputs))

        return hook

    hooks = [f.register_hook(make_hook(nid)) for nid, f in fns.items()]
    leaves = {nid: f.variable for nid, f in fns.items() if hasattr(f, "variable")}
    saved = {nid: (None if t.grad is None else t.grad.clone()) for nid, t in leaves.items()}
    try:
        for t in leaves.values():
            t.grad = None
        out.backward(torch.ones_like(out))
        accumulated = {nid: t.grad for nid, t in leaves.items()}
    finally:
        for h in hooks:
            h.remove()
        if not keep_grads:
            for nid, t in leaves.items():
                t.grad = saved[nid]
    return order, raw, leaves, accumulated


def _first(seq):
    return seq[0] if seq else None


def _walk_and_backward(out, rec, leaf_names, var_tensors, keep_grads) -> AutogradTrace:
    var_names = {id(t): n for n, t in var_tensors}
    ids, fns, edges = _walk(out)
    saved_results, saved_inputs = _saved_values(fns, edges, rec)
    order, raw, leaves, accumulated = _backward(out, fns, keep_grads)

    nodes: dict[str, GraphNode] = {}
    for nid, f in fns.items():
        cls = type(f).__name__
        module = ""
        if nid in leaves:
            t = leaves[nid]
            value = frozen(t)
            acc = accumulated.get(nid)
            grad = frozen_or_none(acc if acc is not None else _first(raw.get(nid, ((), ()))[1]))
            name = leaf_names.get(id(t)) or var_names.get(id(t), "")
            is_param = isinstance(t, nn.Parameter)
            kind, shape = "leaf", tuple(t.shape)
        else:
            kind, is_param, name = "op", False, ""
            vt = rec.value(f)
            if vt is None:
                vt = saved_results.get(nid)
            value = frozen_or_none(vt)
            grad = frozen_or_none(_first(raw.get(nid, ((), ()))[1]))
            shape = tuple(vt.shape) if vt is not None else (grad.shape if grad is not None else ())
            module = rec.modules.get(id(f), "")
        nodes[nid] = GraphNode(
            id=nid,
            kind=kind,
            op=short_op(cls),
            grad_fn=cls,
            name=name,
            label=name or short_op(cls),
            shape=tuple(shape),
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
            nodes[nid] = replace(nodes[nid], name=nm, label=nm)
    unseen = {nid for nid, f in fns.items() if nid not in leaves and rec.value(f) is None}
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
        value=frozen(out),
        grad=frozen(torch.ones_like(out)),  # the seed of the backward
        module="",
    )
    graph = nx.DiGraph()
    for nid in nodes:
        graph.add_node(nid, node=nodes[nid])
    for (src, dst), slots in edges.items():
        graph.add_edge(src, dst, slots=tuple(slots))
    graph.add_edge("n0", OUTPUT_ID, slots=(0,))

    steps = []
    for i, nid in enumerate(order):
        gin, gout = raw[nid]
        up = tuple(frozen_or_none(g) for g in gout)
        passed = []
        for slot, (g, _k) in enumerate(fns[nid].next_functions):
            if g is None or slot >= len(gin):
                continue
            pg = frozen_or_none(gin[slot])
            loc = local_derivative(nodes[nid].op, up[0] if up else None, pg)
            passed.append(EdgeGrad(ids[id(g)], slot, pg, loc))
        steps.append(BackwardStep(i, nid, up, tuple(passed)))

    return AutogradTrace(
        graph=graph,
        nodes=nodes,
        output=OUTPUT_ID,
        forward_order=_forward_order(graph, fns),
        backward_order=tuple(order),
        steps=tuple(steps),
    )


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
            value = frozen(t)
        ins = list(g.predecessors(nid))
        if value is None and len(ins) == 1 and nodes[ins[0]].value is not None:
            src = nodes[ins[0]].value
            v = value_from_input(n.op, src)
            if v is not None and (want is None or v.shape == want):
                value = frozen(v.astype(src.dtype))
        if value is not None:
            nodes[nid] = replace(n, value=value, shape=n.shape or tuple(value.shape))


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
                nodes[nid] = replace(n, module=outs.pop())
    for nid, n in list(nodes.items()):
        if not n.module and n.kind == "leaf" and n.is_param and n.name:
            mod = n.name.rpartition(".")[0]
            if mod:
                nodes[nid] = replace(n, module=mod)
    for nid, n in list(nodes.items()):
        if not n.module and n.kind == "op":
            cands = [nodes[p].module for p in pred.get(nid, ()) if nodes[p].module]
            outs = [nodes[s].module for s in succ.get(nid, ()) if nodes[s].module]
            common = set(cands) & set(outs)
            if common:
                nodes[nid] = replace(n, module=sorted(common)[0])
