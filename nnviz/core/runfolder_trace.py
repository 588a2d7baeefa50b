"""Autograd traces in a run folder: plain JSON plus numeric arrays (no pickle)."""

from __future__ import annotations

import networkx as nx
import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.core.trace import AutogradTrace, BackwardStep, EdgeGrad, GraphNode

_NODE_TEXT = ("id", "kind", "op", "grad_fn", "name", "label", "module")


def trace_arrays(trace: AutogradTrace) -> tuple[dict, dict[str, np.ndarray]]:
    """A trace as (info: plain JSON, arrays: name -> numeric array)."""
    arrays: dict[str, np.ndarray] = {}

    def put(key: str, a) -> str | None:
        if a is None:
            return None
        arrays[key] = np.asarray(a)
        return key

    nodes = []
    for nid, n in trace.nodes.items():
        e = {k: getattr(n, k) for k in _NODE_TEXT}
        e["shape"] = [int(s) for s in n.shape]
        e["is_param"] = bool(n.is_param)
        e["value"] = put(f"v:{nid}", n.value)
        e["grad"] = put(f"g:{nid}", n.grad)
        nodes.append(e)
    edges = [[u, v, list(d.get("slots", ()))] for u, v, d in trace.graph.edges(data=True)]
    steps = []
    for s in trace.steps:
        steps.append(
            {
                "index": int(s.index),
                "node": s.node,
                "upstream": [put(f"u:{s.index}:{i}", a) for i, a in enumerate(s.upstream)],
                "passed": [
                    {
                        "src": p.src,
                        "slot": int(p.slot),
                        "passed_on": put(f"p:{s.index}:{j}", p.passed_on),
                        "local": put(f"l:{s.index}:{j}", p.local),
                    }
                    for j, p in enumerate(s.passed)
                ],
            }
        )
    info = {
        "nodes": nodes,
        "edges": edges,
        "output": trace.output,
        "forward_order": list(trace.forward_order),
        "backward_order": list(trace.backward_order),
        "steps": steps,
        "title": trace.title,
        "note": trace.note,
        "module_types": dict(trace.module_types),
        "train_step": trace.train_step,
        "target": put("target", trace.target),
        "scalar": bool(trace.scalar),
    }
    return info, arrays


def trace_from_arrays(info: dict, arrays: dict[str, np.ndarray]) -> AutogradTrace:
    """The inverse of :func:`trace_arrays`."""

    def get(key):
        return None if key is None else arrays[key]

    try:
        nodes = {}
        graph = nx.DiGraph()
        for e in info["nodes"]:
            node = GraphNode(
                **{k: e[k] for k in _NODE_TEXT},
                shape=tuple(e["shape"]),
                value=get(e["value"]),
                grad=get(e["grad"]),
                is_param=bool(e["is_param"]),
            )
            nodes[node.id] = node
            graph.add_node(node.id, node=node)
        for u, v, slots in info["edges"]:
            graph.add_edge(u, v, slots=tuple(slots))
        steps = tuple(
            BackwardStep(
                index=int(s["index"]),
                node=s["node"],
                upstream=tuple(get(k) for k in s["upstream"]),
                passed=tuple(
                    EdgeGrad(p["src"], int(p["slot"]), get(p["passed_on"]), get(p["local"]))
                    for p in s["passed"]
                ),
            )
            for s in info["steps"]
        )
        return AutogradTrace(
            graph=graph,
            nodes=nodes,
            output=info["output"],
            forward_order=tuple(info["forward_order"]),
            backward_order=tuple(info["backward_order"]),
            steps=steps,
            title=info.get("title", ""),
            note=info.get("note", ""),
            module_types=dict(info.get("module_types") or {}),
            train_step=info.get("train_step"),
            target=get(info.get("target")),
            scalar=bool(info.get("scalar")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NnvizError(f"a recorded autograd trace is damaged ({exc})") from None
