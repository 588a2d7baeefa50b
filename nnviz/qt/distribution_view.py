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
from nnviz.qt.plot_axes import quiet_plot, sticky_range
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


def ridge_picks(n: int) -> list[int]:
    """The reports drawn as ridges, of ``n``: all when they fit in
    ``MAX_RIDGES``, else every s-th and the newest, so the picks stay put as
    reports arrive (the newest changes each time, s every ``MAX_RIDGES`` - 1
    strides' worth of reports)."""
    if n <= MAX_RIDGES:
        return list(range(n))
    stride = -(-(n - 1) // (MAX_RIDGES - 1))
    picks = list(range(0, n - 1, stride))
    if len(picks) > 1 and (n - 1) - picks[-1] < stride / 2:
        picks.pop()  # too close to the newest: it would hide behind it
    picks.append(n - 1)
    return picks


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
        # the paths of the arrays drawn last time, by the arrays' identity: a
        # view that hands the same arrays again (old ridges) reuses their paths
        self._made: dict[tuple[int, int, bool], tuple] = {}

    def _path(self, x: np.ndarray, y: np.ndarray, closed: bool, made: dict):
        key = (id(x), id(y), closed)
        hit = self._made.get(key)
        if hit is not None and hit[0] is x and hit[1] is y:
            made[key] = hit
            return hit[2]
        ok = np.isfinite(x) & np.isfinite(y)
        path = None
        if np.count_nonzero(ok) >= 2:
            path = pg.arrayToQPath(x[ok], y[ok])
            if closed:
                path.closeSubpath()
        made[key] = (x, y, path)
        return path

    def set_shapes(self, shapes, pen_width: float = 1.0) -> None:
        self.prepareGeometryChange()
        self.shapes = list(shapes)
        self.pen_width = pen_width
        self._paths = []
        made: dict = {}
        rect = QtCore.QRectF()
        for x, y, pen, brush in self.shapes:
            path = self._path(x, y, brush is not None, made)
            if path is None:
                continue
            qpen = _pen(pen, pen_width)
            qbrush = _brush(brush)
            self._paths.append((path, qpen, qbrush))
            rect = rect.united(path.boundingRect())
        self._made = made
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
        self.marker_key: tuple | None = None
        # what the shapes show, for tests and clicks: ridges (step, x, y) or bands
        self.ridges: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.bands: dict[str, np.ndarray] = {}
        self.xrange: tuple[float, float] | None = None
        self.yrange: tuple[float, float] | None = None

    def set_ranges(self, x: tuple[float, float], y: tuple[float, float]) -> None:
        """Set the view's ranges (from :func:`sticky_range`) where they changed:
        an unchanged range keeps its axis' drawn ticks."""
        if x != self.xrange:
            self.xrange = x
            self.plot.setXRange(*x, padding=0)
        if y != self.yrange:
            self.yrange = y
            self.plot.setYRange(*y, padding=0)


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
        self._ridge_cache: dict[tuple, tuple] = {}  # (layer, kind, report, height): arrays
        self._band_cache: dict[tuple, tuple] = {}  # (layer, kind): reports, steps, percentiles
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
            quiet_plot(plot, t.muted, t.foreground)
            plot.disableAutoRange()  # ranges are set from the data when drawn
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
        picks = ridge_picks(len(self.history.health))
        dists = self._dists(j, picks)
        lp.ridges = []
        if not dists:
            lp.shapes.set_shapes([])
            return
        steps = np.array([s for s, _ in dists], dtype=np.float64)
        span = steps[-1] - steps[0]
        spacing = span / max(len(dists) - 1, 1) if span > 0 else 1.0
        # ridges overlap, as in TensorBoard's offset view; the height is rounded
        # (to a tenth of a decade) so the ridges drawn before keep their shapes
        height = 2.5 * 10.0 ** (round(10 * math.log10(spacing)) / 10)
        t = self.theme
        bg = _rgba(t.background, 255)
        shapes, cache = [], {}
        for k, (step, d) in enumerate(dists):
            key = (j, self.kind, step, id(d), height)
            hit = self._ridge_cache.get(key)
            if hit is None or hit[0] is not d:
                centres = 0.5 * (d.edges[:-1] + d.edges[1:])
                peak = float(d.counts.max()) or 1.0
                xs = np.concatenate([[d.edges[0]], centres, [d.edges[-1]]])
                ys = np.concatenate([[step], step - height * d.counts / peak, [step]])
                hit = (d, xs, ys)
            cache[key] = hit
            _, xs, ys = hit
            lp.ridges.append((int(step), xs, ys))
            # older ridges first: newer ones (in front, lower) hide what they cover
            age = k / max(len(dists) - 1, 1)
            shapes.append((xs, ys, _mix(t.muted, t.accent, round(age, 2)), bg))
        self._ridge_cache = {
            k: v for k, v in self._ridge_cache.items() if k[0] != j or k[1] != self.kind
        }
        self._ridge_cache.update(cache)
        lp.shapes.set_shapes(shapes, _line_width(t))
        lo = min(float(d.edges[0]) for _, d in dists)
        hi = max(float(d.edges[-1]) for _, d in dists)
        lp.set_ranges(
            sticky_range(lp.xrange, lo, hi, (0.02, 0.02)),
            sticky_range(lp.yrange, steps[0] - height, steps[-1]),
        )

    def _band_series(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, percentiles) of layer ``j``'s distributions over the history,
        kept between frames: a new report appends its row, the rest are reused."""
        health = self.history.health
        n = len(health)
        key = (j, self.kind)
        reps, steps, pct = self._band_cache.get(key, ([], [], []))
        m = len(reps)
        if not (m <= n and m > 0 and health[0] is reps[0] and health[m - 1] is reps[-1]):
            reps, steps, pct, m = [], [], [], 0
        for i in range(m, n):
            rep = health[i]
            reps.append(rep)
            d = rep.layers[j].dist(self.kind) if j < len(rep.layers) else None
            if d is not None and d.total > 0 and np.isfinite(d.percentiles).all():
                steps.append(rep.step)
                pct.append(d.percentiles)
        self._band_cache[key] = (reps, steps, pct)
        return (
            np.asarray(steps, dtype=np.float64),
            np.asarray(pct, dtype=np.float64).reshape(len(pct), -1),
        )

    def _draw_bands(self, lp: _LayerPlot, j: int) -> None:
        t = self.theme
        steps, pct = self._band_series(j)
        lp.bands = {}
        if not len(steps):
            lp.shapes.set_shapes([])
            return
        lp.bands = {"steps": steps, "percentiles": pct}
        shapes = []
        x = np.concatenate([steps, steps[::-1]])
        # nested bands in opaque colours, each the translucent accent laid over
        # the ones around it (as blending would show it; opaque fills are ~5× cheaper)
        fill = np.array(_rgba(t.background, 255)[:3], dtype=np.float64)
        accent = np.array(_rgba(t.accent, 255)[:3], dtype=np.float64)
        for k, (a, b) in enumerate(_BANDS):
            alpha = (50 + 45 * k) / 255
            fill = fill + (accent - fill) * alpha
            y = np.concatenate([pct[:, a], pct[::-1, b]])
            shapes.append((x, y, None, tuple(int(round(c)) for c in fill)))
        shapes.append((steps, pct[:, 4], t.foreground, None))
        lp.shapes.set_shapes(shapes, _line_width(t))
        if len(steps):
            lp.set_ranges(
                sticky_range(lp.xrange, steps[0], max(steps[-1], steps[0] + 1)),
                sticky_range(lp.yrange, float(pct[:, 0].min()), float(pct[:, -1].max()),
                             (0.05, 0.05)),
            )  # fmt: skip

    def _place_markers(self) -> None:
        step = self.marker_step
        for lp in self._plots:
            key = (step, self.mode, self.theme.accent, self.theme.scale)
            if key == lp.marker_key:
                continue  # drawn as it is: leave it (and its part of the plot) alone
            lp.marker_key = key
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
