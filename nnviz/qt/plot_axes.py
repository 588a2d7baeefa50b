"""Plot axes shared by the curves: opaque grid lines, whole-number step ticks,
log labels that never collide (split from loss_view.py)."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtGui


class GridAxis(pg.AxisItem):
    """An axis whose grid lines are drawn in opaque colours, pre-blended with
    the background: pyqtgraph draws them translucent, and blending lines that
    span the whole plot cost 7 ms a paint, against 0.4 ms without a grid
    (measured at 1300×260, offscreen); the loss plot repaints every frame."""

    background = QtGui.QColor("#000000")
    integer = True  # steps and epochs: whole numbers only, never 0.1 … 0.9 (issue 11)

    def tickValues(self, minVal, maxVal, size):
        levels = super().tickValues(minVal, maxVal, size)
        if not self.integer or self.orientation not in ("bottom", "top") or self.logMode:
            return levels
        kept = [(sp, vals) for sp, vals in levels if sp >= 1]
        if kept:
            return kept
        lo, hi = math.ceil(min(minVal, maxVal)), math.floor(max(minVal, maxVal))
        if hi < lo:
            return []
        step = max(1, math.ceil((hi - lo + 1) / 8))
        return [(float(step), [float(v) for v in range(lo, hi + 1, step)])]

    def generateDrawSpecs(self, p):
        specs = super().generateDrawSpecs(p)
        if specs is None or self.grid is False:
            return specs
        axis, ticks, texts = specs
        bg = self.background
        opaque = []
        for pen, p1, p2 in ticks:
            c = pen.color()
            a = c.alphaF()
            if a < 1.0:
                pen = QtGui.QPen(pen)
                pen.setColor(
                    QtGui.QColor(
                        round(bg.red() + (c.red() - bg.red()) * a),
                        round(bg.green() + (c.green() - bg.green()) * a),
                        round(bg.blue() + (c.blue() - bg.blue()) * a),
                    )
                )
            opaque.append((pen, p1, p2))
        return axis, opaque, texts


class LossAxis(GridAxis):
    """A y axis whose log mode labels only 1, 2 and 5 of each decade (or only
    the decades when many are shown), so projector-sized labels never collide."""

    def logTickStrings(self, values, scale, spacing):
        lo, hi = sorted(self.range)
        keep = (1, 2, 5) if hi - lo <= 2.5 else (1,)
        out = []
        for v in values:
            v = float(v)
            mant = 10 ** (v - math.floor(v + 1e-9))
            out.append(
                f"{10**v * scale:g}"
                if round(mant) in keep and abs(mant - round(mant)) < 1e-6
                else ""
            )
        return out


def quiet_plot(plot: pg.PlotItem, muted: str, foreground: str) -> pg.PlotItem:
    """A plot without pyqtgraph's menu and buttons, its left and bottom axes
    in the theme's colours, and no automatic SI prefix: with it, every range
    change re-lays the axis label out as HTML (measured: a tenth of a frame
    of the health views, issue 12)."""
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for side in ("left", "bottom"):
        ax = plot.getAxis(side)
        ax.setPen(pg.mkPen(muted))
        ax.setTextPen(pg.mkPen(foreground))
        ax.enableAutoSIPrefix(False)
    return plot


def sticky_range(
    current: tuple[float, float] | None,
    lo: float,
    hi: float,
    room: tuple[float, float] = (0.02, 0.1),
) -> tuple[float, float]:
    """A range for data spanning ``[lo, hi]`` that changes only when it must:
    ``current`` while it holds the data and the data fills most of it, else
    one with ``room`` (fractions of the span below and above) to spare. An
    axis whose range is unchanged keeps its drawn ticks, so a plot growing
    by a step a frame re-lays its axis out every dozen frames, not each."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return current if current is not None else (0.0, 1.0)
    if hi <= lo:
        pad = max(abs(lo) * 0.05, 0.5)
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    below, above = room
    if current is not None:
        a, b = current
        if a <= lo and hi <= b and span * (1 + 2 * (below + above)) >= b - a:
            return current
    return (lo - below * span, hi + above * span)
