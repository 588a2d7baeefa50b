"""The network view's cheap items draw the pixels of the pyqtgraph items they
replace (issue 8: faster frames, nothing the user sees changed): the very
same, but for a disc's antialiased rim, shaded at most 32/255 apart."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core import network_geometry as geo
from nnviz.qt.network_items import Discs, EdgePaths
from nnviz.qt.theme import DARK, brush_palette, edge_pens


@pytest.fixture(params=[False, True], ids=["aliased", "antialiased"])
def antialias(request, qapp):
    was = pg.getConfigOption("antialias")
    pg.setConfigOptions(antialias=request.param)
    yield request.param
    pg.setConfigOptions(antialias=was)


def _render(items, rect=(-10, -10, 120, 110), size=(600, 550)) -> np.ndarray:
    """The items in a scene, drawn into an image through a view-like transform."""
    scene = QtWidgets.QGraphicsScene()
    for it in items:
        scene.addItem(it)
    img = QtGui.QImage(*size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QtGui.QColor(DARK.background))
    p = QtGui.QPainter(img)
    scene.render(p, QtCore.QRectF(0, 0, *size), QtCore.QRectF(*rect))
    p.end()
    for it in items:
        scene.removeItem(it)
    return np.frombuffer(img.constBits(), np.uint8).reshape(size[1], size[0], 4).copy()


@pytest.mark.parametrize("outlined", [True, False], ids=["discs", "halos"])
def test_discs_draw_the_pixels_of_a_scatter_plot(antialias, outlined):
    rng = np.random.default_rng(3)
    pos = np.stack([np.full(8, 40.0), 10 + 11.25 * np.arange(8)], 1)
    size = 8.0 * (1 + 0.55 * rng.uniform(0, 1, 8))
    palette = brush_palette(DARK, 256)
    brushes = palette[rng.integers(0, 256, 8)]
    pen = pg.mkPen(DARK.muted, width=1.0) if outlined else None
    ours, theirs = Discs(pen=pen), pg.ScatterPlotItem(pxMode=False, pen=pen)
    for item in (ours, theirs):
        item.setData(pos=pos, size=np.full(8, 8.0), brush=palette[128])
        item.setBrush(brushes)
        item.setSize(size)
    a, b = _render([ours]), _render([theirs])
    if antialias:  # Qt's ellipse and its scaled circle path shade the rim a hair apart
        diff = np.abs(a.astype(int) - b).max(-1)
        drawn = (b != _render([])).any(-1)
        assert diff.max() <= 32 and (diff > 0).sum() < 0.1 * drawn.sum()
    else:
        assert np.array_equal(a, b)
    assert (a != _render([])).any()  # something was drawn
    assert ours.data["size"].tolist() == pytest.approx(size.tolist())
    assert [x.color().name() for x in ours.data["brush"]] == [
        x.color().name() for x in theirs.data["brush"]
    ]


def test_edges_draw_the_pixels_of_one_curve_per_bin(antialias):
    rng = np.random.default_rng(5)
    geoms = geo.layout((2, 8, 8, 1), (2,))
    ws = [rng.normal(size=(8, 2)), rng.normal(size=(8, 8)), rng.normal(size=(1, 8))]
    acts = [rng.normal(size=2), rng.normal(size=8), rng.normal(size=8)]
    segs = geo.edge_segments(geoms, geo.select_edges(ws, acts), np.ones(4))
    pens = edge_pens(DARK)
    ours = EdgePaths()
    ours.set_pens(pens)
    ours.set_bounds(geo.drawing_bounds(geoms))
    ours.set_segments(segs)
    curves = []
    for pos in (False, True):
        for lvl in range(geo.EDGE_LEVELS):  # as the view stacked them before
            c = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=pens[(pos, lvl)])
            c.setZValue(-10 + lvl)
            xy = segs[(pos, lvl)]
            c.setData(x=xy[:, 0], y=xy[:, 1], connect="pairs", skipFiniteCheck=True)
            curves.append(c)
    rect = (-20, -5, 180, 110)
    a, b = _render([ours], rect), _render(curves, rect)
    assert np.array_equal(a, b)
    assert ours.count() == sum(len(xy) // 2 for xy in segs.values()) > 0
    ours.set_segments(segs)  # the same edges again: nothing to redo
    assert np.array_equal(_render([ours], rect), a)
