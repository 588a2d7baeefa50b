"""Autograd-graph capture, layout and drawing speed (a benchmark, not a test).

    python benchmarks/bench_graph.py            # everything (about a minute on 2 cores)
    python benchmarks/bench_graph.py --no-view  # capture and layout only

Goals (DESIGN.md §4, issue 4): the backward graph of a 12-layer pre-norm
transformer encoder (d=64, ~914 nodes) captured and laid out in ≤ 0.5 s, a
~5,000-node graph in ≤ 3 s, tidily (few crossings), and smooth panning and
zooming. Reported per graph:

- capture: one forward + backward with every node's value and gradient recorded,
  against the same forward + backward in plain torch (the ratio is the overhead);
- layout: ``layered_layout`` (layering, dummy nodes, barycentre sweeps);
- crossings: edges crossing between adjacent layers, ours against networkx's
  ``multipartite_layout`` over ``topological_generations`` (no crossing
  reduction; its long edges are cut where they pass each layer, as ours are);
- the view: building the ``GraphView`` scene, and one repaint of a 1600×900
  viewport at several zoom levels (offscreen ``grab``), grouped and expanded.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import networkx as nx
import numpy as np
import torch
from torch import nn

from nnviz.core.autograd_graph import capture_module_graph
from nnviz.core.graph_layout import _count_crossings, layered_layout


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def transformer(layers: int) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        64, 4, dim_feedforward=128, batch_first=True, norm_first=True
    )
    model = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
    return model.train(), torch.randn(2, 8, 64)  # training: dropout nodes count too


def loss_of_sum(out: torch.Tensor, _y) -> torch.Tensor:
    return out.sum()


def crossings_between_layers(layer_of: dict, y_of: dict, g: nx.DiGraph) -> int:
    """Edges crossing between adjacent layers, each edge followed straight (by
    linear interpolation) through every layer it passes."""
    segs: dict[int, list[tuple[float, float]]] = {}
    for u, v in g.edges:
        lu, lv = layer_of[u], layer_of[v]
        ys = np.interp(np.arange(lu, lv + 1), [lu, lv], [y_of[u], y_of[v]])
        for k in range(lu, lv):
            segs.setdefault(k, []).append((ys[k - lu], ys[k - lu + 1]))
    total = 0
    for pairs in segs.values():
        a = np.asarray(pairs)
        total += _count_crossings(a[:, 0], a[:, 1])
    return total


def ours_crossings(g: nx.DiGraph, lay) -> int:
    segs: dict[int, list[tuple[float, float]]] = {}
    for pts in lay.edge_points.values():
        xs, ys = pts[:, 0], pts[:, 1]
        lo, hi = int(round(xs[0])), int(round(xs[-1]))
        yk = np.interp(np.arange(lo, hi + 1), xs, ys)  # straight where not routed
        for k in range(lo, hi):
            segs.setdefault(k, []).append((yk[k - lo], yk[k - lo + 1]))
    total = 0
    for pairs in segs.values():
        a = np.asarray(pairs)
        total += _count_crossings(a[:, 0], a[:, 1])
    return total


def multipartite(g: nx.DiGraph) -> tuple[float, int]:
    h = g.copy()
    layer_of = {}
    for k, gen in enumerate(nx.topological_generations(h)):
        for v in gen:
            h.nodes[v]["layer"] = k
            layer_of[v] = k
    t = time.perf_counter()
    pos = nx.multipartite_layout(h, subset_key="layer")
    dt = time.perf_counter() - t
    return dt, crossings_between_layers(layer_of, {v: p[1] for v, p in pos.items()}, g)


def plain_torch(model, x, loss_fn) -> float:
    def run():
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), None).backward()

    run()
    return best_of(run)[0]


def bench_transformer(layers: int, goal: float) -> object:
    model, x = transformer(layers)
    capture_module_graph(model, x, None, loss_of_sum)  # warm-up (first calls are slow)
    cap, trace = best_of(lambda: capture_module_graph(model, x, None, loss_of_sum))
    base = plain_torch(model, x, loss_of_sum)
    g = trace.graph
    layered_layout(g)
    lay_t, lay = best_of(lambda: layered_layout(g))
    mp_t, mp_cross = multipartite(g)
    total = cap + lay_t
    print(
        f"transformer encoder, {layers} pre-norm layers (d=64): {g.number_of_nodes()} nodes, "
        f"{g.number_of_edges()} edges, {int(lay.layer.max()) + 1} layers\n"
        f"  capture {cap * 1e3:.0f} ms (plain forward+backward {base * 1e3:.1f} ms, "
        f"{cap / base:.0f}x) + layout {lay_t * 1e3:.0f} ms = {total * 1e3:.0f} ms "
        f"(goal ≤ {goal * 1e3:.0f} ms: {'met' if total <= goal else 'MISSED'})\n"
        f"  crossings between adjacent layers: ours {ours_crossings(g, lay)} "
        f"(before the sweeps {lay.crossings_initial}, {lay.n_dummies} dummy nodes) vs "
        f"multipartite {mp_cross} ({mp_t * 1e3:.0f} ms)"
    )
    return trace


def random_dag(n: int, seed: int = 0) -> nx.DiGraph:
    """A tangled DAG: each node takes 1-2 inputs from the 30 nodes before it."""
    rnd = random.Random(seed)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for v in range(1, n):
        for u in rnd.sample(range(max(0, v - 30), v), min(v, rnd.randint(1, 2))):
            g.add_edge(u, v)
    return g


def bench_random(n: int, goal: float) -> None:
    g = random_dag(n)
    dt, lay = best_of(lambda: layered_layout(g), repeat=2)
    _, mp_cross = multipartite(g)
    print(
        f"random tangled DAG: {n} nodes, {g.number_of_edges()} edges: layout {dt * 1e3:.0f} ms "
        f"(goal ≤ {goal * 1e3:.0f} ms: {'met' if dt <= goal else 'MISSED'}) | crossings ours "
        f"{ours_crossings(g, lay)} (before the sweeps {lay.crossings_initial}) vs "
        f"multipartite {mp_cross}"
    )


def bench_view(trace) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.graph_view import GraphView

    app = make_app()
    v = GraphView()
    v.resize(1600, 900)
    v.show()
    app.processEvents()

    def repaint_ms() -> float:
        times = []
        for _ in range(7):
            t = time.perf_counter()
            v.viewport().grab()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e3

    for label, expand in (("grouped by module", False), ("expanded", True)):
        t = time.perf_counter()
        v.set_trace(trace)
        if expand:
            v.expand_all()
        build = time.perf_counter() - t
        app.processEvents()
        parts = [
            f"{len(v.items)} boxes, {len(v._edges)} edges: scene built in {build * 1e3:.0f} ms"
        ]
        for zoom in ("whole", 0.3, 0.7, 1.0):
            v.resetTransform()
            if zoom == "whole":
                v.fit(whole=True)
            else:
                v.zoom(zoom)
            v.centerOn(v.scene().sceneRect().center())
            app.processEvents()
            z = v.transform().m11()
            parts.append(f"repaint at zoom {z:.2g} ({zoom}): {repaint_ms():.1f} ms")
        t = time.perf_counter()  # panning: scroll by a screenful, repaint each time
        bar = v.horizontalScrollBar()
        for k in range(10):
            bar.setValue(bar.minimum() + k * 400)
            v.viewport().grab()
        parts.append(f"pan step {(time.perf_counter() - t) * 100:.1f} ms")
        print(f"  GraphView {label}: " + "; ".join(parts))
    v.close()
    QtWidgets.QApplication.processEvents()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-view", action="store_true", help="skip the Qt view timings")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} cores")
    trace = bench_transformer(12, 0.5)
    if not args.no_view:
        bench_view(trace)
    bench_transformer(66, 3.0)
    bench_random(1000, 3.0)
    bench_random(5000, 3.0)


if __name__ == "__main__":
    main()
