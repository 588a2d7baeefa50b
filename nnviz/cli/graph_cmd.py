"""``nnviz graph ID [--json]``: one forward + backward, every node's value and gradient."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nnviz.cli.common import (
    TARGET_HELP,
    check_data_flag,
    nonnegative_int,
    print_json,
    resolve_target,
)
from nnviz.core.trace import AutogradTrace, GraphNode

MAX_LISTED = 64  # tensors with more elements are summarised


def register(sub) -> None:
    p = sub.add_parser(
        "graph", help="one forward + backward: the autograd graph with values and gradients"
    )
    p.add_argument("scenario", metavar="ID|FILE.py", help=TARGET_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--scalar",
        action="store_true",
        help="tiny networks: every neuron as scalar multiply, add and activation nodes",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument("--data", type=Path, default=None, help="folder with the data set's files")
    p.add_argument("--weights", type=Path, metavar="FILE", help="start from a saved state_dict")
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
    # --- values of real models (issue 9) ---
    d["reason"] = n.reason or None  # why "value" is null, when it is
    if n.values or n.grads:  # several outputs (Unbind, Split, a tuple-returning model)
        d["outputs"] = [
            {
                "value": tensor_json(n.values[k] if k < len(n.values) else None),
                "grad": tensor_json(n.grads[k] if k < len(n.grads) else None),
            }
            for k in range(n.n_outputs)
        ]
    # --- end values of real models ---
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


def _target_graph(target, args: argparse.Namespace) -> AutogradTrace:
    """One step's graph of a model file, or of a scenario started from --weights."""
    from nnviz.core.autograd_graph import capture_module_graph, capture_trainer_graph
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.errors import NnvizError
    from nnviz.core.weights import model_with_weights

    sc, mf = target.scenario, target.model_file
    if not sc.trainable:
        raise NnvizError(f"{sc.id} is an expression: it has no weights to load")
    config = TrainConfig.for_scenario(sc, seed=args.seed)
    model = None
    if args.weights is not None:
        model = model_with_weights(sc, config, args.weights, mf)
    if mf is not None and mf.dataset is None:  # example_input() only: the forward's graph
        if args.scalar:
            raise NnvizError("--scalar needs data() (targets for the loss); drop --scalar")
        model = model if model is not None else mf.build_model(args.seed)
        return capture_module_graph(
            model, mf.example_input, title=sc.title, note="example_input(), no loss"
        )
    if mf is not None:
        trainer = mf.trainer(config, model=model)
    else:
        trainer = Trainer(sc, config, data_dir=args.data, model=model)
    return capture_trainer_graph(trainer, scalar=args.scalar)


def run(args: argparse.Namespace) -> int:
    from nnviz.core.autograd_graph import capture_scenario_graph

    target = resolve_target(args.scenario)
    check_data_flag(target, args.data)
    if target.model_file is None and args.weights is None:
        trace = capture_scenario_graph(
            args.scenario, scalar=args.scalar, seed=args.seed, data_dir=args.data
        )
    else:
        trace = _target_graph(target, args)
    if args.json:
        print_json(trace_json(trace, args.scenario))
    else:
        print_table(trace)
    return 0
