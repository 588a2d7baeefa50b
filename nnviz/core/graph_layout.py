"""A layered left-to-right layout for computation graphs (Sugiyama style).

1. Layers: as early as possible or as late as possible, whichever gives shorter
   edges after sliding nodes towards their busier side; a source (leaf,
   parameter) sits right next to its first consumer, by the op using it.
2. Edges spanning several layers get dummy nodes, one per layer crossed.
3. Order within layers: barycentre sweeps (down and up) in numpy, keeping the
   ordering with the fewest crossings seen.
4. Coordinates: x = layer; y = slot, then a few passes that pull each node
   towards the mean of its neighbours while keeping order and spacing.

Deterministic: the same graph (same node insertion order) gives the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Layout:
    nodes: tuple  # node ids, in index order
    pos: np.ndarray  # (n, 2): x (layer * dx), y (slot * dy) for each node
    layer: np.ndarray  # (n,) layer of each node
    edge_points: dict = field(repr=False)  # (u, v) -> (k, 2) polyline from u to v
    crossings: int = 0
    crossings_initial: int = 0
    n_dummies: int = 0

    def position(self, node) -> tuple[float, float]:
        i = self.index[node]
        return float(self.pos[i, 0]), float(self.pos[i, 1])

    @property
    def index(self) -> dict:
        d = self.__dict__.get("_index")
        if d is None:
            d = {n: i for i, n in enumerate(self.nodes)}
            object.__setattr__(self, "_index", d)
        return d


def _layers(g: nx.DiGraph, nodes: list, idx: dict) -> np.ndarray:
    """Layers with short edges: each node as early as its inputs allow (ASAP), or
    as late as its consumers allow (ALAP), whichever needs fewer dummy nodes after
    a pass that slides nodes towards the side with more edges. Sources (weights,
    inputs) sit right before their first consumer; sinks right after their inputs."""
    topo = list(nx.topological_sort(g))
    n = len(nodes)
    preds = [[idx[u] for u in g.predecessors(v)] for v in nodes]
    succs = [[idx[w] for w in g.successors(v)] for v in nodes]
    order = [idx[v] for v in topo]

    asap = np.zeros(n, dtype=np.int64)
    for i in order:
        if preds[i]:
            asap[i] = max(asap[p] for p in preds[i]) + 1
    depth = np.zeros(n, dtype=np.int64)  # longest path to a sink
    for i in reversed(order):
        if succs[i]:
            depth[i] = max(depth[s] for s in succs[i]) + 1
    alap = depth.max() - depth

    def refine(layer: np.ndarray) -> np.ndarray:
        for _ in range(2):
            for i in reversed(order):  # slide right, towards the consumers
                if succs[i] and len(preds[i]) <= len(succs[i]):
                    layer[i] = max(layer[i], min(layer[s] for s in succs[i]) - 1)
            for i in order:  # slide left, towards the inputs
                if preds[i] and (not succs[i] or len(succs[i]) <= len(preds[i])):
                    layer[i] = min(layer[i], max(layer[p] for p in preds[i]) + 1)
        return layer

    def span(layer: np.ndarray) -> int:
        return sum(int(layer[s] - layer[i]) - 1 for i in range(n) for s in succs[i])

    a, b = refine(asap), refine(alap)
    return a if span(a) <= span(b) else b


def _count_crossings(top_pos: np.ndarray, bot_pos: np.ndarray) -> int:
    """Crossings among edges (top_pos[k] → bot_pos[k]) between two layers."""
    m = len(top_pos)
    if m < 2:
        return 0
    o = np.lexsort((bot_pos, top_pos))
    b = bot_pos[o]
    t = top_pos[o]
    total = 0
    chunk = max(1, 4_000_000 // m)
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        bi = b[s:e, None]
        ti = t[s:e, None]
        j = np.arange(m)[None, :]
        i = np.arange(s, e)[:, None]
        total += int(np.count_nonzero((j > i) & (b[None, :] < bi) & (t[None, :] > ti)))
    return total


def layered_layout(
    g: nx.DiGraph,
    sweeps: int = 8,
    dx: float = 1.0,
    dy: float = 1.0,
    straighten: int = 4,
    max_dummies: int | None = None,
) -> Layout:
    """Lay out a DAG left to right; see the module docstring.

    ``max_dummies`` (default 8 per node) bounds the routing work: when long
    edges would need more dummy nodes, the longest are drawn directly
    (``edge_points`` then holds just their two ends) and left out of ordering.
    """
    nodes = list(g.nodes)
    idx = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    if n == 0:
        return Layout((), np.zeros((0, 2)), np.zeros(0, np.int64), {}, 0, 0, 0)
    layer = _layers(g, nodes, idx)
    layer -= layer.min()

    # dummy nodes: a chain for every edge spanning more than one layer
    lay = list(layer)
    src, dst = [], []
    chains: dict = {}
    budget = 8 * n + 500 if max_dummies is None else max_dummies
    spans = sorted(max(0, lay[idx[v]] - lay[idx[u]] - 1) for u, v in g.edges)
    cum = np.cumsum(spans) if spans else np.zeros(0)
    keep = int(np.searchsorted(cum, budget, side="right"))
    max_span = spans[keep - 1] + 1 if keep else 1  # edges spanning more are not routed
    if keep == len(spans):
        max_span = None
    for u, v in g.edges:
        a, b = idx[u], idx[v]
        span = lay[b] - lay[a]
        if max_span is not None and span > max_span:
            chains[(u, v)] = [a, b]
            continue
        if span <= 1:
            src.append(a)
            dst.append(b)
            chains[(u, v)] = [a, b]
            continue
        prev = a
        chain = [a]
        for k in range(lay[a] + 1, lay[b]):
            d = len(lay)
            lay.append(k)
            src.append(prev)
            dst.append(d)
            chain.append(d)
            prev = d
        src.append(prev)
        dst.append(b)
        chain.append(b)
        chains[(u, v)] = chain
    total = len(lay)
    lay = np.asarray(lay, dtype=np.int64)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    n_layers = int(lay.max()) + 1

    # initial order: depth first from the sinks backwards, so that chains stay together
    pos = np.zeros(total, dtype=np.float64)
    seen = np.zeros(total, dtype=bool)
    preds_of: list[list[int]] = [[] for _ in range(total)]
    for s, d in zip(src.tolist(), dst.tolist(), strict=True):
        preds_of[d].append(s)
    counter = 0
    sinks = [i for i in range(total) if i < n and g.out_degree(nodes[i]) == 0]
    stack = list(reversed(sinks))
    while stack:
        v = stack.pop()
        if seen[v]:
            continue
        seen[v] = True
        pos[v] = counter
        counter += 1
        stack.extend(reversed(preds_of[v]))
    for v in np.flatnonzero(~seen):
        pos[v] = counter
        counter += 1

    by_layer = [np.flatnonzero(lay == k) for k in range(n_layers)]
    # edges between consecutive layers, grouped by the lower layer of the pair
    e_layer = lay[src]
    e_groups = [np.flatnonzero(e_layer == k) for k in range(n_layers)]

    def rank() -> np.ndarray:
        r = np.empty(total, dtype=np.float64)
        for members in by_layer:
            o = members[np.argsort(pos[members], kind="stable")]
            r[o] = np.arange(len(o))
        return r

    def local(k: int, r: np.ndarray) -> int:
        """Crossings on both sides of layer k."""
        c = 0
        for e in (e_groups[k - 1] if k > 0 else None, e_groups[k]):
            if e is not None and len(e) > 1:
                c += _count_crossings(r[src[e]], r[dst[e]])
        return c

    def crossings(r: np.ndarray) -> int:
        return sum(_count_crossings(r[src[e]], r[dst[e]]) for e in e_groups if len(e) > 1)

    r = rank()
    layer_size = np.bincount(lay, minlength=n_layers)[lay].astype(np.float64)
    best = r.copy()
    best_c = c0 = crossings(r)
    for sweep in range(sweeps):
        if best_c == 0:
            break
        down = sweep % 2 == 0
        ks = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        rn = (r + 0.5) / layer_size
        for k in ks:
            two = sweep >= 2  # later sweeps look at both neighbouring layers
            e_in = e_groups[k - 1] if k > 0 else e_groups[0][:0]
            e_out = e_groups[k]
            if down:
                parts = [(dst[e_in], src[e_in])] + ([(src[e_out], dst[e_out])] if two else [])
            else:
                parts = [(src[e_out], dst[e_out])] + ([(dst[e_in], src[e_in])] if two else [])
            sums = np.zeros(total)
            cnt = np.zeros(total)
            for free, fixed in parts:
                if len(free):
                    sums += np.bincount(free, weights=rn[fixed], minlength=total)
                    cnt += np.bincount(free, minlength=total)
            members = by_layer[k]
            if not cnt[members].any():
                continue
            has = cnt[members] > 0
            bary = np.where(has, sums[members] / np.maximum(cnt[members], 1), rn[members])
            o = np.lexsort((r[members], bary))
            old = r[members].copy()
            before = local(k, r)
            r[members[o]] = np.arange(len(members))
            if local(k, r) > before:  # keep a layer's new order only if it helps
                r[members] = old
            rn[members] = (r[members] + 0.5) / len(members)
        c = crossings(r)
        if c < best_c:
            best_c, best = c, r.copy()
    r = best
    pos = r.copy()

    # coordinates: pull towards neighbours' mean, keep order and unit spacing
    y = r.copy()
    for members in by_layer:  # centre each layer
        y[members] -= (len(members) - 1) / 2
    for it in range(straighten):
        down = it % 2 == 0
        ks = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for k in ks:
            e = e_groups[k - 1] if down else e_groups[k]
            if len(e) == 0:
                continue
            fixed = src[e] if down else dst[e]
            free = dst[e] if down else src[e]
            sums = np.bincount(free, weights=y[fixed], minlength=total)
            cnt = np.bincount(free, minlength=total)
            members = by_layer[k]
            members = members[np.argsort(r[members], kind="stable")]
            want = np.where(
                cnt[members] > 0, sums[members] / np.maximum(cnt[members], 1), y[members]
            )
            y[members] = _place_in_order(want)
    coords = np.stack([lay.astype(np.float64) * dx, y * dy], axis=1)
    edge_points = {key: coords[chain] for key, chain in chains.items()}
    return Layout(
        nodes=tuple(nodes),
        pos=coords[:n].copy(),
        layer=lay[:n].copy(),
        edge_points=edge_points,
        crossings=int(best_c),
        crossings_initial=int(c0),
        n_dummies=total - n,
    )


def _place_in_order(want: np.ndarray, gap: float = 1.0) -> np.ndarray:
    """Positions closest (on average) to ``want`` that keep order and ``gap``.

    Shift by the index (so the constraint becomes monotone), take a running
    maximum after centring the block, which is the usual cheap approximation.
    """
    m = len(want)
    if m == 0:
        return want
    k = np.arange(m) * gap
    t = want - k
    # isotonic-ish: a forward running max and a backward running min, averaged
    fwd = np.maximum.accumulate(t)
    bwd = np.minimum.accumulate(t[::-1])[::-1]
    s = (fwd + bwd) / 2
    s = np.maximum.accumulate(s)
    return s + k


def graph_crossings(g: nx.DiGraph, layout: Layout) -> int:
    return layout.crossings
