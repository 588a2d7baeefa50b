"""Record a forward + backward pass as an ``AutogradTrace``.

``capture_autograd_graph(fn, names)`` runs ``fn()`` twice. The recording run
(``autograd_forward.record_values``) copies the output of every ATen op,
including those made inside C++ composites (``autograd_values.OpValues``).
The plain run builds the graph exactly as training does; Python-level
recording (a ``TorchFunctionMode`` and module hooks) notes each op's module.
Its ``grad_fn.next_functions`` are walked into a networkx DiGraph, paired
with the recording run's nodes, and one backward runs with
``grad_fn.register_hook`` on every node, which autograd calls in its real
execution order with the gradients each node received (upstream) and passed
on. A node whose value could not be recorded says why (``GraphNode.reason``).
Both runs start from the same state (BatchNorm statistics, RNG, ``training``
flags) and leave it as it was. Everything is copied to read-only numpy
arrays: the trace is recorded once and replayed later, so nothing ever
blocks autograd mid-pass. What is known per op is the table in
``autograd_ops``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import networkx as nx
import torch
from torch import nn

from nnviz.core.arrays import frozen, frozen_or_none
from nnviz.core.autograd_forward import (
    LocalNames,
    Outputs,
    Recorder,
    module_scope,
    named_tensors,
    output_tensors,
    record_values,
    run_forward,
    split_named,
)
from nnviz.core.autograd_ops import local_derivative, short_op
from nnviz.core.autograd_values import (
    OpValues,
    missing_reason,
    next_sequence_nr,
    pair_graphs,
    recover_values,
    saved_values,
)
from nnviz.core.capture_state import kept_state
from nnviz.core.trace import OUTPUT_ID, AutogradTrace, BackwardStep, EdgeGrad, GraphNode

__all__ = ["Outputs", "capture_autograd_graph", "module_scope"]

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
    leaves and to intermediate results (``{"z": z}``) alike; ``output`` may be a
    tensor or, wrapped in ``Outputs``, a tuple, list or dict of tensors (the
    backward then seeds each with ones). ``local_names`` (default: on unless
    ``names`` is a module) names intermediate results after the variables of
    ``fn``'s frames. ``extra_modules`` (path → module, e.g. ``{"loss":
    loss_fn}``) group ops made outside ``names``'s modules. Leaf ``.grad``
    values are restored afterwards unless ``keep_grads``; the modules'
    buffers (BatchNorm statistics), ``training`` flags and torch's RNG state
    always are.
    """
    module = names if isinstance(names, nn.Module) else None
    named = named_tensors(names)
    hooked = list(module.named_modules()) if module is not None else []
    hooked += list((extra_modules or {}).items())
    if local_names is None:
        local_names = module is None
    locals_rec = LocalNames() if local_names else None
    keep = (module, *(extra_modules or {}).values())
    start_seq = next_sequence_nr()
    with kept_state(*keep):  # the recording run: every op's value
        ops, recorded = record_values(fn, hooked)
    rec = Recorder()
    with kept_state(*keep):  # the plain run: the graph as training makes it
        out = run_forward(fn, rec, hooked, locals_rec)
        out, named, inner = split_named(out, named)
        outs = output_tensors(out)
        var_tensors = inner + (
            [(locals_rec.names[id(t)], t) for t in locals_rec.keep]
            if locals_rec is not None
            else []
        )
        leaf_names = {id(t): n for n, t in named.items()}
        seen = _Seen(rec, ops, start_seq, outs, recorded)
        trace = _walk_and_backward(outs, seen, leaf_names, var_tensors, keep_grads)
    trace.module_types.update({p: type(m).__name__ for p, m in hooked if p})
    return replace(trace, title=title, note=note)


class _Seen:
    """What the forwards recorded, by node of the plain run: values Python saw in
    it, else the recording run's value of the paired node (every ATen op)."""

    def __init__(self, rec: Recorder, ops: OpValues, start_seq: int, outs, recorded) -> None:
        self.rec, self.ops, self.start_seq = rec, ops, start_seq
        real = [t for _k, t in outs]
        self.pairs = pair_graphs([t.grad_fn for t in real], [t.grad_fn for t in recorded])
        self.repeatable = len(real) == len(recorded) and all(
            _same(a, b) for a, b in zip(real, recorded, strict=True)
        )
        if self.repeatable:  # the values Python saw in both runs agree too
            for fn, v in rec.values.values():
                w = self._recorded(fn, 0)
                if w is not None and not _same(v, w):
                    self.repeatable = False
                    break

    def _recorded(self, fn, k: int) -> torch.Tensor | None:
        twin = self.pairs.get(id(fn))
        return self.ops.value(twin, k) if twin is not None else None

    def value(self, fn, k: int = 0) -> torch.Tensor | None:
        v = self.rec.value(fn) if k == 0 else None
        if v is None and self.repeatable:
            v = self._recorded(fn, k)
        return v

    def known(self, fn) -> bool:
        return self.value(fn) is not None

    def module(self, fn) -> str:
        twin = self.pairs.get(id(fn))
        return self.rec.modules.get(id(fn), "") or (self.ops.module(twin) if twin else "")

    def placed(self, fn) -> bool:
        """Whether either run saw which module (if any) made ``fn``."""
        twin = self.pairs.get(id(fn))
        return self.rec.value(fn) is not None or (twin is not None and id(twin) in self.ops.modules)

    def reason(self, fn) -> str:
        if not self.repeatable:
            return (
                "the forward gave different results when run twice (randomness outside "
                "torch's generator?), so values recorded in the second run were not used"
            )
        if id(fn) not in self.pairs and not hasattr(fn, "_forward_cls"):
            return "this op ran differently while values were recorded (no matching node)"
        return missing_reason(fn, self.start_seq, self.ops.over_budget)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same result from two runs of the forward (up to float rounding)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a, b = a.detach(), b.detach()
    if not (a.is_floating_point() or a.is_complex()):
        return bool(torch.equal(a, b))
    tol = 1e-5 if a.dtype in (torch.float64, torch.complex128) else 1e-3
    return bool(torch.allclose(a, b, rtol=tol, atol=tol * 1e-3, equal_nan=True))


def _walk(roots: list) -> tuple[dict[int, str], dict[str, object], dict, dict]:
    """Breadth first over grad_fn / next_functions from the outputs' nodes: ids by
    id(fn), the fns by id, the edges (input, consumer) -> the consumer's input
    slots, and the same edges -> which output of the input feeds each slot."""
    ids: dict[int, str] = {}
    fns: dict[str, object] = {}
    edges: dict[tuple[str, str], list[int]] = {}
    outputs: dict[tuple[str, str], list[int]] = {}
    queue = []
    for f in roots:
        if id(f) not in ids:
            ids[id(f)] = f"n{len(ids)}"
            fns[ids[id(f)]] = f
            queue.append(f)
    head = 0
    while head < len(queue):
        f = queue[head]
        head += 1
        fid = ids[id(f)]
        for slot, (g, k) in enumerate(f.next_functions):
            if g is None:
                continue
            if id(g) not in ids:
                gid = f"n{len(ids)}"
                ids[id(g)] = gid
                fns[gid] = g
                queue.append(g)
            edges.setdefault((ids[id(g)], fid), []).append(slot)
            outputs.setdefault((ids[id(g)], fid), []).append(int(k))
    return ids, fns, edges, outputs


def _clone_all(grads) -> tuple:
    return tuple(None if g is None else g.detach().clone() for g in grads)


def _backward(outs: list[torch.Tensor], fns: dict, keep_grads: bool):
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
        # a single number needs no seed tensor (passing one imports sympy: seconds)
        seeds = [None if t.numel() == 1 else torch.ones_like(t) for t in outs]
        torch.autograd.backward(outs, seeds if any(g is not None for g in seeds) else None)
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


def _op_node(nid, f, seen: _Seen, gout: tuple, used: int) -> GraphNode:
    """An op node: its value(s) and gradient(s), or the reason a value is missing."""
    n_out = max(len(gout), used)
    vals = [seen.value(f, k) for k in range(max(n_out, 1))]
    vt = vals[0]
    value = frozen_or_none(vt)
    grad = frozen_or_none(_first(gout))
    shape = tuple(vt.shape) if vt is not None else (grad.shape if grad is not None else ())
    multi = n_out > 1
    cls = type(f).__name__
    return GraphNode(
        id=nid,
        kind="op",
        op=short_op(cls),
        grad_fn=cls,
        name="",
        label=short_op(cls),
        shape=tuple(shape),
        value=value,
        grad=grad,
        module=seen.module(f),
        values=tuple(frozen_or_none(v) for v in vals) if multi else (),
        grads=tuple(frozen_or_none(g) for g in gout) if multi else (),
    )


def _leaf_node(nid, f, t, acc, gout, leaf_names, var_names) -> GraphNode:
    cls = type(f).__name__
    name = leaf_names.get(id(t)) or var_names.get(id(t), "")
    return GraphNode(
        id=nid,
        kind="leaf",
        op=short_op(cls),
        grad_fn=cls,
        name=name,
        label=name or short_op(cls),
        shape=tuple(t.shape),
        value=frozen(t),
        grad=frozen_or_none(acc if acc is not None else _first(gout)),
        is_param=isinstance(t, nn.Parameter),
    )


def _walk_and_backward(outs, seen: _Seen, leaf_names, var_tensors, keep_grads) -> AutogradTrace:
    var_names = {id(t): n for n, t in var_tensors}
    tensors = [t for _k, t in outs]
    ids, fns, edges, edge_outputs = _walk([t.grad_fn for t in tensors])
    results, saved_inputs = saved_values(fns, edges, seen.known)
    order, raw, leaves, accumulated = _backward(tensors, fns, keep_grads)

    used: dict[str, int] = {}  # how many outputs of each node are consumed
    for (src, _dst), ks in edge_outputs.items():
        used[src] = max(used.get(src, 0), max(ks) + 1)
    for t in tensors:
        src = ids[id(t.grad_fn)]
        used[src] = max(used.get(src, 0), t.output_nr + 1)
    nodes: dict[str, GraphNode] = {}
    for nid, f in fns.items():
        gout = raw.get(nid, ((), ()))[1]
        if nid in leaves:
            acc = accumulated.get(nid)
            nodes[nid] = _leaf_node(nid, f, leaves[nid], acc, gout, leaf_names, var_names)
            continue
        node = _op_node(nid, f, seen, gout, used.get(nid, 1))
        if node.value is None and nid in results:
            v = frozen(results[nid])
            node = replace(node, value=v, shape=node.shape or v.shape)
            if node.values:
                node = replace(node, values=(v, *node.values[1:]))
        nodes[nid] = node
    recover_values(nodes, saved_inputs, edges)
    for nid, n in nodes.items():
        if n.kind == "op" and n.value is None:
            nodes[nid] = replace(n, reason=seen.reason(fns[nid]))
    # names of intermediate variables (u, v, L) for expressions
    by_fn: dict[int, str] = {}
    for vname, t in var_tensors:
        if t.grad_fn is not None:
            by_fn.setdefault(id(t.grad_fn), vname)
    for nid, f in fns.items():
        nm = by_fn.get(id(f))
        if nm and nodes[nid].kind == "op":
            nodes[nid] = replace(nodes[nid], name=nm, label=nm)
    unseen = {nid for nid, f in fns.items() if nid not in leaves and not seen.placed(f)}
    _infer_modules(nodes, edges, unseen)

    nodes[OUTPUT_ID] = _output_node(outs, var_names)
    graph = nx.DiGraph()
    for nid in nodes:
        graph.add_node(nid, node=nodes[nid])
    for (src, dst), slots in edges.items():
        graph.add_edge(src, dst, slots=tuple(slots), outputs=tuple(edge_outputs[(src, dst)]))
    for i, t in enumerate(tensors):
        src = ids[id(t.grad_fn)]
        d = graph.get_edge_data(src, OUTPUT_ID)
        slots, kk = (d["slots"], d["outputs"]) if d else ((), ())
        graph.add_edge(src, OUTPUT_ID, slots=(*slots, i), outputs=(*kk, t.output_nr))

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


def _output_node(outs, var_names) -> GraphNode:
    """The output: the forward's result (several: each in ``values``; the
    backward seeds each with ones)."""
    first = outs[0][1]
    name = var_names.get(id(first), "") if len(outs) == 1 else ""
    many = len(outs) > 1
    label = name or ("outputs " + ", ".join(k for k, _t in outs) if many else "output")
    return GraphNode(
        id=OUTPUT_ID,
        kind="output",
        op="output",
        grad_fn="",
        name=name,
        label=label,
        shape=tuple(first.shape),
        value=frozen(first),
        grad=frozen(torch.ones_like(first)),  # the seed of the backward
        module="",
        values=tuple(frozen(t) for _k, t in outs) if many else (),
        grads=tuple(frozen(torch.ones_like(t)) for _k, t in outs) if many else (),
    )


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
