"""Autograd-graph capture and layout speed (a benchmark, not a test).

    python benchmarks/bench_graph.py

Prints node counts, capture and layout times and edge crossings (initial
order → after barycentre sweeps) for the 12-layer pre-norm transformer
encoder (d_model=64, nhead=4) and a ~5,000-node graph, with a plain
networkx ``multipartite_layout`` over topological generations as the reference.
Targets (DESIGN.md §4): ≤ 0.5 s for the transformer, ≤ 3 s for 5,000 nodes.
"""

from __future__ import annotations

import time

import networkx as nx
import torch
from torch import nn

from nnviz.core.autograd_graph import capture_module_graph
from nnviz.core.graph_layout import layered_layout


def transformer_trace(layers: int):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        64, 4, dim_feedforward=128, batch_first=True, norm_first=True
    )
    model = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
    x = torch.randn(2, 8, 64)
    t = time.perf_counter()
    trace = capture_module_graph(model, x, loss_fn=None)
    return trace, time.perf_counter() - t


def networkx_reference(g: nx.DiGraph) -> float:
    g = g.copy()
    for k, gen in enumerate(nx.topological_generations(g)):
        for v in gen:
            g.nodes[v]["layer"] = k
    t = time.perf_counter()
    nx.multipartite_layout(g, subset_key="layer")
    return time.perf_counter() - t


def bench(label: str, layers: int, target: float) -> None:
    transformer_trace(layers)  # warm-up (torch's first calls are slow)
    trace, cap = transformer_trace(layers)
    g = trace.graph
    layered_layout(g)  # warm-up
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        lay = layered_layout(g)
        best = min(best, time.perf_counter() - t)
    ref = networkx_reference(g)
    print(
        f"{label}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges, "
        f"{lay.n_dummies} dummies, {int(lay.layer.max()) + 1} layers | forward+backward+capture {cap * 1e3:.0f} ms"
        f" | layout {best * 1e3:.0f} ms (target ≤ {target * 1e3:.0f} ms)"
        f" | crossings {lay.crossings_initial} → {lay.crossings}"
        f" | networkx multipartite {ref * 1e3:.0f} ms (no crossing reduction)"
    )


def random_dag(n: int, seed: int = 0) -> nx.DiGraph:
    """A tangled DAG: each node takes 1-2 inputs from the 30 nodes before it."""
    import random

    rnd = random.Random(seed)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for v in range(1, n):
        for u in rnd.sample(range(max(0, v - 30), v), min(v, rnd.randint(1, 2))):
            g.add_edge(u, v)
    return g


def bench_random(n: int) -> None:
    g = random_dag(n)
    t = time.perf_counter()
    lay = layered_layout(g)
    dt = time.perf_counter() - t
    print(
        f"random DAG: {n} nodes, {g.number_of_edges()} edges, {lay.n_dummies} dummies | "
        f"layout {dt * 1e3:.0f} ms | "
        f"crossings {lay.crossings_initial} → {lay.crossings}"
    )


def main() -> None:
    torch.set_num_threads(1)
    bench("transformer 12 layers (d=64, pre-norm)", 12, 0.5)
    bench("transformer 66 layers (~5,000 nodes)", 66, 3.0)
    bench_random(1000)
    bench_random(5000)


if __name__ == "__main__":
    main()
