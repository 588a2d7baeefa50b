"""``nnviz graph ID [--json]``: one forward + backward, every node's value and gradient."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nnviz.cli.common import nonnegative_int, print_json
from nnviz.core.trace import AutogradTrace, GraphNode

MAX_LISTED = 64  # tensors with more elements are summarised


def register(sub) -> None:
    p = sub.add_parser(
        "graph", help="one forward + backward: the autograd graph with values and gradients"
    )
    p.add_argument("scenario", metavar="ID", help="scenario id (see `nnviz scenarios`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--scalar",
        action="store_true",
        help="tiny networks: every neuron as scalar multiply, add and activation nodes",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument("--data", type=Path, default=None, help="folder with the data set's files")
    p.set_defaults(func=run)


def summary(a: np.ndarray) -> dict:
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    stats = {"numel": int(a.size)}
    if finite.size:
        stats.update(
            mean=float(finite.mean()),
            std=float(finite.std()),
            min=float(finite.min()),
            max=float(finite.max()),
            norm=float(np.linalg.norm(finite)),
        )
    stats["nonfinite"] = int(a.size - finite.size)
    return stats


def tensor_json(a: np.ndarray | None):
    if a is None:
        return None
    if a.size <= MAX_LISTED:
        return a.tolist()
    return summary(a)


def node_json(n: GraphNode) -> dict:
    d = {
        "id": n.id,
        "op": n.op,
        "kind": n.kind,
        "name": n.name or None,
        "shape": list(n.shape),
        "value": tensor_json(n.value),
        "grad": tensor_json(n.grad),
        "grad_fn": n.grad_fn or None,
        "module": n.module or None,
    }
    if n.kind == "leaf":
        d["parameter"] = n.is_param
    return d


def trace_json(trace: AutogradTrace, scenario_id: str = "") -> dict:
    return {
        "scenario": scenario_id,
        "title": trace.title,
        "note": trace.note,
        "nodes": [node_json(trace.nodes[i]) for i in trace.forward_order],
        "edges": [[u, v] for u, v in trace.graph.edges],
        "backward_order": list(trace.backward_order),
        "output": trace.output,
        "target": tensor_json(trace.target),  # the batch's y (model graphs), else null
        "train_step": trace.train_step,
    }


def _fmt(a: np.ndarray | None) -> str:
    if a is None:
        return "—"
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]):.6g}"
    if a.size <= 6:
        return "[" + ", ".join(f"{v:.4g}" for v in a.reshape(-1).tolist()) + "]"
    s = summary(a)
    if "mean" not in s:
        return f"{s['numel']} values, all non-finite"
    return f"mean {s['mean']:.4g} ± {s['std']:.3g} [{s['min']:.3g}, {s['max']:.3g}]"


def print_table(trace: AutogradTrace) -> None:
    rank = {nid: i + 1 for i, nid in enumerate(trace.backward_order)}
    rows = [("id", "kind", "op", "name", "shape", "module", "bwd#", "value", "grad")]
    for nid in trace.forward_order:
        n = trace.nodes[nid]
        rows.append(
            (
                n.id,
                n.kind,
                n.op,
                n.name or "",
                "×".join(map(str, n.shape)) or "scalar",
                n.module,
                str(rank.get(nid, "")),
                _fmt(n.value),
                _fmt(n.grad),
            )
        )
    widths = [min(max(len(r[c]) for r in rows), 40) for c in range(len(rows[0]))]
    if trace.title:
        print(trace.title + (f" ({trace.note})" if trace.note else ""))
    for r in rows:
        print("  ".join(cell[:40].ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    inputs: dict[str, list[str]] = {}
    for u, v in trace.graph.edges:
        inputs.setdefault(v, []).append(u)
    print("\nbackward (autograd's order):")
    for step in trace.steps:
        n = trace.nodes[step.node]
        parts = [f"{step.index + 1:>3}. {n.label} ({n.grad_fn}) upstream {_fmt(step.upstream0)}"]
        for e in step.passed:
            parts.append(f"→ {trace.nodes[e.src].label}: {_fmt(e.passed_on)}")
        print(" ".join(parts))


def run(args: argparse.Namespace) -> int:
    from nnviz.core.autograd_graph import capture_scenario_graph

    trace = capture_scenario_graph(
        args.scenario, scalar=args.scalar, seed=args.seed, data_dir=args.data
    )
    if args.json:
        print_json(trace_json(trace, args.scenario))
    else:
        print_table(trace)
    return 0
