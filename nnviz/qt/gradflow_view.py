"""Gradient flow, update ratios and dead units per layer, drawn from the
session's health history.

- Top left, across the depth of the network: each layer's ‖∂L/∂W‖ and
  max |∂L/∂W| on a log axis, at the step shown (the newest, or the one time
  travel shows). Vanishing gradients fall away to the left; exploding ones
  climb.
- Top right: the fraction of units dead (ReLU family: never active over the
  last batches seen) or saturated (sigmoid, tanh) in each layer.
- Below: each layer's update ratio ‖ΔW‖/‖W‖ over the steps on a log axis,
  with the customary band around 1e-3 shaded (1e-4 to 1e-2) and its centre
  dashed; layers the health warnings flag are drawn thick and marked ⚠.
- The warnings, in plain words, under the plots.

A click on the update-ratio plot emits :attr:`GradFlowView.stepClicked`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from nnviz.core.health_types import UPDATE_BAND, UPDATE_RATIO_GOOD
from nnviz.core.history import History
from nnviz.core.snapshot import Snapshot
from nnviz.qt.plot_axes import quiet_plot, sticky_range
from nnviz.qt.theme import DARK, Theme, qcolor

_PALETTE = (
    "#4c9be8", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
    "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


GOOD = "#59a14f"  # the customary band of update ratios
_UNITS_LABEL = "% dead (ReLU) · saturated (σ, tanh)"


def _warn_colour(theme: Theme) -> str:
    return "#b3261e" if theme.name == "light" else "#ff7b72"


def _blend(colour: str, background: str, alpha: int):
    """``colour`` at ``alpha`` (0–255) over ``background``, as an opaque colour."""
    c, b, a = qcolor(colour), qcolor(background), alpha / 255
    return tuple(
        round(bv + (cv - bv) * a)
        for cv, bv in ((c.red(), b.red()), (c.green(), b.green()), (c.blue(), b.blue()))
    )


def _positive(values: np.ndarray) -> np.ndarray:
    """Log axes: zeros, negatives and non-finite values become gaps."""
    v = np.asarray(values, dtype=np.float64).copy()
    v[~(np.isfinite(v) & (v > 0))] = np.nan
    return v


class GradFlowView(QtWidgets.QWidget):
    """Per-layer gradient norms, update ratios and dead/saturated units."""

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
        self.shown_step: int | None = None  # None: the newest
        self._drawn: tuple | None = None
        self.flagged: set[int] = set()  # 1-based layers the warnings name
        self._legend_labels: list[str] = []
        self._pens: dict[int, tuple] = {}
        self._n_ticks = 0

        self.canvas = pg.GraphicsLayoutWidget()
        self.depth_plot = self.canvas.addPlot(row=0, col=0)
        self.units_plot = self.canvas.addPlot(row=0, col=1)
        self.ratio_plot = self.canvas.addPlot(row=1, col=0, colspan=2)
        self.canvas.ci.layout.setColumnStretchFactor(0, 3)
        self.canvas.ci.layout.setColumnStretchFactor(1, 2)
        for p in (self.depth_plot, self.units_plot, self.ratio_plot):
            quiet_plot(p, theme.muted, theme.foreground)
            # ranges are set from the data, and only when it leaves them
            # (sticky_range): an axis re-lays its ticks out on every change
            p.disableAutoRange()
        self._ranges: dict[tuple[str, str], tuple[float, float]] = {}
        self._warn_key: tuple | None = None
        self._units_key: tuple | None = None
        self.depth_plot.setLogMode(y=True)
        self.ratio_plot.setLogMode(y=True)
        self.depth_plot.setTitle("Gradient across depth")
        self.depth_plot.setLabel("bottom", "layer")
        self.units_plot.setTitle("Dead / saturated units")
        self.units_plot.setLabel("bottom", "layer")
        self.units_plot.setYRange(0, 100, padding=0.02)
        self.ratio_plot.setTitle("Update ratio ‖ΔW‖ / ‖W‖ per step")
        self.ratio_plot.setLabel("bottom", "step")
        self.ratio_legend = self.ratio_plot.addLegend(offset=(-10, 10), colCount=5)

        self.norm_curve = pg.PlotDataItem(name="‖∂L/∂W‖", symbol="o", connect="finite")
        self.max_curve = pg.PlotDataItem(name="max |∂L/∂W|", symbol="t", connect="finite")
        self.depth_plot.addItem(self.norm_curve)
        self.depth_plot.addItem(self.max_curve)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.6)
        self.units_plot.addItem(self.dead_bars)
        lo, hi = UPDATE_BAND
        self.band = pg.LinearRegionItem(
            values=(math.log10(lo), math.log10(hi)), orientation="horizontal", movable=False
        )
        self.band.setZValue(-10)
        self.ratio_plot.addItem(self.band, ignoreBounds=True)
        self.good_line = pg.InfiniteLine(pos=math.log10(UPDATE_RATIO_GOOD), angle=0, movable=False)
        self.ratio_plot.addItem(self.good_line, ignoreBounds=True)
        self.step_line = pg.InfiniteLine(angle=90, movable=False)
        self.ratio_plot.addItem(self.step_line, ignoreBounds=True)
        self.step_line.hide()
        self.ratio_curves: list[pg.PlotDataItem] = []
        self.canvas.scene().sigMouseClicked.connect(self._on_click)

        self.warnings = QtWidgets.QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(QtCore.Qt.PlainText)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.canvas, 1)
        box.addWidget(self.warnings)
        self.set_theme(theme)

    # --- the view protocol -------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        t, s = theme, theme.scale
        self.canvas.setBackground(t.background)
        for p in (self.depth_plot, self.units_plot, self.ratio_plot):
            p.titleLabel.setText(p.titleLabel.text, color=t.foreground, size=f"{t.pt(10):.1f}pt")
            quiet_plot(p, t.muted, t.foreground)
        self.ratio_legend.setLabelTextColor(t.foreground)
        # the depth plot's key in its title: a legend inside would cover a layer's point
        self.depth_plot.setTitle(
            f"Gradient across depth: <span style='color:{t.backward}'>● ‖∂L/∂W‖</span>"
            f" &nbsp; <span style='color:{t.accent}'>▼ max |∂L/∂W|</span>",
            color=t.foreground,
            size=f"{t.pt(10):.1f}pt",
        )
        # whole-pixel pens: Qt strokes fractional widths through its slow path stroker
        w = max(1, round(s))
        self.norm_curve.setPen(pg.mkPen(t.backward, width=2 * w))
        self.norm_curve.setSymbolBrush(pg.mkBrush(t.backward))
        self.norm_curve.setSymbolPen(pg.mkPen(t.backward))
        self.max_curve.setPen(pg.mkPen(t.accent, width=w, style=QtCore.Qt.DashLine))
        self.max_curve.setSymbolBrush(pg.mkBrush(t.accent))
        self.max_curve.setSymbolPen(pg.mkPen(t.accent))
        # opaque, pre-blended with the background: a translucent fill across
        # the plot costs a millisecond a frame (nothing is drawn behind it)
        self.band.setBrush(pg.mkBrush(_blend(GOOD, t.background, 38)))
        for line in self.band.lines:
            line.setPen(pg.mkPen(_blend(GOOD, t.background, 90)))
        self.good_line.setPen(pg.mkPen(GOOD, width=w, style=QtCore.Qt.DashLine))
        self.ratio_legend.setBrush(pg.mkBrush(qcolor(t.background, 210)))
        self.step_line.setPen(pg.mkPen(t.accent, width=2 * w))
        self._drawn = None
        self._legend_labels, self._pens, self._warn_key = [], {}, None
        self._units_key = None
        self.refresh()

    def reset(self) -> None:
        self.shown_step = None
        self._drawn = None
        self.refresh()

    def set_snapshot(self, snap: Snapshot | None) -> None:
        """The step shown: the depth and units plots follow it (time travel)."""
        self.shown_step = None if snap is None else int(snap.step)
        self.refresh()

    def refresh(self) -> None:
        health = self.history.health
        key = (id(health), health.version, self.shown_step, self.theme.name, self.theme.scale)
        if key == self._drawn:
            return
        self._drawn = key
        self._draw()

    # --- drawing --------------------------------------------------------------------------------

    def report(self):
        """The report drawn across depth: the one at the shown step, else the newest."""
        health = self.history.health
        if self.shown_step is None or health.latest is None:
            return health.latest
        rep = health.at(self.shown_step)
        return health.latest if rep is health[-1] else rep

    def _draw(self) -> None:
        rep = self.report()
        health = self.history.health
        if rep is None:
            self.norm_curve.setData([], [])
            self.max_curve.setData([], [])
            self.dead_bars.setOpts(x=[], height=[])
            self._units_key = None
            for c in self.ratio_curves:
                c.setData([], [])
            self.warnings.setText("No health numbers yet: train a few steps")
            self._warn_key = None
            self.step_line.hide()
            return
        layers = rep.layers
        x = np.arange(1, len(layers) + 1, dtype=np.float64)
        shown = []
        for curve, attr in ((self.norm_curve, "grad_norm"), (self.max_curve, "grad_max")):
            y = _positive([getattr(la, attr) for la in layers])
            ok = np.isfinite(y)  # zeros have no place on a log axis: left out
            curve.setData(x[ok], y[ok])
            shown.append(y[ok])
        depth = (0.5, len(x) + 0.5)
        self._set_range(self.depth_plot, "x", *depth, (0.0, 0.0))
        self._set_range(self.units_plot, "x", *depth, (0.0, 0.0))
        self._set_log_range(self.depth_plot, np.concatenate(shown), (0.1, 0.1))
        if len(x) != self._n_ticks:
            self._n_ticks = len(x)
            ticks = [[(float(i), str(int(i))) for i in x]]
            self.depth_plot.getAxis("bottom").setTicks(ticks)
            self.units_plot.getAxis("bottom").setTicks(ticks)
        self._draw_units(x, layers)
        self.flagged = _flagged_layers(rep.warnings)
        self._draw_ratios(health, layers)
        warn_key = (rep.warnings, self.theme.name, self.theme.scale)
        if warn_key != self._warn_key:  # a style sheet re-polishes the label: only on change
            self._warn_key = warn_key
            self.warnings.setText(
                "\n".join(f"⚠ {w}" for w in rep.warnings) if rep.warnings else "No warnings."
            )
            self.warnings.setStyleSheet(
                f"color: {_warn_colour(self.theme) if rep.warnings else self.theme.muted}; "
                f"font-size: {self.theme.pt(10):.1f}pt;"
            )
        if self.shown_step is not None:
            self.step_line.setPos(self.shown_step)
            self.step_line.show()
        else:
            self.step_line.hide()

    def _set_range(self, plot, axis: str, lo: float, hi: float, room=(0.02, 0.1)) -> None:
        """Set a range from :func:`sticky_range`, only where it changed."""
        key = (id(plot), axis)
        new = sticky_range(self._ranges.get(key), lo, hi, room)
        if new != self._ranges.get(key):
            self._ranges[key] = new
            if axis == "x":
                plot.setXRange(*new, padding=0)
            else:
                plot.setYRange(*new, padding=0)

    def _set_log_range(self, plot, values: np.ndarray, room) -> None:
        """The y range of a log plot around the finite positive ``values``."""
        v = values[np.isfinite(values) & (values > 0)]
        if v.size:
            self._set_range(plot, "y", float(np.log10(v.min())), float(np.log10(v.max())), room)

    def _draw_units(self, x: np.ndarray, layers) -> None:
        t = self.theme
        heights, colours = [], []
        for la in layers:
            if la.dead_fraction is not None:
                heights.append(100 * la.dead_fraction)
                colours.append(t.negative)
            elif la.saturated_fraction is not None:
                heights.append(100 * la.saturated_fraction)
                colours.append(t.accent)
            else:
                heights.append(0.0)
                colours.append(t.muted)
        key = (tuple(heights), tuple(colours))
        if key == self._units_key:  # the bars as drawn: leave them
            return
        self._units_key = key
        self.dead_bars.setOpts(
            x=x,
            height=np.asarray(heights),
            brushes=[pg.mkBrush(c) for c in colours],
            pens=[None] * len(x),
        )
        if self.units_plot.getAxis("left").labelText != _UNITS_LABEL:
            self.units_plot.setLabel("left", _UNITS_LABEL)

    def _draw_ratios(self, health, layers) -> None:
        steps, ratios = health.series("update_ratio")
        n = ratios.shape[1] if ratios.ndim == 2 else 0
        w = max(1, round(self.theme.scale))
        while len(self.ratio_curves) < n:
            curve = pg.PlotDataItem(connect="finite")
            self.ratio_plot.addItem(curve)
            self.ratio_curves.append(curve)
        labels = []
        for j, curve in enumerate(self.ratio_curves):
            if j >= n:
                curve.setData([], [])
                continue
            flagged = (j + 1) in self.flagged
            pen = (_PALETTE[j % len(_PALETTE)], 3 * w if flagged else w)
            if self._pens.get(j) != pen:
                curve.setPen(pg.mkPen(pen[0], width=pen[1]))
                self._pens[j] = pen
            y = _positive(ratios[:, j])
            if np.isfinite(y).any():
                curve.setData(steps.astype(np.float64), y)
            else:
                curve.setData([], [])
            labels.append(f"{'⚠ ' if flagged else ''}layer {j + 1}")
        if len(steps):
            self._set_range(
                self.ratio_plot, "x", float(steps[0]), float(max(steps[-1], steps[0] + 1))
            )
            self._set_log_range(self.ratio_plot, _positive(ratios[:, :n]).ravel(), (0.05, 0.05))
        if labels != self._legend_labels:  # the legend re-lays itself out: only on change
            self._legend_labels = labels
            self.ratio_legend.clear()
            for curve, label in zip(self.ratio_curves, labels):
                self.ratio_legend.addItem(curve, label)

    # --- clicks -------------------------------------------------------------------------------------

    def _on_click(self, event) -> None:
        vb = self.ratio_plot.getViewBox()
        pos = event.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        step = self.history.health.nearest_step(vb.mapSceneToView(pos).x())
        if step is not None:
            self.stepClicked.emit(int(step))


def _flagged_layers(warnings) -> set[int]:
    """The 1-based layers named by warnings ("layer 2: …", "layers 1–3: …", "layers 1, 3: …")."""
    out: set[int] = set()
    for w in warnings:
        head = w.split(":", 1)[0]
        if not head.startswith("layer"):
            continue
        nums = head.split(" ", 1)[1] if " " in head else ""
        if "–" in nums:
            a, b = nums.split("–")
            out.update(range(int(a), int(b) + 1))
        else:
            out.update(int(v) for v in nums.split(",") if v.strip().isdigit())
    return out
