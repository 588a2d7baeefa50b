"""Graphics items of the network view that cost the GUI thread little per frame.

The network view recolours its neurons and re-picks its edges for every
snapshot, up to 30 times a second while training runs (issue 8). pyqtgraph's
general items pay for their generality there: a ``ScatterPlotItem`` with
sizes in view units re-records every symbol into a ``QPicture`` whenever a
brush changes, and a ``PlotCurveItem`` measures its data's bounds in Python
for every paint and every scene update. These two items draw the same
pixels with a few Qt calls:

- :class:`Discs` is one layer's discs (or their gradient halos): filled
  circles in view units, each with a brush from the theme's prebuilt palette,
  one cosmetic outline pen.
- :class:`EdgePaths` is every edge of the drawing: one path per
  (sign, width bin), stroked in the order the bins overlap (thin under wide).

Neither asks Python for its bounds while the scene paints (the edges' are
fixed per layout), and data set again unchanged (the same palette brushes,
sizes or segments) redraws nothing. Antialiased discs are Qt's ellipses,
whose rims shade within 32/255 of pyqtgraph's scaled circle path; everything
else is the same pixels (tests/qt/test_network_items.py).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
from PySide6 import QtCore, QtGui

_NO_PEN = QtGui.QPen(QtCore.Qt.PenStyle.NoPen)
_CIRCLE = QtGui.QPainterPath()  # pyqtgraph's "o" symbol, scaled to each disc
_CIRCLE.addEllipse(QtCore.QRectF(-0.5, -0.5, 1, 1))


class Discs(pg.GraphicsObject):
    """Filled circles at ``pos`` (view units) with diameters ``size`` (view units),
    drawn with the strokes of pyqtgraph's ``ScatterPlotItem(pxMode=False)``:
    the same pixels, without re-recording a ``QPicture`` when a brush changes.

    ``data["brush"]`` and ``data["size"]`` hold what is drawn now (as a
    ``ScatterPlotItem``'s ``data`` does), for tests and the view's readers.
    """

    def __init__(self, pen: QtGui.QPen | None = None) -> None:
        super().__init__()
        self._pen = QtGui.QPen(pen) if pen is not None else _NO_PEN
        self.data = {"brush": np.zeros(0, dtype=object), "size": np.zeros(0)}
        self._pos = np.zeros((0, 2))
        self._rects: list[QtCore.QRectF] = []  # each disc's square
        self._brushes: list[QtGui.QBrush] = []
        self._bounds = QtCore.QRectF()
        self._antialias = bool(pg.getConfigOption("antialias"))  # as pyqtgraph's items

    def setData(self, pos: np.ndarray, size, brush) -> None:
        self._pos = np.asarray(pos, dtype=float).reshape(-1, 2)
        n = len(self._pos)
        self.data = {"brush": np.empty(n, dtype=object), "size": np.zeros(n)}
        self._brushes, self._rects = [], []  # new discs: nothing drawn yet
        self.setBrush(brush, update=False)
        self.setSize(size)

    def setBrush(self, brush, update: bool = True) -> None:
        """One brush for all, or one per disc (a palette's object array)."""
        n = len(self._pos)
        new = [brush] * n if isinstance(brush, QtGui.QBrush) else list(brush)
        if len(new) == len(self._brushes) and all(a is b for a, b in zip(new, self._brushes)):
            return  # the palette's same brushes: nothing to redraw
        self.data["brush"][:] = new
        self._brushes = new
        if update:
            self.update()

    def setSize(self, size) -> None:
        """Diameters in view units (one for all, or one per disc)."""
        s = np.broadcast_to(np.asarray(size, dtype=float), (len(self._pos),))
        if len(self._rects) == len(s) and np.array_equal(s, self.data["size"]):
            return
        self.data["size"] = np.array(s)
        x, y = self._pos[:, 0], self._pos[:, 1]
        corners = zip((x - s / 2).tolist(), (y - s / 2).tolist(), s.tolist())
        self._rects = [QtCore.QRectF(x0, y0, d, d) for x0, y0, d in corners]
        bounds = QtCore.QRectF()
        if len(s):
            r = 0.6 * s  # the radius, the outline and antialiasing
            x0, y0 = float((x - r).min()), float((y - r).min())
            bounds = QtCore.QRectF(x0, y0, float((x + r).max()) - x0, float((y + r).max()) - y0)
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, p: QtGui.QPainter, *_args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, self._antialias)
        p.setPen(self._pen)
        if self._antialias:  # Qt's ellipse: 40 % faster, the rim shaded a hair apart
            for rect, brush in zip(self._rects, self._brushes):
                p.setBrush(brush)
                p.drawEllipse(rect)
            return
        t0 = p.transform()  # aliased: pyqtgraph's own strokes, to the pixel (as fast)
        for rect, brush in zip(self._rects, self._brushes):
            p.setTransform(t0)
            p.translate(rect.center())
            p.scale(rect.width(), rect.width())
            p.setBrush(brush)
            p.drawPath(_CIRCLE)


class EdgePaths(pg.GraphicsObject):
    """Line segments in bins, each bin stroked with its own pen, with the
    strokes of pyqtgraph's ``PlotCurveItem(connect="pairs")`` (the same pixels):
    one path per bin; without antialiasing, lines for pens wider than a pixel.

    ``set_pens`` gives the bins, keyed (w ≥ 0, width bin);
    ``set_segments`` gives each bin's (2M, 2) start, end, start, end… array.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pens: dict = {}
        self._strokes: dict = {}  # per bin: a QPainterPath, or line segments
        self._counts: dict = {}
        self._xy: dict = {}  # per bin: the segments stroked
        self._bounds = QtCore.QRectF()
        self._antialias = bool(pg.getConfigOption("antialias"))  # as pyqtgraph's items

    def set_pens(self, pens: dict) -> None:
        """Pens by (w ≥ 0, width bin): stroked thin under wide, at one width
        negative under positive (as one curve item per bin stacked them)."""
        self._pens = {k: pens[k] for k in sorted(pens, key=lambda k: (k[1], k[0]))}
        self._strokes = {}  # the kind of stroke follows the pen's width
        self._counts, self._xy = {}, {}
        self.update()

    def set_bounds(self, rect: tuple[float, float, float, float]) -> None:
        """Where all edges lie (x, y, w, h: the drawing's columns), set on a new layout."""
        rect = QtCore.QRectF(*rect)
        if rect != self._bounds:
            self.prepareGeometryChange()
            self._bounds = rect

    def set_segments(self, segments: dict) -> None:
        changed = False
        for key, xy in segments.items():
            if key in self._xy and np.array_equal(self._xy[key], xy):
                continue  # the same edges in this bin: keep its stroke
            changed = True
            self._xy[key] = xy
            n = len(xy) // 2
            self._counts[key] = n
            if n == 0:
                self._strokes.pop(key, None)
                continue
            x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
            pen = self._pens.get(key)
            if not self._antialias and pen is not None and pen.widthF() > 1.0:
                self._strokes[key] = arrayToLineSegments(x, y, connect="pairs", finiteCheck=False)
            else:
                self._strokes[key] = pg.arrayToQPath(x, y, connect="pairs")
        if changed:
            self.update()

    def count(self, key=None) -> int:
        """Segments drawn (in one bin, or in all)."""
        if key is not None:
            return self._counts.get(key, 0)
        return sum(self._counts.values())

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, p: QtGui.QPainter, *_args) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, self._antialias)
        for key, pen in self._pens.items():
            stroke = self._strokes.get(key)
            if stroke is None:
                continue
            p.setPen(pen)
            if isinstance(stroke, QtGui.QPainterPath):
                p.drawPath(stroke)
            else:
                p.drawLines(*stroke.drawargs())
