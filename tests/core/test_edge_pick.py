"""Picking an edge of the network view (issue 11): the nearest drawn edge within
the tolerance, named by the weight it draws."""

from __future__ import annotations

import numpy as np
import pytest

from nnviz.core import network_geometry as geo
from nnviz.core.edge_pick import Edge, edge_at, edge_label, segment_distance


def _net(widths=(2, 4, 2, 1), seed=0):
    rng = np.random.default_rng(seed)
    geoms = geo.layout(widths, (widths[0],), 1.8)
    ws = [rng.normal(size=(o, i)) for i, o in zip(widths, widths[1:])]
    acts = [rng.normal(size=n) for n in widths[:-1]]
    return geoms, geo.select_edges(ws, acts), ws


def _point_on(geoms, layer, row, col, t=0.5):
    a = geoms[layer - 1].out_anchor[col]
    b = geoms[layer].in_anchor[row]
    return a + t * (b - a)


def test_segment_distance():
    a = np.array([[0.0, 0.0], [0.0, 0.0]])
    b = np.array([[10.0, 0.0], [0.0, 0.0]])  # a segment and a point
    d = segment_distance(np.array([5.0, 3.0]), a, b)
    np.testing.assert_allclose(d, [3.0, np.hypot(5, 3)])
    # beyond an end: the distance to that end
    assert segment_distance(np.array([13.0, 4.0]), a[:1], b[:1])[0] == pytest.approx(5.0)


@pytest.mark.parametrize("t", [0.3, 0.5, 0.7])
def test_every_drawn_edge_is_picked_at_its_points(t):
    geoms, sel, _ = _net()
    for layer, s in enumerate(sel, start=1):
        for src, dst in zip(s.src, s.dst):
            x, y = _point_on(geoms, layer, int(dst), int(src), t)
            hit = edge_at(geoms, sel, x, y, tol=0.5)
            assert hit is not None and hit.distance == pytest.approx(0.0, abs=1e-9)
            if hit[:3] != (layer, int(dst), int(src)):  # only where two edges cross
                a, b = _point_on(geoms, *hit[:3], 0.0), _point_on(geoms, *hit[:3], 1.0)
                assert segment_distance(np.array([x, y]), a[None], b[None])[0] < 1e-9


def test_nearest_within_tolerance_only():
    geoms, sel, _ = _net()
    x, y = _point_on(geoms, 3, 0, 1)  # output layer: w[3][0,1]
    # a little off the line (perpendicular): still that edge within the tolerance
    a, b = geoms[2].out_anchor[1], geoms[3].in_anchor[0]
    n = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
    off = np.array([x, y]) + 0.8 * n
    hit = edge_at(geoms, sel, *off, tol=1.0)
    assert hit[:3] == (3, 0, 1) and hit.distance == pytest.approx(0.8)
    assert edge_at(geoms, sel, *off, tol=0.5) is None
    # far from every edge: nothing (above the drawing)
    assert edge_at(geoms, sel, x, -1000.0, tol=5.0) is None


def test_only_drawn_edges():
    geoms, sel, _ = _net()
    x, y = _point_on(geoms, 1, 2, 0, 0.3)
    lit = np.array([1.0, 0.2, 0.0, 0.0])  # the forward sweep has not reached layer 1
    assert edge_at(geoms, sel, x, y, tol=0.5, lit=lit) is None
    assert edge_at(geoms, sel, x, y, tol=0.5, lit=np.ones(4))[:3] == (1, 2, 0)
    # a big layer draws only its strongest edges: the others cannot be picked
    geoms, sel, _ = _net((64, 300, 10))
    drawn = {(int(d), int(s)) for d, s in zip(sel[0].dst, sel[0].src)}
    assert len(drawn) < 64 * 300
    for row in range(300):
        for col in range(64):
            if (row, col) not in drawn:
                x, y = _point_on(geoms, 1, row, col)
                hit = edge_at(geoms, sel, x, y, tol=1e-6)
                assert hit is None or hit[:3] != (1, row, col)
                return
    raise AssertionError("every edge drawn")


def test_label():
    assert edge_label(Edge(2, 1, 3, 0.0), -0.25) == "w[2][1,3] = −0.25 — click to edit"
