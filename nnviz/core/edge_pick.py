"""Which drawn edge of the network view lies under a point (issue 11: click an
edge, type its weight, as TensorFlow Playground allows).

Qt-free: the geometry is :mod:`nnviz.core.network_geometry`'s. An edge is the
segment from a neuron's ``out_anchor`` in layer ``i - 1`` to a neuron's
``in_anchor`` in layer ``i``; only the edges the view draws (its
:class:`~nnviz.core.network_geometry.EdgeSelection`, into layers at least half
lit) can be picked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nnviz.core.network_geometry import EdgeSelection, LayerGeom
from nnviz.core.numfmt import fmt

PICK_PX = 5.0  # how near, in screen pixels, a click must be to an edge


class Edge(NamedTuple):
    """Drawn layer ``layer`` (≥ 1) reads layer ``layer - 1`` through
    ``snap.layers[layer - 1].weight[row, col]``; ``distance`` in view units."""

    layer: int
    row: int
    col: int
    distance: float


def segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances from point ``p`` (2,) to the segments ``a[k]``–``b[k]`` ((K, 2) each)."""
    ab = b - a
    length2 = np.einsum("ij,ij->i", ab, ab)
    t = np.einsum("ij,ij->i", p - a, ab) / np.where(length2 > 0, length2, 1.0)
    closest = a + np.clip(t, 0.0, 1.0)[:, None] * ab
    return np.hypot(*(p - closest).T)


def edge_at(
    geoms: Sequence[LayerGeom],
    selection: Sequence[EdgeSelection],
    x: float,
    y: float,
    tol: float,
    lit: Sequence[float] | None = None,
) -> Edge | None:
    """The drawn edge nearest to (``x``, ``y``) (view units) within ``tol``, or None.
    ``lit``: per layer, how lit it is (edges into a layer under half lit are not drawn)."""
    p = np.array([x, y], dtype=float)
    best: Edge | None = None
    for li, sel in enumerate(selection, start=1):
        if li >= len(geoms) or len(sel) == 0 or (lit is not None and lit[li] < 0.5):
            continue
        a = np.asarray(geoms[li - 1].out_anchor, float)[sel.src]
        b = np.asarray(geoms[li].in_anchor, float)[sel.dst]
        d = segment_distance(p, a, b)
        k = int(np.argmin(d))
        if d[k] <= tol and (best is None or d[k] < best.distance):
            best = Edge(li, int(sel.dst[k]), int(sel.src[k]), float(d[k]))
    return best


def edge_label(edge: Edge, value: float) -> str:
    """The hover text of an edge: ``w[layer][row,col] = value — click to edit``."""
    return f"w[{edge.layer}][{edge.row},{edge.col}] = {fmt(value)} — click to edit"
