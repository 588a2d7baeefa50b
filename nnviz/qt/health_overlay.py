"""Training health drawn on the network view (issue 12): each layer's column
tinted by the health of its gradient, dead and saturated units marked.

A layer's gradient is judged against the output layer's, as the health
warnings judge it (:mod:`nnviz.core.health_warnings`): ‖∂L/∂W‖ below
``VANISHING`` (1e-3) of the output layer's is *vanishing*, above
``EXPLODING`` (1e3) times it *exploding*, within a decade of either *weak*
or *strong*, NaN/Inf *diverged*, none at all *no gradient*. The numbers come
from the health report of the snapshot shown (``Snapshot.health``, else the
newest report at or before its step in ``history.health``).

Dead units (ReLU family) are those never active over the last batches
shown, the rule the engine's tracker counts them by (a unit is active in a
batch when its batch-mean activation is above 0); saturated units (sigmoid,
tanh) are those whose batch-mean activation sits where g'(z) is under 5 %
of its peak. Dead units get a ✕, saturated ones a ring.

The overlay is off until the user turns it on (the network view's context
menu) or a health warning first appears; a user's choice is kept.
:class:`HealthOverlay` only adds items to the view's ``ViewBox`` and is
called once a frame (:meth:`HealthOverlay.update`); it redraws only what changed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.health import DEAD_WINDOW, SATURATION
from nnviz.core.health_types import RELU_FAMILY
from nnviz.core.health_warnings import EXPLODING, VANISHING, sci

# state: (colour, words for the key and tooltips)
STATES = {
    "healthy": ("#59a14f", "healthy"),
    "weak": ("#edc948", f"weak ({sci(VANISHING)} to {sci(10 * VANISHING)} of the output's)"),
    "vanishing": ("#e15759", f"vanishing (< {sci(VANISHING)} of the output's)"),
    "strong": ("#f28e2b", f"strong ({sci(EXPLODING / 10)} to {sci(EXPLODING)}× the output's)"),
    "exploding": ("#d45087", f"exploding (> {sci(EXPLODING)}× the output's)"),
    "diverged": ("#ff2d2d", "diverged (NaN or infinite)"),
    "none": ("#8a8f98", "no gradient"),
}
DEAD_COLOUR = "#ff5a5a"
SATURATED_COLOUR = "#edc948"
TINT_ALPHA = 60
_PEAK_DG = {"sigmoid": 0.25, "tanh": 1.0}

EXPLAIN = (
    "Gradient health: each layer's column is tinted by its weight gradient "
    "‖∂L/∂W‖ compared with the output layer's: green healthy, yellow weak, "
    f"red vanishing (under {sci(VANISHING)} of the output layer's), orange strong, "
    f"pink exploding (over {sci(EXPLODING)}×), bright red NaN/Inf, grey no gradient. "
    "✕ marks dead ReLU units (never active over the last batches), "
    "○ saturated sigmoid/tanh units (g′ near 0 on average)."
)


def gradient_state(grad_norm: float, reference: float) -> str:
    """A layer's gradient health, its ‖∂L/∂W‖ against the output layer's."""
    if not math.isfinite(grad_norm):
        return "diverged"
    if grad_norm == 0:
        return "none"
    if not (math.isfinite(reference) and reference > 0):
        return "healthy" if math.isfinite(reference) else "diverged"
    r = grad_norm / reference
    if r < VANISHING:
        return "vanishing"
    if r < 10 * VANISHING:
        return "weak"
    if r > EXPLODING:
        return "exploding"
    if r > EXPLODING / 10:
        return "strong"
    return "healthy"


@dataclass(frozen=True)
class LayerMark:
    """What the overlay shows for one drawn layer (1 = the first hidden)."""

    state: str
    ratio: float  # ‖∂L/∂W‖ over the output layer's (NaN when undefined)
    dead: np.ndarray  # indices of dead units
    saturated: np.ndarray  # indices of saturated units
    tooltip: str


class HealthOverlay(QtCore.QObject):
    """The overlay of a :class:`~nnviz.qt.network_view.NetworkView` (see the module)."""

    toggled = QtCore.Signal(bool)

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.enabled = False
        self.user_choice: bool | None = None  # set by the menu: no more automatic switching
        self.marks: dict[int, LayerMark] = {}  # layer (as drawn) → its marks, when shown
        self._tints: list[QtWidgets.QGraphicsRectItem] = []
        self._dead = pg.ScatterPlotItem(pxMode=False, symbol="x", pen=None)
        self._saturated = pg.ScatterPlotItem(pxMode=False, symbol="o")
        for item in (self._dead, self._saturated):
            item.setZValue(6)  # over the neurons (2) and their frames (3)
            item.setVisible(False)
            view.vb.addItem(item)
        self.key = QtWidgets.QLabel(view.graphics)  # the colours, top left
        self.key.setTextFormat(QtCore.Qt.RichText)
        self.key.setToolTip(EXPLAIN)
        self.key.hide()
        self._built_for: tuple | None = None
        self._units_drawn: tuple | None = None
        self._key_theme: tuple | None = None
        self._key_natural, self._key_room = 10_000, None
        self._drawn: tuple | None = None
        self._activity: dict[str, deque] = {}  # layer name → recent batches' active units
        self._last_step: int | None = None

    # --- switching ---------------------------------------------------------------------------

    def set_enabled(self, on: bool, by_user: bool = True) -> None:
        if by_user:
            self.user_choice = bool(on)
        if bool(on) == self.enabled:
            return
        self.enabled = bool(on)
        self._drawn = None
        self.toggled.emit(self.enabled)
        if self.view.snapshot is not None:
            self._show(self.view.snapshot)

    def add_menu_action(self, menu: QtWidgets.QMenu) -> QtGui.QAction:
        """A checkable "Show gradient health" entry in the view's context menu."""
        act = menu.addAction("Show gradient health")
        act.setCheckable(True)
        act.setChecked(self.enabled)
        act.setToolTip(EXPLAIN)
        menu.setToolTipsVisible(True)
        act.toggled.connect(lambda on: self.set_enabled(on, by_user=True))
        return act

    # --- per frame ------------------------------------------------------------------------------

    def report_for(self, snap):
        """The health report describing ``snap``: its own, else the newest before it."""
        rep = getattr(snap, "health", None)
        if rep is None:
            rep = self.view.history.health.at(snap.step)
            if rep is not None and rep.step > snap.step:
                rep = None
        return rep

    def update(self, snap) -> None:
        """Follow the snapshot shown (the network view calls this each frame)."""
        self._note_activity(snap)
        rep = self.report_for(snap)
        if rep is not None and rep.warnings and self.user_choice is None and not self.enabled:
            self.set_enabled(True, by_user=False)  # a warning started: show where
            return
        self._show(snap)

    def _show(self, snap) -> None:
        rep = self.report_for(snap)
        if not self.enabled or rep is None or not self.view.geoms:
            self._hide()
            return
        t = self.view.theme
        key = (id(rep), snap.step, self._layout_key(), t.name, t.scale)
        if key == self._drawn:
            return
        self._drawn = key
        self._build()
        self.marks = self._marks(snap, rep)
        self._draw()

    def _note_activity(self, snap) -> None:
        """Which ReLU units were active in this snapshot's batch, over the last
        ``DEAD_WINDOW`` snapshots (the tracker's rule: dead = never active)."""
        if self._last_step is not None and snap.step <= self._last_step:
            if snap.step == self._last_step:
                return  # the same batch drawn again (a resize, a theme)
            self._activity.clear()  # a new run, a reset or time travel: start over
        self._last_step = snap.step
        for ls in snap.layers:
            if ls.activation not in RELU_FAMILY:
                continue
            window = self._activity.setdefault(ls.name, deque(maxlen=DEAD_WINDOW))
            active = np.asarray(ls.a_mean) > 0
            if window and window[-1].shape != active.shape:
                window.clear()
            window.append(active)

    def _marks(self, snap, rep) -> dict[int, LayerMark]:
        layers = rep.layers
        if not layers:
            return {}
        ref = layers[-1].grad_norm
        out: dict[int, LayerMark] = {}
        for i, (la, ls) in enumerate(zip(layers, snap.layers), 1):
            state = "healthy" if i == len(layers) else gradient_state(la.grad_norm, ref)
            ratio = la.grad_norm / ref if math.isfinite(ref) and ref > 0 else float("nan")
            dead = saturated = np.zeros(0, dtype=np.int64)
            window = self._activity.get(ls.name)
            if la.dead_units is not None:  # the tracker's own verdict over every batch
                dead = np.flatnonzero(la.dead_units)
            elif la.dead_fraction is not None and window:  # older recordings: the frames seen
                dead = np.flatnonzero(~np.logical_or.reduce(list(window)))
            peak = _PEAK_DG.get(ls.activation)
            if peak is not None:
                m = np.asarray(ls.a_mean, dtype=np.float64)
                dg = m * (1 - m) if ls.activation == "sigmoid" else 1 - m * m
                saturated = np.flatnonzero(dg < SATURATION * peak)
            out[i] = LayerMark(state, ratio, dead, saturated, _tooltip(i, la, state, ratio, rep))
        return out

    # --- drawing --------------------------------------------------------------------------------

    def _layout_key(self) -> tuple:
        return tuple(g.bounds for g in self.view.geoms)

    def _build(self) -> None:
        """One tint per column, made when the view's layout changes."""
        geoms = self.view.geoms
        key = self._layout_key()
        if key == self._built_for:
            return
        self._built_for = key
        for item in self._tints:
            if item.scene() is not None:
                self.view.vb.removeItem(item)
        self._tints = []
        gap = min((b.x - a.x for a, b in zip(geoms[:-1], geoms[1:])), default=10.0)
        for g in geoms[1:]:
            x0, y0, x1, y1 = g.bounds
            pad_x = min(0.42 * gap - 0.5 * (x1 - x0), 4 * max(g.r, g.cell)) if gap else 1.0
            pad_x = max(pad_x, 0.5)
            pad_y = 1.5 * max(g.r, g.cell, 0.5)
            rect = QtWidgets.QGraphicsRectItem(
                QtCore.QRectF(x0 - pad_x, y0 - pad_y, x1 - x0 + 2 * pad_x, y1 - y0 + 2 * pad_y)
            )
            rect.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
            rect.setZValue(-30)  # behind the edges
            rect.setVisible(False)
            self.view.vb.addItem(rect)
            self._tints.append(rect)
        self._units_drawn = None

    def _draw(self) -> None:
        t = self.view.theme
        geoms = self.view.geoms
        dead_xy, sat_xy, dead_size, sat_size = [], [], [], []
        # items are touched only where what they show changed: each change
        # repaints the column, and the overlay runs every frame
        for i, rect in enumerate(self._tints, 1):
            mark = self.marks.get(i)
            if mark is None:
                rect.setVisible(False)
                continue
            if rect.data(0) != (mark.state, t.name, t.scale):
                rect.setData(0, (mark.state, t.name, t.scale))
                c = QtGui.QColor(STATES[mark.state][0])
                pen = QtGui.QPen(c, 2.0 * t.scale)  # a full-colour outline reads on projectors
                pen.setCosmetic(True)
                rect.setPen(pen)
                c.setAlpha(TINT_ALPHA)
                rect.setBrush(QtGui.QBrush(c))
            rect.setToolTip(mark.tooltip)
            rect.setVisible(True)
            g = geoms[i]
            unit = 2 * g.r if g.kind == "dots" else g.cell
            for idx, xy, size, grow in (
                (mark.dead, dead_xy, dead_size, 0.9),
                (mark.saturated, sat_xy, sat_size, 1.5),
            ):
                idx = idx[idx < len(g.pos)]
                xy.append(g.pos[idx])
                size.append(np.full(len(idx), unit * grow))
        dead, sat = (_stack(dead_xy), _cat(dead_size)), (_stack(sat_xy), _cat(sat_size))
        key = (dead[0].tobytes(), dead[1].tobytes(), sat[0].tobytes(), sat[1].tobytes(), t.scale)
        if key != self._units_drawn:
            self._units_drawn = key
            self._dead.setData(pos=dead[0], size=dead[1], brush=pg.mkBrush(DEAD_COLOUR))
            self._saturated.setData(
                pos=sat[0],
                size=sat[1],
                brush=pg.mkBrush(None),
                pen=pg.mkPen(SATURATED_COLOUR, width=2.0 * t.scale),
            )
        self._dead.setVisible(True)
        self._saturated.setVisible(True)
        if self._key_theme != (t.name, t.scale):
            self._key_theme = (t.name, t.scale)
            self._show_key()
        self._fit_key()
        self.key.show()

    def _show_key(self) -> None:
        t = self.view.theme
        sw = "&#9632;"
        parts = [
            f"<span style='color:{STATES[s][0]}'>{sw}</span>&nbsp;{'no gradient' if s == 'none' else s}"
            for s in ("healthy", "weak", "vanishing", "exploding", "none")
        ]
        self.key.setText(
            f"<span style='color:{t.foreground}'><b>Gradient health</b> &nbsp;"
            + " &nbsp;".join(parts)
            + f" &nbsp;<span style='color:{DEAD_COLOUR}'>✕</span>&nbsp;dead"
            f" &nbsp;<span style='color:{SATURATED_COLOUR}'>○</span>&nbsp;saturated</span>"
        )
        self.key.setStyleSheet(
            f"background: {t.background}; color: {t.foreground}; padding: 3px 6px;"
            f"font-size: {t.pt(10):.1f}pt;"
        )
        self.key.setWordWrap(False)
        self.key.setMinimumWidth(0)
        self.key.setMaximumWidth(16777215)
        self.key.adjustSize()
        self._key_natural = self.key.width()
        self.key.setWordWrap(True)  # a narrow panel: the key wraps rather than being cut off
        self._key_room = None
        self._fit_key()
        self.key.move(8, 8)
        self.key.show()
        self.key.raise_()

    def _fit_key(self) -> None:
        room = max(120, self.view.graphics.width() - 16)
        if room == self._key_room:
            return
        self._key_room = room
        self.key.setFixedWidth(min(self._key_natural, room))
        self.key.setFixedHeight(self.key.heightForWidth(self.key.width()))

    def _hide(self) -> None:
        self._drawn = None
        for rect in self._tints:
            rect.setVisible(False)
        self._dead.setVisible(False)
        self._saturated.setVisible(False)
        self.key.hide()

    # --- for tests ------------------------------------------------------------------------------

    def dead_marked(self) -> int:
        """Units marked dead now (✕), all layers together."""
        return 0 if not self._dead.isVisible() else len(self._dead.data)

    def tint(self, layer: int) -> QtGui.QColor | None:
        """The colour a layer's column is tinted in now (None: not tinted)."""
        if not 1 <= layer <= len(self._tints) or not self._tints[layer - 1].isVisible():
            return None
        return QtGui.QColor(self._tints[layer - 1].brush().color())


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts).reshape(-1, 2) if parts else np.zeros((0, 2))


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _tooltip(i: int, la, state: str, ratio: float, rep) -> str:
    lines = [f"Layer {i} ({la.activation}), step {rep.step}"]
    lines.append(
        f"‖∂L/∂W‖ = {sci(la.grad_norm)}"
        + (f", {sci(ratio)}× the output layer's" if math.isfinite(ratio) else "")
        + f": {STATES[state][1]}"
    )
    if la.dead_fraction is not None:
        n = round(la.dead_fraction * la.width)
        lines.append(
            f"{n} of {la.width} units dead (never active over the last {rep.dead_window} batches)"
        )
    if la.saturated_fraction is not None:
        lines.append(f"{100 * la.saturated_fraction:.0f} % of unit activations saturated")
    lines.append("")
    lines.append(EXPLAIN)
    return "\n".join(lines)
