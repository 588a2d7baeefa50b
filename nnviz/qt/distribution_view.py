"""Per-layer distributions over training steps (TensorBoard's histogram and
distribution dashboards), drawn from the session's health history.

One small plot per layer of neurons. "Histograms" stacks each recorded
step's histogram as a ridge (newest in front, at the bottom; steps down the
y axis); "Bands" draws the percentiles over steps as nested bands (min–max,
±1.5σ, ±1σ, ±0.5σ) around the median. A combo box switches between
weights, gradients, activations and pre-activations. A click on a step
emits :attr:`DistributionView.stepClicked` (time travel jumps there).

The numbers are computed on the training thread (:mod:`nnviz.core.health`)
and kept in ``history.health``; this view only draws them, and only when
the history's version or its own settings changed.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.health_types import KIND_LABELS, KINDS
from nnviz.core.history import History
from nnviz.core.snapshot import Snapshot
from nnviz.qt.theme import DARK, Theme, qcolor

MAX_RIDGES = 24  # histograms drawn per layer (evenly spaced over the recorded steps)
MODES = ("ridges", "bands")
MODE_LABELS = {"ridges": "Histograms", "bands": "Bands"}
_BANDS = ((0, 8), (1, 7), (2, 6), (3, 5))  # percentile index pairs, outermost first
_COLUMNS = 3


def _line_width(theme: Theme) -> float:
    """Whole pixels only (see :meth:`Shapes.paint`): 1, or more in presenter mode."""
    return float(max(1, round(theme.scale)))


def _rgba(colour: str, alpha: int) -> tuple[int, int, int, int]:
    c = qcolor(colour)
    return (c.red(), c.green(), c.blue(), alpha)


def _mix(a: str, b: str, t: float):
    ca, cb = qcolor(a), qcolor(b)
    return (
        round(ca.red() + (cb.red() - ca.red()) * t),
        round(ca.green() + (cb.green() - ca.green()) * t),
        round(ca.blue() + (cb.blue() - ca.blue()) * t),
    )


@functools.lru_cache(maxsize=256)
def _pen(colour, width: float) -> QtGui.QPen:
    if colour is None:
        return QtGui.QPen(QtCore.Qt.NoPen)
    return pg.mkPen(colour, width=width)


@functools.lru_cache(maxsize=256)
def _brush(colour) -> QtGui.QBrush:
    return QtGui.QBrush(QtCore.Qt.NoBrush) if colour is None else pg.mkBrush(colour)


class Shapes(pg.GraphicsObject):
    """Filled and outlined shapes in data coordinates, painted in order (later
    on top): one item per plot instead of one per ridge, so a frame costs a
    few polygons, not a hundred pyqtgraph curves' bounds and paths.

    ``shapes``: (x, y, pen colour or None, brush colour or None) each; a
    shape with a brush is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[np.ndarray, np.ndarray, object, object]] = []
        self._paths: list[tuple[QtGui.QPainterPath, QtGui.QPen, QtGui.QBrush]] = []
        self._rect = QtCore.QRectF()
        self.pen_width = 1.0

    def set_shapes(self, shapes, pen_width: float = 1.0) -> None:
        self.prepareGeometryChange()
        self.shapes = list(shapes)
        self.pen_width = pen_width
        self._paths = []
        rect = QtCore.QRectF()
        for x, y, pen, brush in self.shapes:
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < 2:
                continue
            path = pg.arrayToQPath(x[ok], y[ok])
            if brush is not None:
                path.closeSubpath()
            qpen = _pen(pen, pen_width)
            qbrush = _brush(brush)
            self._paths.append((path, qpen, qbrush))
            rect = rect.united(path.boundingRect())
        self._rect = rect
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, painter, *_args) -> None:
        # Fills without antialiasing (their edge is under the outline), outlines
        # with it, 1 px wide: Qt strokes wider or fractional pens through its
        # path stroker, 10× slower (40 ridges: 19 ms against 240 ms, measured).
        for path, pen, brush in self._paths:
            if brush.style() != QtCore.Qt.NoBrush:
                painter.setRenderHint(QtGui.QPainter.Antialiasing, False)
                painter.fillPath(path, brush)
            if pen.style() != QtCore.Qt.NoPen:
                painter.setRenderHint(QtGui.QPainter.Antialiasing, True)
                painter.setPen(pen)
                painter.setBrush(QtCore.Qt.NoBrush)
                painter.drawPath(path)


class _LayerPlot:
    """One layer's plot, its shapes and the time-travel marker."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.shapes = Shapes()
        plot.addItem(self.shapes)
        self.marker = pg.InfiniteLine(angle=0, movable=False)
        plot.addItem(self.marker, ignoreBounds=True)
        self.marker.hide()
        # what the shapes show, for tests and clicks: ridges (step, x, y) or bands
        self.ridges: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.bands: dict[str, np.ndarray] = {}


class DistributionView(QtWidgets.QWidget):
    """Distributions of one kind of value per layer over the recorded steps."""

    stepClicked = QtCore.Signal(int)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
        history: History | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history if history is not None else History()
        self.theme = theme
        self.kind = "weight"
        self.mode = "ridges"
        self.marker_step: int | None = None
        self._drawn: tuple | None = None
        self._plots: list[_LayerPlot] = []
        self._layout_key: tuple = ()

        self.kind_box = QtWidgets.QComboBox()
        for k in KINDS:
            self.kind_box.addItem(KIND_LABELS[k].capitalize(), k)
        self.kind_box.currentIndexChanged.connect(
            lambda i: self.set_kind(self.kind_box.itemData(i))
        )
        self.mode_box = QtWidgets.QComboBox()
        for m in MODES:
            self.mode_box.addItem(MODE_LABELS[m], m)
        self.mode_box.currentIndexChanged.connect(
            lambda i: self.set_mode(self.mode_box.itemData(i))
        )
        self.note = QtWidgets.QLabel("")
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Show"))
        bar.addWidget(self.kind_box)
        bar.addWidget(QtWidgets.QLabel("as"))
        bar.addWidget(self.mode_box)
        bar.addStretch(1)
        bar.addWidget(self.note)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.scene().sigMouseClicked.connect(self._on_click)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(bar)
        box.addWidget(self.canvas, 1)
        self.set_theme(theme)

    # --- the view protocol -------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.canvas.setBackground(theme.background)
        self._layout_key = ()  # rebuilt with the new colours
        self._drawn = None
        self.refresh()

    def reset(self) -> None:
        self.marker_step = None
        self._drawn = None
        self.refresh()

    def set_snapshot(self, snap: Snapshot | None) -> None:
        step = None if snap is None else int(snap.step)
        if step != self.marker_step:
            self.marker_step = step
            self._place_markers()

    def refresh(self) -> None:
        health = self.history.health
        key = (id(health), health.version, self.kind, self.mode, self.theme.name, self.theme.scale)
        if key == self._drawn:
            return
        self._drawn = key
        self._draw()

    # --- settings ---------------------------------------------------------------------------

    def set_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.kind = kind
        self.kind_box.setCurrentIndex(KINDS.index(kind))
        self.refresh()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.mode_box.setCurrentIndex(MODES.index(mode))
        self.refresh()

    # --- drawing --------------------------------------------------------------------------------

    def _ensure_plots(self, names: tuple[str, ...]) -> None:
        key = (names, self.mode, self.theme.name, self.theme.scale)
        if key == self._layout_key:
            return
        self._layout_key = key
        self.canvas.clear()
        self._plots = []
        t = self.theme
        for i, title in enumerate(names):
            plot = self.canvas.addPlot(row=i // _COLUMNS, col=i % _COLUMNS)
            plot.setTitle(title, color=t.foreground, size=f"{t.pt(9):.1f}pt")
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.disableAutoRange()  # ranges are set from the data when drawn
            for side in ("left", "bottom"):
                ax = plot.getAxis(side)
                ax.setPen(pg.mkPen(t.muted))
                ax.setTextPen(pg.mkPen(t.foreground))
            if self.mode == "ridges":
                plot.invertY(True)
                plot.setLabel("left", "step", color=t.muted)
            else:
                plot.setLabel("bottom", "step", color=t.muted)
            self._plots.append(_LayerPlot(plot))

    def _draw(self) -> None:
        health = self.history.health
        latest = health.latest
        if latest is None:
            self.canvas.clear()
            self._plots, self._layout_key = [], ()
            self.note.setText("No health numbers yet: train a few steps")
            return
        names = tuple(
            f"layer {i}: {la.name} ({la.activation})" for i, la in enumerate(latest.layers, 1)
        )
        self._ensure_plots(names)
        n = len(health)
        self.note.setText(
            f"{KIND_LABELS[self.kind]} of {len(names)} layers over {n} recorded step"
            + ("" if n == 1 else "s")
        )
        for j, lp in enumerate(self._plots):
            if self.mode == "ridges":
                self._draw_ridges(lp, j)
            else:
                self._draw_bands(lp, j)
        self._place_markers()

    def _dists(self, j: int, picks) -> list[tuple[int, object]]:
        out = []
        health = self.history.health
        for i in picks:
            rep = health[i]
            if j < len(rep.layers):
                d = rep.layers[j].dist(self.kind)
                if d is not None and d.total > 0:
                    out.append((rep.step, d))
        return out

    def _draw_ridges(self, lp: _LayerPlot, j: int) -> None:
        n = len(self.history.health)
        picks = np.unique(np.linspace(0, n - 1, min(n, MAX_RIDGES)).round().astype(int))
        dists = self._dists(j, picks)
        lp.ridges = []
        if not dists:
            lp.shapes.set_shapes([])
            return
        steps = np.array([s for s, _ in dists], dtype=np.float64)
        span = steps[-1] - steps[0]
        spacing = span / max(len(dists) - 1, 1) if span > 0 else 1.0
        height = 2.5 * spacing  # ridges overlap, as in TensorBoard's offset view
        t = self.theme
        bg = _rgba(t.background, 255)
        shapes = []
        for k, (step, d) in enumerate(dists):
            age = k / max(len(dists) - 1, 1)
            centres = 0.5 * (d.edges[:-1] + d.edges[1:])
            peak = float(d.counts.max()) or 1.0
            xs = np.concatenate([[d.edges[0]], centres, [d.edges[-1]]])
            ys = np.concatenate([[step], step - height * d.counts / peak, [step]])
            lp.ridges.append((int(step), xs, ys))
            # older ridges first: newer ones (in front, lower) hide what they cover
            shapes.append((xs, ys, _mix(t.muted, t.accent, age), bg))
        lp.shapes.set_shapes(shapes, _line_width(t))
        lo = min(float(d.edges[0]) for _, d in dists)
        hi = max(float(d.edges[-1]) for _, d in dists)
        lp.plot.setXRange(lo, hi, padding=0.02)
        lp.plot.setYRange(steps[0] - height, steps[-1], padding=0.02)

    def _draw_bands(self, lp: _LayerPlot, j: int) -> None:
        n = len(self.history.health)
        dists = self._dists(j, range(n))
        t = self.theme
        lp.bands = {}
        if not dists:
            lp.shapes.set_shapes([])
            return
        steps = np.array([s for s, _ in dists], dtype=np.float64)
        pct = np.array([d.percentiles for _, d in dists], dtype=np.float64)
        ok = np.isfinite(pct).all(axis=1)
        steps, pct = steps[ok], pct[ok]
        lp.bands = {"steps": steps, "percentiles": pct}
        shapes = []
        for k, (a, b) in enumerate(_BANDS):
            x = np.concatenate([steps, steps[::-1]])
            y = np.concatenate([pct[:, a], pct[::-1, b]])
            shapes.append((x, y, None, _rgba(t.accent, 50 + 45 * k)))
        shapes.append((steps, pct[:, 4], t.foreground, None))
        lp.shapes.set_shapes(shapes, _line_width(t))
        if len(steps):
            lp.plot.setXRange(steps[0], max(steps[-1], steps[0] + 1), padding=0.02)
            lp.plot.setYRange(float(pct[:, 0].min()), float(pct[:, -1].max()), padding=0.05)

    def _place_markers(self) -> None:
        step = self.marker_step
        for lp in self._plots:
            if step is None:
                lp.marker.hide()
                continue
            lp.marker.setAngle(0 if self.mode == "ridges" else 90)
            lp.marker.setPen(pg.mkPen(self.theme.accent, width=1.5 * self.theme.scale))
            lp.marker.setPos(step)
            lp.marker.show()

    # --- clicks -------------------------------------------------------------------------------------

    def step_at(self, plot_index: int, x: float, y: float) -> int | None:
        """The recorded step at a point of a layer's plot (data coordinates)."""
        value = y if self.mode == "ridges" else x
        if not math.isfinite(value):
            return None
        if self.mode == "ridges":  # a ridge rises above its step: the one below the point
            steps = self.history.health.steps
            below = steps[steps >= value]
            if len(below):
                return int(below[0])
        return self.history.health.nearest_step(value)

    def _on_click(self, event) -> None:
        pos = event.scenePos()
        for k, lp in enumerate(self._plots):
            vb = lp.plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                p = vb.mapSceneToView(pos)
                step = self.step_at(k, p.x(), p.y())
                if step is not None:
                    self.stepClicked.emit(step)
                return
