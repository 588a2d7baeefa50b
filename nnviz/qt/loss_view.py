"""Live loss and accuracy curves (pyqtgraph), drawn from the session's history.

Two plots share one x axis (steps or epochs): the loss on top (the train loss
every step, smoothed, with the raw curve faint behind it, and the validation
loss at each evaluation), the accuracy below (shown once an accuracy arrives).

The view keeps no data: the numbers live in ``history.metrics``
(:class:`~nnviz.core.history.MetricsHistory`), which the session fills.
``refresh()``, called by the frame clock (about 30 Hz), redraws only when the
metrics' version or one of the view's own settings (x axis, smoothing)
differs from what it last drew. Long runs stay fast: the history extends the
smoothed curve incrementally, and the items clip to the view and downsample to
a few points per pixel. A NaN or Inf loss is counted and left out of the curve.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.history import DEFAULT_SMOOTHING, History, MetricsHistory
from nnviz.core.numfmt import fmt, fmt_percent
from nnviz.core.snapshot import Snapshot
from nnviz.qt.plot_axes import GridAxis as _GridAxis
from nnviz.qt.plot_axes import LossAxis as _LossAxis
from nnviz.qt.theme import DARK, Theme, qcolor

SLIDER_STEPS = 1000  # the slider's value / 1000 is the smoothing weight (0 .. 0.999)
X_MODES = ("steps", "epochs")


class LossView(QtWidgets.QWidget):
    """Train/validation loss and accuracy against steps or epochs.

    ``history``: the session's :class:`~nnviz.core.history.History` (None: a
    private one, for a view used on its own: fill ``view.history.metrics``).
    """

    logScaleChanged = QtCore.Signal(bool)
    xAxisChanged = QtCore.Signal(str)
    smoothingChanged = QtCore.Signal(float)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
        history: History | None = None,
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.history = history if history is not None else History()
        self.x_mode = "steps"
        self.log_scale = False
        # per-step losses are noisy; TensorBoard's 0.6 leaves them ragged
        self.smoothing = DEFAULT_SMOOTHING
        self.marker_step: float | None = None
        self._drawn: tuple | None = None  # what the curves show: (metrics, version, x, w)
        # the x range follows the run until the user pans or zooms it (double-click: follow)
        self.follow_x = True
        self._build()
        self.set_theme(theme)

    @property
    def metrics(self) -> MetricsHistory:
        return self.history.metrics

    @property
    def steps_per_epoch(self) -> int:
        return self.metrics.steps_per_epoch

    @property
    def nonfinite_count(self) -> int:
        return self.metrics.nonfinite_count

    # --- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)

        bar = QtWidgets.QHBoxLayout()
        bar.setSpacing(8)
        self.x_combo = QtWidgets.QComboBox()
        self.x_combo.addItems(["x: steps", "x: epochs"])
        self.x_combo.setToolTip("Plot against training steps or epochs")
        self.x_combo.currentIndexChanged.connect(lambda i: self.set_x_axis(X_MODES[i]))
        self.log_check = QtWidgets.QCheckBox("log loss")
        self.log_check.setToolTip("Logarithmic loss axis (L)")
        self.log_check.toggled.connect(self._log_toggled)
        self.smooth_label = QtWidgets.QLabel()
        self.smooth_slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.smooth_slider.setRange(0, SLIDER_STEPS - 1)
        self.smooth_slider.setValue(round(self.smoothing * SLIDER_STEPS))
        self.smooth_slider.setToolTip(
            "Smoothing: a debiased exponential moving average of the train loss;\n"
            "the raw loss stays faint behind it. 0 = raw."
        )
        self.smooth_slider.valueChanged.connect(
            lambda v: self.set_smoothing(v / SLIDER_STEPS, from_slider=True)
        )
        self.note = QtWidgets.QLabel()  # NaN/Inf count
        for w in (self.x_combo, self.log_check, self.smooth_label, self.smooth_slider):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.note)
        bar.addStretch(1)
        lay.addLayout(bar)

        self.loss_plot = pg.PlotWidget(
            axisItems={"left": _LossAxis("left"), "bottom": _GridAxis("bottom")}
        )
        self.acc_plot = pg.PlotWidget(
            axisItems={"left": _GridAxis("left"), "bottom": _GridAxis("bottom")}
        )
        for pw in (self.loss_plot, self.acc_plot):
            pi = pw.getPlotItem()
            pi.hideButtons()
            pi.setMenuEnabled(False)
            pi.showGrid(x=True, y=True, alpha=0.25)
            pi.getViewBox().setMouseEnabled(x=True, y=False)
            # long runs: draw only what is in view, at a few points per pixel (the
            # PlotItem hands these to every curve it holds; per-item settings are
            # overwritten when an item is added)
            pi.setClipToView(True)
            pi.setDownsampling(auto=True, mode="peak")
            pi.getAxis("left").enableAutoSIPrefix(False)  # no "loss (x0.001)"
            for name in ("left", "bottom"):  # grid lines behind the curves and the legend
                pi.getAxis(name).setZValue(-1)
        self.acc_plot.setXLink(self.loss_plot)
        # The x range is set here, not by pyqtgraph's auto-range: auto-range reads the
        # downsampled curve, whose last x moves with the downsampling factor, which
        # moves with the range: on long runs the two chased each other on every paint
        # and the window froze (seen after 25,000-36,000 steps of mnist-mlp).
        for pw in (self.loss_plot, self.acc_plot):
            vb = pw.getPlotItem().getViewBox()
            vb.disableAutoRange(axis=pg.ViewBox.XAxis)
            vb.sigRangeChangedManually.connect(self._x_changed_by_hand)
            pw.scene().sigMouseClicked.connect(self._on_clicked)
        # accuracy autoranges inside 0..100 % but never zooms to a sliver of a percent
        self.acc_plot.getPlotItem().getViewBox().setLimits(yMin=-2, yMax=102, minYRange=10)
        self.loss_plot.setMinimumHeight(80)
        self.acc_plot.setMinimumHeight(60)
        # --- layout (issue 11): side by side when the view is wide and short ------------------
        self.plots = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.TopToBottom)
        self.plots.setSpacing(6)
        self.plots.addWidget(self.loss_plot, 3)
        self.plots.addWidget(self.acc_plot, 2)
        lay.addLayout(self.plots, 1)
        self.acc_plot.hide()

        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        self.legend = lp.addLegend(offset=(-8, 8))
        self.train_raw = pg.PlotDataItem()
        self.train_smooth = pg.PlotDataItem(name="train")
        self.val_loss = pg.PlotDataItem(name="validation")
        self.train_acc = pg.PlotDataItem()
        self.val_acc = pg.PlotDataItem()
        # the raw (faint) curve doesn't set the y range: one spike would flatten
        # everything else (TensorBoard's "ignore outliers"); the smoothed one does
        lp.addItem(self.train_raw, ignoreBounds=True)
        lp.addItem(self.train_smooth)
        lp.addItem(self.val_loss)
        ap.addItem(self.train_acc)
        ap.addItem(self.val_acc)
        # the raw curve is drawn, but the legend names only the smoothed one
        self.train_raw.setZValue(-1)
        # Wide antialiased lines stroked as one path cost 21 ms a paint at 7,000
        # points and 165 ms at 100,000; drawn as separate segments, 4 and 6 ms.
        for item in (self.train_raw, self.train_smooth, self.val_loss):
            item.curve.setSegmentedLineMode("on")

        self.markers = [pg.InfiniteLine(angle=90, movable=False) for _ in range(2)]
        for plot, m in zip((lp, ap), self.markers):
            m.setZValue(10)
            m.hide()
            plot.addItem(m, ignoreBounds=True)

        self._hover = {}
        for pw in (self.loss_plot, self.acc_plot):
            dots = pg.PlotDataItem(pen=None, symbol="o")
            text = pg.TextItem(anchor=(0, 1))
            for it in (dots, text):
                it.setZValue(20)
                it.hide()
                pw.getPlotItem().addItem(it, ignoreBounds=True)
            self._hover[pw] = (dots, text)
        self._proxies = [
            pg.SignalProxy(pw.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)
            for pw in (self.loss_plot, self.acc_plot)
        ]
        self._update_axes()
        self._update_smooth_label()

    # --- the view protocol ----------------------------------------------------------------

    def reset(self) -> None:
        """A new model: forget what is drawn (the session clears the history; the
        next ``refresh()`` draws whatever it then holds)."""
        self._drawn = None
        self.follow_x = True
        self.marker_step = None
        self._place_marker()
        self._hide_hover()
        for item in (
            self.train_raw,
            self.train_smooth,
            self.val_loss,
            self.train_acc,
            self.val_acc,
        ):
            item.setData([], [])
        self.note.setText("")

    def set_snapshot(self, snap: Snapshot | None) -> None:
        """Nothing to draw: the curves come from the history, and the marker
        from :meth:`set_marker` (the step being inspected)."""

    # --- settings ---------------------------------------------------------------------------

    def set_log_scale(self, on: bool) -> None:
        on = bool(on)
        with QtCore.QSignalBlocker(self.log_check):
            self.log_check.setChecked(on)
        if on == self.log_scale:
            return
        self.log_scale = on
        self.loss_plot.getPlotItem().setLogMode(x=False, y=on)
        self._hide_hover()
        self.loss_plot.getPlotItem().enableAutoRange(y=True)

    def _log_toggled(self, on: bool) -> None:
        self.set_log_scale(on)
        self.logScaleChanged.emit(on)

    def set_x_axis(self, mode: str) -> None:
        if mode not in X_MODES:
            raise ValueError(f"x axis must be one of {X_MODES}, got {mode!r}")
        with QtCore.QSignalBlocker(self.x_combo):
            self.x_combo.setCurrentIndex(X_MODES.index(mode))
        if mode == self.x_mode:
            return
        self.x_mode = mode
        self._update_axes()
        self._place_marker()
        self._hide_hover()
        self.refresh()
        self.follow()
        self.xAxisChanged.emit(mode)

    def set_smoothing(self, weight: float, *, from_slider: bool = False) -> None:
        """Smoothing weight in [0, 0.999]: 0 draws the raw loss only."""
        w = min(max(float(weight), 0.0), (SLIDER_STEPS - 1) / SLIDER_STEPS)
        if not from_slider:
            with QtCore.QSignalBlocker(self.smooth_slider):
                self.smooth_slider.setValue(round(w * SLIDER_STEPS))
        if w == self.smoothing:
            return
        self.smoothing = w
        self._update_smooth_label()
        self.refresh()
        self.smoothingChanged.emit(w)

    def set_marker(self, step: float | None) -> None:
        """A vertical line at the training step being inspected (None hides it)."""
        if step is None or (isinstance(step, (int, float)) and step < 0):
            self.marker_step = None
        else:
            self.marker_step = float(step)
        self._place_marker()

    def marker_x(self) -> float | None:
        """Where the marker is drawn, in the current x units (None when hidden)."""
        return self.markers[0].value() if self.markers[0].isVisible() else None

    # --- look -----------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        s = theme.scale
        tick_font = QtGui.QFont()
        tick_font.setPointSizeF(theme.pt(9))
        self._label_css = {"color": theme.foreground, "font-size": f"{theme.pt(9.5):.1f}pt"}
        fm = QtGui.QFontMetricsF(tick_font)
        self._line = line = fm.height()  # axes sized by their text, never clipped
        self._axis_w = int(fm.horizontalAdvance("0.0000") + line * 1.3 + 6 * s)
        self._axis_h = int(line * 2.3 + 4 * s)
        for pw in (self.loss_plot, self.acc_plot):
            pw.setBackground(theme.background)
            pi = pw.getPlotItem()
            for name in ("left", "bottom"):
                ax = pi.getAxis(name)
                ax.setPen(pg.mkPen(theme.muted, width=max(1.0, s)))
                ax.setTextPen(pg.mkPen(theme.foreground))
                ax.setStyle(tickFont=tick_font, tickTextOffset=int(4 * s))
                ax.label.setFont(tick_font)
                ax.background = qcolor(theme.background)
            # equal left-axis widths keep the two linked x axes aligned
            pi.getAxis("left").setWidth(self._axis_w)
            pi.getAxis("bottom").setHeight(self._axis_h)
        # the accuracy plot holds its label and a few legible ticks
        label = QtGui.QFont(tick_font)
        label.setPointSizeF(theme.pt(9.5))
        self.acc_plot.setMinimumHeight(
            int(QtGui.QFontMetricsF(label).horizontalAdvance("accuracy %") + self._axis_h + 8 * s)
        )
        self.loss_plot.setMinimumHeight(int(self.acc_plot.minimumHeight() * 0.8))
        self._update_axes()

        raw = qcolor(theme.train, 55 if theme.name == "dark" else 70)
        self.train_raw.setPen(pg.mkPen(raw, width=1.0 * s))
        self.train_smooth.setPen(pg.mkPen(theme.train, width=2.2 * s))
        self.train_smooth.setSymbolBrush(pg.mkBrush(theme.train))
        edge = pg.mkPen(theme.background, width=s)
        for item, colour, size in (
            (self.val_loss, theme.val, 6),
            (self.train_acc, theme.train, 5),
            (self.val_acc, theme.val, 5),
        ):
            item.setPen(pg.mkPen(colour, width=2.0 * s))
            item.setSymbol("o")
            item.setSymbolSize(size * s)
            item.setSymbolPen(edge)
            item.setSymbolBrush(pg.mkBrush(colour))

        size = f"{theme.pt(9):.1f}pt"
        self.legend.setLabelTextColor(theme.foreground)
        self.legend.setLabelTextSize(size)
        self.legend.setBrush(pg.mkBrush(qcolor(theme.panel, 215)))
        self.legend.setPen(pg.mkPen(theme.grid))
        for sample, label in self.legend.items:
            label.setText(label.text, color=theme.foreground, size=size)
            sample.update()

        for m in self.markers:
            m.setPen(pg.mkPen(theme.accent, width=1.6 * s, style=QtCore.Qt.DashLine))
        font = QtGui.QFont()
        font.setPointSizeF(theme.pt(9))
        for dots, text in self._hover.values():
            dots.setSymbolSize(9 * s)
            dots.setSymbolBrush(pg.mkBrush(theme.accent))
            dots.setSymbolPen(edge)
            text.setColor(theme.foreground)
            text.fill = pg.mkBrush(qcolor(theme.panel, 230))
            text.border = pg.mkPen(theme.grid)
            text.setFont(font)
        self.smooth_slider.setMinimumWidth(int(120 * s))
        self.smooth_slider.setMaximumWidth(int(220 * s))
        self.note.setStyleSheet(f"color: {theme.accent};")
        self._drawn = None
        self.refresh()

    def _update_axes(self) -> None:
        css = getattr(self, "_label_css", {})
        xname = "step" if self.x_mode == "steps" else "epoch"
        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        lp.setLabel("left", "loss", **css)
        ap.setLabel("left", "accuracy %", **css)
        acc_shown = not self.acc_plot.isHidden() and self._stacked()
        # with the accuracy plot below, the loss plot's x labels would repeat its own
        lb = lp.getAxis("bottom")
        lb.setStyle(showValues=not acc_shown)
        if acc_shown:
            lp.setLabel("bottom", "")
            lb.showLabel(False)
            lb.setHeight(int(6 * self.theme.scale))
        else:
            lp.setLabel("bottom", xname, **css)
            lb.setHeight(getattr(self, "_axis_h", int(34 * self.theme.scale)))
        ap.setLabel("bottom", xname, **css)

    def _stacked(self) -> bool:
        return self.plots.direction() == QtWidgets.QBoxLayout.TopToBottom

    def resizeEvent(self, event) -> None:
        """Accuracy beside the loss when the view is wide and short (a projector's
        strip under the network), below it otherwise."""
        super().resizeEvent(event)
        size = event.size()
        need = self.acc_plot.minimumHeight() + self.loss_plot.minimumHeight() + 3 * self._line
        wide = size.width() > 2.4 * size.height() or size.height() < need
        direction = QtWidgets.QBoxLayout.LeftToRight if wide else QtWidgets.QBoxLayout.TopToBottom
        if direction != self.plots.direction():
            self.plots.setDirection(direction)
            self._update_axes()

    def _update_smooth_label(self) -> None:
        self.smooth_label.setText(f"smoothing {self.smoothing:.3f}")

    # --- drawing --------------------------------------------------------------------------------

    def _x_train(self) -> np.ndarray:
        m = self.metrics
        return (m.train_step if self.x_mode == "steps" else m.train_epoch).view

    def _x_eval(self) -> np.ndarray:
        m = self.metrics
        return (m.eval_step if self.x_mode == "steps" else m.eval_epoch).view

    def _smoothed(self) -> np.ndarray:
        m = self.metrics
        return m.smoothed(self.smoothing) if self.smoothing > 0 else m.train_loss.view

    def refresh(self) -> bool:
        """Redraw if the history or a setting changed since the last call (the
        frame clock calls this); True when it redrew."""
        m = self.metrics
        key = (id(m), m.version, self.x_mode, self.smoothing)
        if key == self._drawn:
            return False
        self._drawn = key
        x, loss = self._x_train(), m.train_loss.view
        if self.smoothing > 0:
            self.train_raw.setData(x, loss)
            self.train_raw.show()
        else:
            self.train_raw.setData([], [])
            self.train_raw.hide()
        self.train_smooth.setData(x, self._smoothed())
        # one step (Step pressed once) makes no line: mark the point itself
        few = len(x) < 2
        if few != (self.train_smooth.opts["symbol"] is not None):
            self.train_smooth.setSymbol("o" if few else None)

        xe = self._x_eval()
        _set_finite(self.val_loss, xe, m.val_loss.view)
        vacc, tacc = m.val_accuracy.view, m.train_accuracy.view
        has_acc = bool(np.isfinite(vacc).any() or np.isfinite(tacc).any())
        _set_finite(self.val_acc, xe, vacc * 100.0)
        _set_finite(self.train_acc, xe, tacc * 100.0)
        if has_acc == self.acc_plot.isHidden():
            self.acc_plot.setVisible(has_acc)
            self._update_axes()
        self._place_marker()  # steps per epoch may have changed
        self._follow_range()
        for pw in (self.loss_plot, self.acc_plot):
            # the new range now, not while painting (which would paint twice)
            pw.getPlotItem().getViewBox().prepareForPaint()

        k = m.nonfinite_count
        self.note.setText(f"{k:,} NaN/Inf loss{'es' if k > 1 else ''} not drawn" if k else "")
        return True

    def follow(self) -> None:
        """The x axis follows the run again (after a pan or zoom; or a double-click)."""
        self.follow_x = True
        self._follow_range()

    def _follow_range(self) -> None:
        if not self.follow_x:
            return
        x = self._x_train()
        xe = self._x_eval()
        ends = [v for v in (x[:1], x[-1:], xe[:1], xe[-1:]) if v.size]
        if not ends:
            return
        lo, hi = float(min(v[0] for v in ends)), float(max(v[0] for v in ends))
        if hi <= lo:  # one point: a little room around it
            lo, hi = lo - 0.5, hi + 0.5
        self.loss_plot.getPlotItem().getViewBox().setXRange(lo, hi, padding=0.02)

    def _x_changed_by_hand(self, *_args) -> None:
        self.follow_x = False

    def _on_clicked(self, event) -> None:
        if event.double():
            self.follow()

    def _place_marker(self) -> None:
        for m in self.markers:
            if self.marker_step is None:
                m.hide()
            else:
                per = 1 if self.x_mode == "steps" else self.steps_per_epoch
                m.setValue(self.marker_step / per)
                m.show()

    # --- hover ----------------------------------------------------------------------------------

    def _hide_hover(self) -> None:
        for dots, text in self._hover.values():
            dots.hide()
            text.hide()

    def _on_mouse_moved(self, event) -> None:
        pos = event[0]
        for pw in (self.loss_plot, self.acc_plot):
            vb = pw.getPlotItem().getViewBox()
            if pw.isVisible() and pw.scene() is not None and vb.sceneBoundingRect().contains(pos):
                x = vb.mapSceneToView(pos).x()
                self.hover_at(x, plot="loss" if pw is self.loss_plot else "accuracy")
                return
        self._hide_hover()

    def hover_at(self, x: float, plot: str = "loss") -> str:
        """Show the values nearest to ``x`` (current x units) on ``plot``; returns the text."""
        pw = self.loss_plot if plot == "loss" else self.acc_plot
        for other, items in self._hover.items():
            if other is not pw:
                for it in items:
                    it.hide()
        dots, text = self._hover[pw]
        m = self.metrics
        xt, xe = self._x_train(), self._x_eval()
        (x0, x1), (y0, y1) = pw.getPlotItem().getViewBox().viewRange()
        # an evaluation this near the cursor is reported too: 2 % of the view, or
        # two train steps when zoomed in further than that
        spacing = (xt[-1] - xt[0]) / (xt.size - 1) if xt.size > 1 else 0.0
        tol = max(0.02 * abs(x1 - x0), 2.0 * spacing)
        head, lines, px, py = "", [], [], []
        it = _nearest(xt, x) if plot == "loss" else None
        if it is not None:
            raw, sm = m.train_loss.view[it], self._smoothed()[it]
            head = _where(m.train_step.view[it], m.train_epoch.view[it])
            raw_note = f" (raw {fmt(raw)})" if self.smoothing > 0 else ""
            lines.append(f"train loss {fmt(sm)}{raw_note}")
            px.append(xt[it])
            py.append(sm)
        ie = _nearest(xe, x)
        if ie is not None and (it is None or abs(xe[ie] - x) <= tol):
            head = head or _where(m.eval_step.view[ie], m.eval_epoch.view[ie])
            if plot == "loss":
                v = m.val_loss.view[ie]
                values = [("validation loss", v, fmt(v))]
            else:
                va, ta = m.val_accuracy.view[ie], m.train_accuracy.view[ie]
                values = [
                    ("validation accuracy", va * 100, fmt_percent(va)),
                    ("train accuracy", ta * 100, fmt_percent(ta)),
                ]
            for name, v, shown in values:
                if math.isfinite(v):
                    lines.append(f"{name} {shown}")
                    px.append(xe[ie])
                    py.append(v)
        if not lines:
            self._hide_hover()
            return ""
        msg = "\n".join([head, *lines])
        dots.setData(px, py)  # the item maps to log10 itself in log mode
        dots.show()
        ax, ay = px[0], py[0]
        if self.log_scale and plot == "loss":
            ay = math.log10(ay) if ay > 0 else float("nan")
        if math.isfinite(ay):
            # keep the box inside the plot: on the side of the point facing the centre
            text.setAnchor((1 if ax > (x0 + x1) / 2 else 0, 0 if ay > (y0 + y1) / 2 else 1))
            text.setText(msg)
            text.setPos(ax, ay)
            text.show()
        else:
            text.hide()
        return msg


def _set_finite(item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    ok = np.isfinite(y)
    if ok.all():
        item.setData(x, y)
    else:
        item.setData(x[ok], y[ok])


def _nearest(xs: np.ndarray, x: float) -> int | None:
    if xs.size == 0 or not math.isfinite(x):
        return None
    i = int(np.searchsorted(xs, x))
    if i <= 0:
        return 0
    if i >= xs.size:
        return xs.size - 1
    return i if abs(xs[i] - x) < abs(xs[i - 1] - x) else i - 1


def _where(step: float, epoch: float) -> str:
    return f"step {int(step):,} · epoch {epoch:.2f}"
