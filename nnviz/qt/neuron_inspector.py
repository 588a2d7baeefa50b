"""The neuron inspector: a tooltip-like panel with one neuron's numbers.

It shows a neuron of the snapshot the network view draws: its activation a,
pre-activation z, bias, gradient dL/dz, its strongest incoming weights (with
their contributions w·a) and a sparkline of its activation over the
snapshots the session's history kept up to that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.network_geometry import picture_shape
from nnviz.core.numfmt import fmt, fmt_count, fmt_signed
from nnviz.core.snapshot import Snapshot
from nnviz.qt.theme import DARK, Theme, diverging_lut, lut_indices

MAX_INCOMING = 8  # incoming weights listed


@dataclass(frozen=True)
class NeuronInfo:
    """One neuron's numbers, as the inspector shows them.

    ``layer`` counts drawn layers (0 is the input); ``incoming`` holds
    ``(source index, w, w·a_source)`` rows sorted by |w| (strongest first).
    """

    layer: int
    index: int
    title: str  # e.g. "hidden 1 · neuron 17"
    activation: str  # "input" for the input layer
    a: float
    z: float | None = None
    bias: float | None = None
    dz: float | None = None
    fan_in: int = 0
    incoming: tuple[tuple[int, float, float], ...] = ()
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))  # a over the kept steps
    note: str = ""  # e.g. the pixel's row and column, or the class name
    weight_image: np.ndarray | None = None  # incoming weights as the input picture (h, w)
    history_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # --- module blocks (issue 9): (name, value, hint) rows shown instead of a, z, b, dL/dz
    rows: tuple[tuple[str, float | None, str], ...] = ()
    history_label: str = ""  # what the sparkline shows, when not the neuron's a


def neuron_info(
    snap: Snapshot,
    layer: int,
    index: int,
    history: tuple[np.ndarray, np.ndarray] | None = None,
) -> NeuronInfo:
    """Neuron ``index`` of drawn layer ``layer`` (0: the input) in ``snap``;
    ``history``: its (steps, values) from the session's snapshot history."""
    steps, values = history if history is not None else (np.zeros(0, np.int64), np.zeros(0))
    if layer == 0:
        pic = picture_shape(snap.input_shape)
        note = f"pixel row {index // pic[1]}, column {index % pic[1]}" if pic else ""
        return NeuronInfo(
            0,
            index,
            f"input · x[{index}]",
            "input",
            float(snap.input[index]),
            history=values,
            history_steps=steps,
            note=note,
        )
    ls = snap.layers[layer - 1]
    prev = snap.input if layer == 1 else snap.layers[layer - 2].a
    w = ls.weight[index]
    top = np.argsort(-np.abs(w), kind="stable")[:MAX_INCOMING]
    pic = picture_shape(snap.input_shape)
    return NeuronInfo(
        layer,
        index,
        f"{'output' if layer == len(snap.layers) else f'hidden {layer}'} · neuron {index}",
        ls.activation,
        float(ls.a[index]),
        z=float(ls.z[index]),
        bias=float(ls.bias[index]) if ls.bias is not None else None,
        dz=float(ls.dz[index]) if ls.dz is not None else None,
        fan_in=int(w.size),
        incoming=tuple((int(j), float(w[j]), float(w[j] * prev[j])) for j in top),
        history=values,
        history_steps=steps,
        note=f"{ls.activation}, after Linear '{ls.name}'",
        weight_image=w.reshape(pic) if layer == 1 and pic and pic[0] * pic[1] == w.size else None,
    )


class _Sparkline(QtWidgets.QWidget):
    """A neuron's value over the steps the history kept (they thin with age)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.values = np.zeros(0)
        self.steps = np.zeros(0)
        self.theme = DARK
        self.setMinimumHeight(44)

    def set_values(self, values: np.ndarray, theme: Theme, steps: np.ndarray | None = None) -> None:
        self.values, self.theme = np.asarray(values, dtype=np.float64), theme
        self.steps = np.arange(self.values.size) if steps is None else np.asarray(steps, float)
        self.update()

    def paintEvent(self, _ev) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = self.rect().adjusted(2, 4, -2, -4)
        t = self.theme
        p.setPen(QtGui.QPen(QtGui.QColor(t.grid), 1))
        ok = np.isfinite(self.values)
        v, x = self.values[ok], self.steps[ok]
        if v.size < 2:
            p.setPen(QtGui.QColor(t.muted))
            text = "history: one snapshot so far" if v.size else "no history kept yet"
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, text)
            return
        lo, hi = float(v.min()), float(v.max())
        if hi - lo < 1e-12:
            lo, hi = lo - 1, hi + 1
        if lo < 0 < hi:  # the zero line
            y0 = r.bottom() - (0 - lo) / (hi - lo) * r.height()
            p.drawLine(QtCore.QPointF(r.left(), y0), QtCore.QPointF(r.right(), y0))
        span = float(x[-1] - x[0]) or 1.0
        xs = r.left() + (x - x[0]) / span * r.width()
        ys = r.bottom() - (v - lo) / (hi - lo) * r.height()
        p.setPen(QtGui.QPen(QtGui.QColor(t.accent), 1.6 * t.scale))
        p.drawPath(pg.arrayToQPath(xs, ys))
        p.setPen(QtGui.QColor(t.muted))
        f = p.font()
        f.setPointSizeF(t.pt(7.5))  # never below the mode's smallest text (issue 11)
        p.setFont(f)
        right = QtCore.Qt.AlignmentFlag.AlignRight
        p.drawText(r, right | QtCore.Qt.AlignmentFlag.AlignTop, fmt(hi, 3))
        p.drawText(r, right | QtCore.Qt.AlignmentFlag.AlignBottom, fmt(lo, 3))


class _WeightBars(QtWidgets.QWidget):
    """Horizontal bars of the strongest incoming weights, signed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: tuple[tuple[int, float, float], ...] = ()
        self.theme = DARK
        self.source = "a"

    def set_rows(self, rows, theme: Theme, source: str) -> None:
        self.rows, self.theme, self.source = tuple(rows), theme, source
        fm = QtGui.QFontMetrics(self.font())
        self.setFixedHeight(int(len(self.rows) * (fm.height() + 2) + 2))
        self.update()

    def paintEvent(self, _ev) -> None:
        if not self.rows:
            return
        p = QtGui.QPainter(self)
        t = self.theme
        fm = QtGui.QFontMetrics(self.font())
        h = fm.height() + 2
        label_w = fm.horizontalAdvance(f"{self.source}[0000]  ")
        num_w = fm.horizontalAdvance("−0.0000×10⁻⁰⁰ ")
        bar_x = label_w
        bar_w = max(20, self.width() - label_w - num_w)
        wmax = max(abs(w) for _, w, _ in self.rows) or 1.0
        for k, (src, w, _c) in enumerate(self.rows):
            y = k * h
            p.setPen(QtGui.QColor(t.muted))
            p.drawText(
                QtCore.QRectF(0, y, label_w, h),
                QtCore.Qt.AlignmentFlag.AlignVCenter,
                f"{self.source}[{src}]",
            )
            colour = QtGui.QColor(t.positive if w >= 0 else t.negative)
            half = bar_w / 2
            length = abs(w) / wmax * half
            x0 = bar_x + half if w >= 0 else bar_x + half - length
            p.fillRect(QtCore.QRectF(x0, y + 3, max(length, 1.0), h - 6), colour)
            p.setPen(QtGui.QColor(t.grid))
            p.drawLine(QtCore.QPointF(bar_x + half, y), QtCore.QPointF(bar_x + half, y + h))
            p.setPen(QtGui.QColor(t.foreground))
            p.drawText(
                QtCore.QRectF(bar_x + bar_w + 4, y, num_w, h),
                QtCore.Qt.AlignmentFlag.AlignVCenter,
                fmt_signed(w),
            )


class NeuronInspector(QtWidgets.QFrame):
    """A floating panel (a child of the view) showing one :class:`NeuronInfo`."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.info: NeuronInfo | None = None
        self.pinned = False
        self.setObjectName("NeuronInspector")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(4)
        self.title = QtWidgets.QLabel()
        self.values = QtWidgets.QLabel()
        self.values.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.incoming_label = QtWidgets.QLabel()
        self.bars = _WeightBars()
        self.picture = QtWidgets.QLabel()
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.spark_label = QtWidgets.QLabel()
        self.spark = _Sparkline()
        for w in (
            self.title,
            self.values,
            self.incoming_label,
            self.picture,
            self.bars,
            self.spark_label,
            self.spark,
        ):
            lay.addWidget(w)
        self.setFixedWidth(300)
        self.set_theme(theme)
        self.hide()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        fs = theme.pt(9.5)
        self.setStyleSheet(
            f"#NeuronInspector {{ background: {theme.panel}; border: 1px solid {theme.grid};"
            f" border-radius: 6px; }}"
            f" QLabel {{ color: {theme.foreground}; font-size: {fs:.1f}pt; }}"
        )
        self.title.setStyleSheet(f"font-weight: bold; font-size: {fs * 1.1:.1f}pt;")
        for w in (self.incoming_label, self.spark_label):
            w.setStyleSheet(f"color: {theme.muted};")
        f = self.bars.font()
        f.setPointSizeF(theme.pt(8.5))
        self.bars.setFont(f)
        self.setFixedWidth(int(300 * theme.scale))
        if self.info is not None:
            self.show_info(self.info)

    def show_info(self, info: NeuronInfo) -> None:
        self.info = info
        t = self.theme
        self.title.setText(info.title)
        rows = [("a", info.a, "activation")]
        if info.activation != "input":
            rows += [
                ("z", info.z, "pre-activation"),
                ("bias b", info.bias, ""),
                ("dL/dz", info.dz, ""),
            ]
        if info.rows:  # --- module blocks (issue 9)
            rows = list(info.rows)
        html = "<table cellspacing='0' cellpadding='1'>"
        for name, v, hint in rows:
            colour = t.foreground
            if v is not None and name in ("a", "dL/dz") and v != 0:
                colour = t.positive if v > 0 else t.negative
            html += (
                f"<tr><td style='color:{t.muted}; padding-right:10px'>{name}</td>"
                f"<td style='color:{colour}; font-family:monospace'>{fmt_signed(v)}</td>"
                f"<td style='color:{t.muted}; padding-left:8px'>{hint}</td></tr>"
            )
        html += "</table>"
        if info.note:
            html += f"<div style='color:{t.muted}'>{info.note}</div>"
        self.values.setText(html)
        if info.incoming:
            more = (
                f" (top {len(info.incoming)} of {info.fan_in})"
                if info.fan_in > len(info.incoming)
                else ""
            )
            self.incoming_label.setText(f"incoming weights w{more}")
            self.incoming_label.show()
            self.bars.set_rows(info.incoming, t, "x" if info.layer == 1 else "a")
            self.bars.show()
        else:
            self.incoming_label.hide()
            self.bars.hide()
        if info.weight_image is not None:
            self.picture.setPixmap(self._weight_pixmap(info.weight_image))
            self.picture.setToolTip("incoming weights laid out as the input picture")
            self.picture.show()
        else:
            self.picture.hide()
        n, steps = int(info.history.size), info.history_steps
        what = info.history_label or ("x" if info.layer == 0 else "a")  # issue 9: blocks
        span = f", steps {int(steps[0]):,}–{int(steps[-1]):,}" if n > 1 and steps.size == n else ""
        self.spark_label.setText(f"{what} over {fmt_count(n, 'kept snapshot')}{span}")
        self.spark.set_values(info.history, t, steps if steps.size == n else None)
        self.adjustSize()

    def _weight_pixmap(self, w: np.ndarray) -> QtGui.QPixmap:
        """The weights as a picture (what this neuron looks for in the input)."""
        w = np.asarray(w, dtype=np.float64)
        vmax = float(np.max(np.abs(w))) if w.size else 1.0
        rgba = np.ascontiguousarray(diverging_lut(self.theme)[lut_indices(w, vmax)])
        h, wd = rgba.shape[:2]
        img = QtGui.QImage(rgba.data, wd, h, 4 * wd, QtGui.QImage.Format.Format_RGBA8888).copy()
        side = int(112 * self.theme.scale)
        return QtGui.QPixmap.fromImage(img).scaled(
            side,
            side,
            QtCore.Qt.AspectRatioMode.KeepAspectRatio,
            QtCore.Qt.TransformationMode.FastTransformation,
        )

    def place_near(
        self,
        pos: QtCore.QPoint,
        bounds: QtCore.QRect | None = None,
        avoid: QtCore.QPoint | None = None,
        keep_seen: Sequence[QtCore.QPoint] = (),
    ) -> bool:
        """Move beside a point of the parent, kept inside ``bounds`` (default: the
        parent) and off ``avoid`` (a clicked edge, issue 11), over as few of
        ``keep_seen`` (the neurons) as it can; False when there is no room to keep
        off ``avoid`` (it then lies where it would without it)."""
        parent = self.parentWidget()
        if parent is None:
            self.move(pos)
            return True
        area = bounds if bounds is not None else parent.rect()
        self.adjustSize()
        w, h, gap = self.width(), self.height(), 18

        def fit(x: int, y: int) -> QtCore.QPoint:
            if y + h > area.bottom():
                y = area.bottom() - h - 4
            return QtCore.QPoint(max(area.left() + 4, x), max(area.top() + 4, y))

        x = pos.x() + gap if pos.x() + gap + w <= area.right() else pos.x() - w - gap
        spot, ok = fit(x, pos.y() + gap), True
        if avoid is not None:
            xs = (x, pos.x() + gap, pos.x() - w - gap, avoid.x() + gap, avoid.x() - w - gap)
            ys = (pos.y() + gap, avoid.y() + gap, avoid.y() - h - gap, pos.y() - h - gap)
            spots = [spot] + [fit(cx, cy) for cy in ys for cx in xs]
            clear = [
                s
                for s in spots
                if not QtCore.QRect(s, self.size()).adjusted(-6, -6, 6, 6).contains(avoid)
                and area.contains(QtCore.QRect(s, self.size()))
            ]
            hidden = lambda s: sum(QtCore.QRect(s, self.size()).contains(q) for q in keep_seen)  # noqa: E731
            spot, ok = (min(clear, key=hidden), True) if clear else (spot, False)
        self.move(spot)
        self.raise_()
        return ok
