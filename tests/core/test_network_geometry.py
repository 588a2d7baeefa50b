"""Where the network view draws neurons and edges, without a display (no Qt)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from nnviz.core import network_geometry as geo
from nnviz.core.network_geometry import (
    DOT_MAX,
    EDGE_BUDGET,
    EDGE_LEVELS,
    EDGE_PAIR_MAX,
    MAX_SOURCES,
    H,
)
from nnviz.core.snapshot import LayerSnapshot, Snapshot

SHAPES = [
    ((2, 4, 4, 1), (2,)),  # a 2-D toy
    ((2, 32, 32, 1), (2,)),  # spiral
    ((64, 64, 10), (8, 8)),  # digits: an 8×8 picture drawn as one
    ((784, 512, 512, 10), (1, 28, 28)),  # mnist-mlp: grids and a picture
    ((3, 200, 1), (3,)),  # a wide hidden layer: a grid
]


@pytest.mark.parametrize("widths, shape", SHAPES)
@pytest.mark.parametrize("aspect", [0.8, 1.8, 2.6])
def test_layout_keeps_columns_ordered_inside_the_drawing(widths, shape, aspect):
    geoms = geo.layout(widths, shape, aspect)
    assert [g.width for g in geoms] == list(widths)
    xs = [g.x for g in geoms]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # input left, output right
    for a, b in zip(geoms[:-1], geoms[1:]):
        assert a.bounds[2] < b.bounds[0]  # columns never overlap
    for g in geoms:
        x0, y0, x1, y1 = g.bounds
        assert y0 >= 0 and y1 <= H  # inside the drawing's height
        assert np.all((g.pos[:, 0] >= x0) & (g.pos[:, 0] <= x1))
        assert np.all((g.pos[:, 1] >= y0) & (g.pos[:, 1] <= y1))
        if g.kind == "dots":
            assert g.width <= DOT_MAX
            step = np.diff(g.pos[:, 1])
            assert np.all(step > 0)  # top to bottom in index order
            if g.width > 1:  # discs and their largest halos never touch
                assert step.min() >= 2 * g.r * (1 + g.halo) - 1e-9
        else:
            ax, ay, aw, ah = g.act_rect
            assert g.rows * g.cols >= g.width > (g.rows - 1) * g.cols
            assert aw == pytest.approx(g.cols * g.cell) and ah == pytest.approx(g.rows * g.cell)
            assert np.all(g.in_anchor[:, 0] < g.pos[:, 0])
            assert np.all(g.out_anchor[:, 0] > g.pos[:, 0])


def test_a_picture_input_is_drawn_as_that_picture():
    geoms = geo.layout((784, 512, 10), (1, 28, 28))
    g0 = geoms[0]
    assert g0.kind == "grid" and (g0.rows, g0.cols) == (28, 28) and g0.grad_rect is None
    # pixel (row 3, column 5) is cell 3·28+5, drawn where that pixel is
    i = 3 * 28 + 5
    ax, ay, _, _ = g0.act_rect
    assert g0.pos[i] == pytest.approx((ax + 5.5 * g0.cell, ay + 3.5 * g0.cell))
    assert geoms[1].kind == "grid" and geoms[1].grad_rect is not None
    assert geoms[2].kind == "dots"
    assert geo.picture_shape((2,)) is None and geo.picture_shape((1, 8, 8)) == (8, 8)


@pytest.mark.parametrize("widths, shape", SHAPES)
def test_hit_testing_finds_every_neuron_at_its_position(widths, shape):
    geoms = geo.layout(widths, shape)
    for li, g in enumerate(geoms):
        for i in range(g.width):
            x, y = g.pos[i]
            assert geo.neuron_at(geoms, x, y) == (li, i)
            assert geo.layer_at(geoms, x, y) == li
        if g.grad_rect is not None:  # a gradient cell is its neuron too
            gx, gy, _, _ = g.grad_rect
            i = g.width - 1
            cx = gx + (i % g.cols + 0.5) * g.cell
            cy = gy + (i // g.cols + 0.5) * g.cell
            assert geo.neuron_at(geoms, cx, cy) == (li, i)
    # between the columns and far away there is nothing
    mid = (geoms[0].bounds[2] + geoms[1].bounds[0]) / 2
    assert geo.neuron_at(geoms, mid, H / 2) is None
    assert geo.layer_at(geoms, mid, H / 2) is None
    assert geo.neuron_at(geoms, -1e3, -1e3) is None


def test_hit_testing_misses_between_discs():
    geoms = geo.layout((2, 4, 1), (2,))
    g = geoms[1]
    y = (g.pos[0, 1] + g.pos[1, 1]) / 2  # halfway between two discs
    if (g.pos[1, 1] - g.pos[0, 1]) / 2 > 1.6 * g.r:
        assert geo.neuron_at(geoms, g.x, y) is None
    assert geo.neuron_at(geoms, g.x + 1.5 * g.r, g.pos[0, 1]) == (1, 0)  # a near miss counts


def _brute_force(w, prev, k):
    c = np.abs(w * prev[None, :])
    return np.sort(c.ravel())[::-1][:k]


@pytest.mark.parametrize("n_in, n_out, k", [(8, 5, 10), (40, 30, 300), (64, 64, 50)])
def test_top_contributions_are_the_largest_w_times_a(n_in, n_out, k):
    rng = np.random.default_rng(n_in)
    w = rng.normal(size=(n_out, n_in))
    prev = rng.normal(size=n_in)
    prev[::7] = 0.0  # dead neurons contribute nothing and are never picked
    src, dst = geo.top_contributions(w, prev, k)
    got = np.sort(np.abs(w[dst, src] * prev[src]))[::-1]
    np.testing.assert_allclose(got, _brute_force(w, prev, min(k, src.size)))
    assert src.size == min(k, n_out * np.count_nonzero(prev))
    assert np.all(prev[src] != 0)
    assert len(set(zip(src.tolist(), dst.tolist()))) == src.size  # no edge twice


def test_top_contributions_of_a_wide_layer_keep_the_strongest():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(512, 784))
    prev = np.where(rng.random(784) < 0.3, rng.random(784), 0.0)  # sparse, like pixels
    assert np.count_nonzero(prev) > MAX_SOURCES  # the approximate path
    src, dst = geo.top_contributions(w, prev, 300)
    got = np.abs(w[dst, src] * prev[src])
    best = _brute_force(w, prev, 300)
    assert got.max() == pytest.approx(best[0])  # the strongest edge is always found
    # and the chosen ones are nearly the true top 300
    assert np.median(np.sort(got)[::-1]) >= 0.9 * np.median(best)
    assert geo.top_contributions(w, np.zeros(784), 10)[0].size == 0


def test_edge_selection_keeps_to_the_budget_and_small_layers_whole():
    rng = np.random.default_rng(2)
    sizes = (784, 512, 512, 10)
    ws = [rng.normal(size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    acts = [rng.random(a) for a in sizes[:-1]]
    sel = geo.select_edges(ws, acts)
    counts = [len(s) for s in sel]
    assert sum(counts) <= EDGE_BUDGET and max(counts) <= EDGE_PAIR_MAX
    assert counts[2] == min(ws[2].size, EDGE_PAIR_MAX)  # 5,120 edges: capped
    small = geo.select_edges([ws[2][:, :4]], [acts[2][:4]])[0]
    assert len(small) == 40  # a 4→10 pair: every edge
    for s, w in zip(sel, ws):
        np.testing.assert_array_equal(s.positive, w[s.dst, s.src] >= 0)
        assert s.level.min() >= 0 and s.level.max() < EDGE_LEVELS
    # the widest bin holds the strongest of a pair's edges
    s, w = sel[0], ws[0]
    strength = np.abs(w[s.dst, s.src])
    assert strength[s.level == EDGE_LEVELS - 1].min() >= strength[s.level == 0].max()
    assert geo.edge_quotas([10, 10_000, 10_000], budget=1000, pair_max=300) == [10, 300, 300]


def test_edge_segments_join_the_anchors_of_the_lit_layers():
    geoms = geo.layout((2, 4, 1), (2,))
    rng = np.random.default_rng(3)
    ws = [rng.normal(size=(4, 2)), rng.normal(size=(1, 4))]
    sel = geo.select_edges(ws, [rng.normal(size=2), rng.normal(size=4)])
    segs = geo.edge_segments(geoms, sel, np.ones(3))
    assert sum(len(v) // 2 for v in segs.values()) == 8 + 4
    pairs = {k: {(tuple(p), tuple(q)) for p, q in zip(v[0::2], v[1::2])} for k, v in segs.items()}
    for li, s in enumerate(sel, start=1):  # each edge joins its anchors, in its sign's bin
        for a, b, pos, lvl in zip(s.src, s.dst, s.positive, s.level):
            seg = (tuple(geoms[li - 1].out_anchor[a]), tuple(geoms[li].in_anchor[b]))
            assert seg in pairs[(bool(pos), int(lvl))]
    dim = geo.edge_segments(geoms, sel, np.array([1.0, 1.0, 0.2]))  # output not reached yet
    assert sum(len(v) // 2 for v in dim.values()) == 8


def test_sweeps_light_layers_in_order():
    lit, grad = geo.layer_light("forward", 0.5, 5)
    assert lit[0] == lit[1] == lit[2] == 1.0 and lit[4] == 0.0 and not grad.any()
    lit, grad = geo.layer_light("backward", 0.25, 5)
    assert lit.all() and grad[4] == 1.0 and grad[0] == 0.0 and np.all(np.diff(grad) >= 0)
    assert geo.sweep_front(None, 0.3, 5) is None
    assert geo.sweep_front("forward", 1.0, 5) == 4 and geo.sweep_front("backward", 1.0, 5) == 0


def test_fit_view_leaves_room_for_the_text_in_pixels():
    geoms = geo.layout((2, 32, 32, 1), (2,), 1.8)
    size, margins = (900.0, 600.0), (80.0, 120.0, 70.0, 56.0)
    (x, y, w, h), ppu = geo.fit_view(geoms, size, margins)
    assert w * ppu == pytest.approx(900) and h * ppu == pytest.approx(600)
    left, right, top, bottom = margins
    for g in geoms:
        x0, y0, x1, y1 = g.bounds
        assert (x0 - x) * ppu >= left - 1e-6 and (x + w - x1) * ppu >= right - 1e-6
        assert (y0 - y) * ppu >= top - 1e-6 and (y + h - y1) * ppu >= bottom - 1e-6
    assert geo.drawing_aspect((900, 600), margins) == pytest.approx(700 / 474)
    assert geo.min_column_gap(geoms) == pytest.approx(geoms[1].x - geoms[0].x)


def test_robust_max_ignores_outliers_and_non_finite_values():
    v = np.r_[np.linspace(-1, 1, 1000), 1e6, np.nan, np.inf]
    assert geo.robust_max([v], 99.0) == pytest.approx(np.percentile(np.abs(v[:1001]), 99), 0.01)
    assert geo.robust_max([np.array([0.5, -2.0])], 99.0) == 2.0  # few values: the maximum
    assert geo.robust_max([np.zeros(5)], 99.0) == 1.0
    assert geo.robust_max([np.array([np.nan])], 99.0) == 1.0


def _snapshot(a1, dz1, step=0) -> Snapshot:
    a1 = np.asarray(a1, float)
    layer = LayerSnapshot(
        "0", "relu", a1, a1, np.asarray(dz1, float), None, np.ones((a1.size, 2)), np.zeros(a1.size),
        None, None, a1, a1, None, float(np.mean(a1 == 0)),
    )  # fmt: skip
    out = dataclasses.replace(layer, name="2", activation="softmax", dead_fraction=0.0)
    return Snapshot(
        step, 0, 0.5, 0, 7, np.array([-0.5, 0.25]), (2,), np.array([1]), a1, (layer, out)
    )


def test_colour_scales_follow_a_rise_at_once_and_a_fall_slowly():
    sc = geo.ColourScales()
    sc.update(_snapshot([0, 2.0, -1.0], [1e-3, -2e-3, 0]))
    assert sc.act == 2.0 and sc.grad[1] == pytest.approx(2e-3) and sc.input == 0.5
    sc.update(_snapshot([0, 0.1, -0.1], [1e-5, 0, 0]))
    assert sc.act == pytest.approx(1.8) and sc.grad[1] == pytest.approx(1.8e-3)
    sc.update(_snapshot([0, 5.0, 0], [1.0, 0, 0]))
    assert sc.act == 5.0 and sc.grad[1] == 1.0


def test_the_words_beside_the_columns():
    snap = _snapshot([0, 2.0, -1.5], [1e-3, -2e-4, 0], step=12)
    assert geo.column_heading(snap, 0) == ("input", "2")
    assert geo.column_heading(snap, 1) == ("hidden 1", "3 · relu")
    assert geo.column_heading(snap, 2) == ("output", "3 · softmax")
    assert geo.column_note(snap, 1, 2e-4) == "33% inactive\n|dL/dz| ≤ 2.0×10⁻⁴"
    assert geo.column_note(snap, 0, 0.0) == ""  # not a picture: the values are beside it
    texts, best = geo.value_labels(snap, 0)
    assert texts == ["x₁ = −0.5", "x₂ = +0.25"] and best == -1
    texts, best = geo.value_labels(snap, 2)
    assert texts == ["0: 0", "1: +2  ← target", "2: −1.5"] and best == 1


def test_network_geometry_imports_no_qt_and_no_torch():
    code = (
        "import sys, nnviz.core.network_geometry\n"
        "print(sorted(m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
