"""Every op's forward value, recorded where autograd makes it.

Python sees only the tensors a model's code returns; most of a real model's
autograd nodes are made inside C++ (a Linear on 3-D input is View → T → Addmm
→ View; self-attention is dozens of ops inside one call). ``OpValues`` is a
``TorchDispatchMode``: it runs below autograd, so every ATen op passes through
it, including those composites make. It copies each floating-point output and,
once autograd has attached the output to its node (by the next op, or at the
end of the forward), files the copy under ``(node, output index)``. That gives
each output of multi-output nodes (Unbind, Split, an RNN's gates) too.

A dispatch mode changes how a few composites decompose (``reshape`` becomes
``view`` instead of ``_reshape_alias``), so the values come from a recording
run of the forward and the graph from a plain one; ``pair_graphs`` matches
their nodes by walking both graphs from the outputs in step.

What it cannot see (a custom ``autograd.Function``, a tensor made before the
capture began) falls back on what autograd saved (``_saved_result``, a
consumer's saved input) and on recomputing a few unary ops from their input;
a node still without a value gets a reason saying why.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nnviz.core.arrays import frozen
from nnviz.core.autograd_ops import saved_input_attr, short_op, value_from_input
from nnviz.core.trace import GraphNode

MAX_VALUE_BYTES = 512 * 2**20  # copies of op outputs one capture keeps at most


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, list | tuple):
        return [o for o in out if isinstance(o, torch.Tensor)]
    return []


class OpValues(TorchDispatchMode):
    """(id(grad_fn), output index) → a copy of that output, for every op run
    while the mode is on; and the module each op ran in (``module_stack``'s top)."""

    def __init__(self, module_stack: list[str], budget: int = MAX_VALUE_BYTES) -> None:
        super().__init__()
        self.module_stack = module_stack
        self.budget = budget
        self.used = 0
        self.over_budget = False
        self.values: dict[tuple[int, int], tuple[object, torch.Tensor]] = {}
        self.modules: dict[int, str] = {}
        self._pending: list[tuple[torch.Tensor, torch.Tensor, str]] = []

    def _keep(self, t: torch.Tensor, module: str) -> None:
        if not (t.is_floating_point() or t.is_complex()):
            return  # integer outputs (indices, masks) take no gradient
        size = t.numel() * t.element_size()
        if self.used + size > self.budget:
            self.over_budget = True
            return
        self.used += size
        self._pending.append((t, t.detach().clone(), module))

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch would wrap __torch_dispatch__ in torch._disable_dynamo, whose first
        # call imports torch._dynamo (5-7 s); nothing is compiled inside a capture.
        return False

    def flush(self) -> None:
        """File what earlier ops made under the nodes autograd has attached by now."""
        for t, v, module in self._pending:
            fn = t.grad_fn
            if fn is None:
                continue
            key = (id(fn), t.output_nr)
            if key not in self.values:
                self.values[key] = (fn, v)
                self.modules.setdefault(id(fn), module)  # "" too: made outside any module
        self._pending.clear()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.flush()  # the previous op's outputs have their grad_fn by now
        out = func(*args, **(kwargs or {}))
        module = self.module_stack[-1] if self.module_stack else ""
        for t in _tensors(out):
            self._keep(t, module)
            if func._schema.is_mutable and t._base is not None:
                self._keep(t._base, module)  # in place on a view: the base changed too
        return out

    def value(self, fn, k: int = 0) -> torch.Tensor | None:
        entry = self.values.get((id(fn), k))
        return entry[1] if entry is not None and entry[0] is fn else None

    def module(self, fn) -> str:
        return self.modules.get(id(fn), "")


_SAME_OP = {"ReshapeAliasBackward0": "ViewBackward0"}  # what the recording run makes instead


def _same_op(a, b) -> bool:
    na, nb = type(a).__name__, type(b).__name__
    return _SAME_OP.get(na, na) == _SAME_OP.get(nb, nb)


def pair_graphs(real_roots: list, recorded_roots: list) -> dict[int, object]:
    """id(node of the plain run) → the same node of the recording run, walking
    both graphs from their outputs in step; where they differ, the walk stops
    (those nodes stay unpaired)."""
    pairs: dict[int, object] = {}
    queue = list(zip(real_roots, recorded_roots, strict=False))
    while queue:
        a, b = queue.pop()
        if a is None or b is None or id(a) in pairs or not _same_op(a, b):
            continue
        pairs[id(a)] = b
        na, nb = a.next_functions, b.next_functions
        if len(na) == len(nb):
            queue.extend((ga, gb) for (ga, ka), (gb, kb) in zip(na, nb, strict=True) if ka == kb)
    return pairs


def next_sequence_nr() -> int:
    """The sequence number autograd gives the next node made in this thread."""
    with torch.enable_grad():
        probe = torch.zeros(1, requires_grad=True).mul(1)
    return int(probe.grad_fn._sequence_nr()) + 1


def saved(f, attr: str | None) -> torch.Tensor | None:
    """A tensor autograd saved on node ``f`` (None once freed or absent)."""
    try:
        t = getattr(f, attr, None) if attr else None
    except RuntimeError:  # freed by an earlier backward
        return None
    return t if isinstance(t, torch.Tensor) else None


def saved_values(fns: dict, edges, known) -> tuple[dict, dict]:
    """For ops without a recorded value (``known(f)`` is False): the output the op
    kept itself (``_saved_result``), else a copy from a consumer that saved it as
    its input. Taken before backward frees them."""
    results: dict[str, torch.Tensor] = {}
    for nid, f in fns.items():
        r = saved(f, "_saved_result") if not known(f) else None
        if r is not None:
            results[nid] = r.detach().clone()
    inputs: dict[str, torch.Tensor] = {}
    for (src, dst), slots in edges.items():
        f = fns[src]
        if src in inputs or src in results or hasattr(f, "variable") or known(f):
            continue
        g = fns[dst]
        for slot in slots:
            t = saved(g, saved_input_attr(short_op(type(g).__name__), slot))
            if t is not None and t.is_floating_point():
                inputs[src] = t.detach().clone()
                break
    return results, inputs


def recover_values(nodes: dict[str, GraphNode], saved_inputs: dict, edges) -> None:
    """Fill in values still missing: from a consumer that saved them as its
    input, else from the input's value for a few unary ops. Only when the shape
    fits the gradient."""
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
            values = (value, *n.values[1:]) if n.values else ()
            nodes[nid] = replace(
                n, value=value, values=values, shape=n.shape or tuple(value.shape), reason=""
            )


def missing_reason(fn, start_seq: int, over_budget: bool) -> str:
    """Why the value of ``fn``'s output is not in the trace."""
    if hasattr(fn, "_forward_cls"):  # a custom autograd.Function
        return (
            "made by a custom autograd.Function whose forward returned a tensor "
            "autograd then re-wrapped; its output was not recorded"
        )
    try:
        before = int(fn._sequence_nr()) < start_seq
    except (AttributeError, RuntimeError):
        before = False
    if before:
        return "made before the captured forward began (a tensor computed outside it)"
    if over_budget:
        return (
            f"not kept: one capture keeps at most {MAX_VALUE_BYTES // 2**20} MB of values; "
            "a smaller batch shows every value"
        )
    return "autograd did not keep this output and nnviz cannot recompute it"
