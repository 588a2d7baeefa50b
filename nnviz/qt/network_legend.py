"""What the network drawing means, in words and scales.

:class:`NetworkLegend` is the strip under the view. Left to right: the activation colour bar (±the shared scale of the hidden
and output neurons), the gradient colour bar (each layer has its own scale,
printed under its column), the key to the edges, and on the right the step
shown with the input's range (the input has a colour scale of its own).
The colour bars are pyqtgraph ``ColorBarItem``s over the theme's colour maps.
Items that don't fit a narrow view are left out from the right.

:class:`ColumnCaptions` are the words around each column: its title above,
and below it the layer's own gradient scale and dead share.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core import network_geometry as geo
from nnviz.core.numfmt import MINUS, fmt
from nnviz.qt.theme import DARK, Theme, colour_map

BAR_W = 120  # colour bar length, pixels at scale 1
BAR_H = 11  # and thickness
PAD = 12  # margin and gap between the parts, pixels at scale 1
NOTE = "width ∝ |w|; big layers: strongest |w·a|"
VALUES_MAX = 16  # input and output columns of discs up to this width show each value
TOP_PX, BOTTOM_PX = 70, 56  # room for the titles above and the notes below the columns
# A new scale re-lays out the axis in Python (about 0.5 ms): at most this often,
# the newest value always shown in the end. Nobody reads a number changing 30 times a second.
TICKS_EVERY_MS = 250


class _Bar:
    """A titled, non-interactive horizontal ColorBarItem from −v to +v."""

    def __init__(self, layout: pg.GraphicsLayout, col: int, title: str, kind: str) -> None:
        self.kind, self.title = kind, title
        self.item = pg.ColorBarItem(
            values=(-1.0, 1.0),
            orientation="horizontal",
            interactive=False,
            colorMapMenu=False,
            width=BAR_H,
        )
        layout.addItem(self.item, row=0, col=col)
        self.item.getAxis("top").setStyle(showValues=False, tickLength=0)
        self.item.getAxis("bottom").setStyle(hideOverlappingLabels=40, tickLength=0)
        self.ticks = ("", "")

    def set_theme(self, theme: Theme, font: QtGui.QFont) -> None:
        s = theme.scale
        bar = self.item
        bar.setColorMap(colour_map(theme, self.kind))
        bar.layout.setRowFixedHeight(2, BAR_H * s)
        bar.setFixedWidth(BAR_W * s)
        for side in ("left", "right", "top", "bottom"):
            ax = bar.getAxis(side)
            ax.setPen(pg.mkPen(theme.grid))
            ax.setTextPen(pg.mkPen(theme.muted))
            ax.setStyle(tickFont=font, tickTextOffset=int(2 * s))
        pt = font.pointSizeF()
        top, bottom = bar.getAxis("top"), bar.getAxis("bottom")
        top.setLabel(self.title, color=theme.foreground, **{"font-size": f"{pt}pt"})
        # fixed heights: the axes would otherwise grow to their text only after a paint
        line = QtGui.QFontMetricsF(font).height()
        top.setHeight(int(line * 1.25))
        bottom.setHeight(int(line + 3 * s))
        _cache(bar)  # a repaint of the view blits the bar unless its scale changed

    @staticmethod
    def tick_text(vmax: float | None) -> tuple[str, str]:
        """−vmax … +vmax; None: ±max (a scale per layer)."""
        return (f"{MINUS}{fmt(vmax, 2)}", f"+{fmt(vmax, 2)}") if vmax else (f"{MINUS}max", "+max")

    def set_ticks(self, ticks: tuple[str, str]) -> None:
        if ticks != self.ticks:  # new tick text re-lays the axis: only when it changes
            self.ticks = ticks
            self.item.axis.setTicks([[(-1.0, ticks[0]), (0.0, "0"), (1.0, ticks[1])]])


def _cache(item: QtWidgets.QGraphicsItem) -> None:
    item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    for child in item.childItems():
        _cache(child)


class NetworkLegend(QtWidgets.QWidget):
    """Colour bars, the key to the edges and a caption (step, loss, sample, input range)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.theme = theme
        self.bars = pg.GraphicsLayoutWidget(self)
        self.bars.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.bars.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.bars.ci.setContentsMargins(0, 0, 0, 0)
        self.activation = _Bar(self.bars.ci, 0, "activation a", "activation")
        self.gradient = _Bar(self.bars.ci, 1, "gradient dL/dz", "gradient")
        self.key = QtWidgets.QLabel(self)
        self.key.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.caption = QtWidgets.QLabel(self)
        self.caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # cheap to set per frame
        self.caption.setAlignment(
            QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        )
        self.show_grad = True
        self._caption_x = 0.0
        self.activation.set_ticks(_Bar.tick_text(1.0))
        self.gradient.set_ticks(_Bar.tick_text(None))
        self._ticks_due: tuple[str, str] | None = None
        self._ticks_timer = QtCore.QTimer(self, singleShot=True, interval=TICKS_EVERY_MS)
        self._ticks_timer.timeout.connect(self._show_due_ticks)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        s = theme.scale
        font = QtGui.QFont(self.font())
        font.setPointSizeF(10.5 * s)
        self.setFont(font)
        self.bars.setBackground(theme.background)
        # room for the tick labels at the bars' ends, which overhang them
        self.bars.ci.setContentsMargins(2.5 * PAD * s, 0, 2 * PAD * s, 0)
        self.bars.ci.layout.setHorizontalSpacing(5 * PAD * s)
        for bar in (self.activation, self.gradient):
            bar.set_theme(theme, font)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor(theme.background))
        self.setPalette(pal)
        for label in (self.key, self.caption):
            label.setFont(font)
            label.setStyleSheet(f"color: {theme.muted}; background: transparent;")
        self.key.setText(self._key_html(theme))
        self.setFixedHeight(int(56 * s))
        self._arrange()

    @staticmethod
    def _key_html(t: Theme) -> str:
        """The key to the edges: sign by colour, strength by width."""
        strokes = "".join(
            f"<span style='font-size:{size}pt; font-weight:{weight}'>╱</span>"
            for size, weight in ((9 * t.scale, 300), (11 * t.scale, 600), (13 * t.scale, 900))
        )
        sign = "&nbsp;&nbsp;&nbsp;".join(
            f"<span style='color:{c}'>{strokes}</span>&nbsp;{label}"
            for c, label in ((t.positive, "w&nbsp;&gt;&nbsp;0"), (t.negative, "w&nbsp;&lt;&nbsp;0"))
        )
        return f"<span style='color:{t.foreground}'>weight</span>&nbsp;&nbsp;{sign}<br>{NOTE}"

    def set_values(
        self,
        act_vmax: float,
        input_range: tuple[float, float] | None,
        caption: str,
        show_grad: bool,
    ) -> None:
        """Per frame: the activation scale, the input's range (appended to the
        caption, whose lines are split by ``\\n``), and whether gradients are
        shown. Only what changed is redrawn: the colour bars not at all while
        their scale reads the same."""
        ticks = _Bar.tick_text(act_vmax or 1.0)
        self._ticks_due = ticks if ticks != self.activation.ticks else None
        if self._ticks_due is not None and not self._ticks_timer.isActive():
            self._show_due_ticks()  # now, and then at most every TICKS_EVERY_MS
        if input_range is not None:
            caption += f" · input x in [{fmt(input_range[0], 2)}, {fmt(input_range[1], 2)}]"
        if caption != self.caption.text():
            self.caption.setText(caption)
            self._place_caption()
        if show_grad != self.show_grad:
            self.show_grad = show_grad
            self._arrange()

    def _show_due_ticks(self) -> None:
        if self._ticks_due is not None:
            self.activation.set_ticks(self._ticks_due)
            self._ticks_due = None
            self._ticks_timer.start()

    def texts(self) -> dict[str, str]:
        """What the legend says now, by part (hidden parts are left out)."""
        out = {}
        for name, bar in (("activation", self.activation), ("gradient", self.gradient)):
            if bar.item.isVisible():
                out[name] = f"{bar.title}: {bar.ticks[0]} 0 {bar.ticks[1]}"
        if not self.key.isHidden():
            out["key"] = QtGui.QTextDocumentFragment.fromHtml(self.key.text()).toPlainText()
        if not self.caption.isHidden():
            out["caption"] = self.caption.text()
        return out

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._arrange()

    def _arrange(self) -> None:
        """Place the parts left to right; leave out, from the right, what does not fit."""
        s = self.theme.scale
        pad, h, w = PAD * s, self.height(), self.width()
        self.gradient.item.setVisible(self.show_grad)
        self.bars.ci.layout.setColumnMaximumWidth(1, BAR_W * s if self.show_grad else 0)
        bars = (BAR_W * s + 5 * pad if self.show_grad else 0) + BAR_W * s + 4.5 * pad
        self.bars.setGeometry(0, int(2 * s), int(bars), int(h - 4 * s))
        key_w = self.key.sizeHint().width()
        show_key = bars + key_w + pad <= w
        self.key.setVisible(show_key)
        self.key.setGeometry(int(bars), 0, key_w, h)
        self._caption_x = bars + (key_w + 1.5 * pad if show_key else 0)
        self._place_caption()

    def _place_caption(self) -> None:
        """The caption, right-aligned in the room left of it, or left out."""
        pad = PAD * self.theme.scale
        room = int(self.width() - pad - self._caption_x)
        self.caption.setVisible(self.caption.sizeHint().width() <= room)
        if self.caption.geometry().width() != room:
            self.caption.setGeometry(int(self._caption_x), 0, max(room, 0), self.height())


class ColumnCaptions:
    """The words around each column of the drawing: its title and size above
    (``hidden 1``, ``8 · tanh``); a note below (the layer's own gradient
    scale, the gradient bar's "max"; its dead share; a picture input's
    range); and beside small input and output columns each neuron's value.
    Text items in the view's ``ViewBox``; titles and notes shrink where the
    columns stand closer together than the text is wide."""

    def __init__(self, vb: pg.ViewBox) -> None:
        self.vb = vb
        self.titles: list[pg.TextItem] = []
        self.notes: list[pg.TextItem] = []
        self.values: list[list[pg.TextItem]] = []  # per layer, beside each neuron
        self._shown: list[dict[int, tuple[str, str]]] = []  # their text and colour
        self._texts: list[tuple[str, str]] = []
        self._note_text: list[str] = []  # what each note says now
        self._scale = 1.0

    @staticmethod
    def margins(snap, theme: Theme, small_font: QtGui.QFont) -> tuple[float, float, float, float]:
        """Pixels left, right, above and below the columns for this text (the
        value labels measured in their font)."""
        s, fm = theme.scale, QtGui.QFontMetricsF(small_font)
        left = right = 40 * s
        if _has_values(snap.widths[0], 0, snap):
            left = fm.horizontalAdvance("x₁₆ = −0.00123")
        if _has_values(snap.widths[-1], len(snap.widths) - 1, snap):
            many = snap.widths[-1] > 1
            right = fm.horizontalAdvance("9: −0.00123  ← target" if many else "0.00123   target 0")
        return left + 28 * s, right + 28 * s, TOP_PX * s, BOTTOM_PX * s

    def build(self, snap, geoms, theme: Theme, font: QtGui.QFont, small_font: QtGui.QFont) -> None:
        """New text items for ``geoms`` (a new architecture, theme or shape)."""
        self.remove()
        self.theme, self.font, self.small_font = theme, font, small_font
        top = min(g.bounds[1] for g in geoms) - 1.5
        for li, g in enumerate(geoms):
            title, sub = geo.column_heading(snap, li)
            x0, _y0, x1, y1 = g.bounds
            head = self._add("", theme.foreground, (0.5, 1), font, ((x0 + x1) / 2, top))
            head.setHtml(
                f"<div align='center'><b>{title}</b><br>"
                f"<span style='color:{theme.muted}'>{sub}</span></div>"
            )
            head.setTextWidth(220 * theme.scale)
            below = y1 + (4.5 if g.kind == "grid" and li > 0 else 1.5)
            self.titles.append(head)
            self.notes.append(
                self._add("", theme.muted, (0.5, 0), small_font, ((x0 + x1) / 2, below))
            )
            self._texts.append((title, sub))
            self._note_text.append("")
            values = []
            if g.kind == "dots" and _has_values(g.width, li, snap):
                dx, anchor = (-g.r * 1.9, (1, 0.5)) if li == 0 else (g.r * 1.9, (0, 0.5))
                for x, y in g.pos:
                    values.append(self._add("", theme.foreground, anchor, small_font, (x + dx, y)))
            self.values.append(values)
            self._shown.append({})
        self._scale = 1.0

    def _add(self, text, colour, anchor, font, pos) -> pg.TextItem:
        item = pg.TextItem(text, color=colour, anchor=anchor)
        item.setFont(font)
        item.setZValue(20)
        item.setPos(*pos)
        self.vb.addItem(item)
        return item

    def remove(self) -> None:
        for item in (*self.titles, *self.notes, *(v for vs in self.values for v in vs)):
            if item.scene() is not None:
                self.vb.removeItem(item)
        self.titles, self.notes, self.values, self._texts, self._shown = [], [], [], [], []
        self._note_text = []

    def update(self, snap, grad_vmax) -> None:
        """Per frame: the notes (re-laid out only when their text changes) and values."""
        for li, item in enumerate(self.notes):
            text = geo.column_note(snap, li, float(grad_vmax[li]) if li else 0.0)
            if text != self._note_text[li]:  # re-laying out text costs more than comparing
                self._note_text[li] = text
                _set_text(item, text)
            if self.values[li]:
                texts, best = geo.value_labels(snap, li)
                shown = self._shown[li]
                for i, (lab, text) in enumerate(zip(self.values[li], texts)):
                    colour = self.theme.accent if i == best else self.theme.foreground
                    was = shown.get(i, ("", ""))
                    if text != was[0]:
                        _set_text(lab, text)
                    if colour != was[1]:
                        lab.setColor(colour)  # the model's answer stands out
                    shown[i] = (text, colour)

    def set_light(self, opacity) -> None:
        """The values dim with their layer during the forward sweep."""
        for values, op in zip(self.values, opacity):
            if values and values[0].opacity() != op:  # a layer's values share one opacity
                for lab in values:
                    lab.setOpacity(op)

    def fit(self, column_gap_px: float) -> None:
        """Shrink titles and notes (to half at most) to fit ``column_gap_px``."""
        if len(self.titles) < 2:
            return
        bold = QtGui.QFont(self.font)
        bold.setBold(True)
        fb, fr = QtGui.QFontMetricsF(bold), QtGui.QFontMetricsF(self.font)
        need = max(max(fb.horizontalAdvance(t), fr.horizontalAdvance(s)) for t, s in self._texts)
        small = QtGui.QFontMetricsF(self.small_font)
        need = max(need, small.horizontalAdvance("|dL/dz| ≤ 1.9×10⁻⁴"))
        scale = min(1.0, max(0.5, (column_gap_px - 12.0) / need))
        if abs(scale - self._scale) < 0.03:
            return
        self._scale = scale
        for items, base in ((self.titles, self.font), (self.notes, self.small_font)):
            font = QtGui.QFont(base)
            # --- issue 11: never below the mode's smallest legible size; notes wrap instead ---
            font.setPointSizeF(max(base.pointSizeF() * scale, self.theme.pt(9)))
            for item in items:
                item.setFont(font)
        for item in self.notes:
            item.setTextWidth(max(column_gap_px - 12.0, 40.0) if scale < 1.0 else -1)
        # --- end issue 11 ---
        for item in self.titles:
            item.setTextWidth(220 * self.theme.scale * scale)


def _set_text(item: pg.TextItem, text: str) -> None:
    """``item.setText`` without asking Qt for the old text (the caller knows it changed)."""
    item.textItem.setPlainText(text)
    item.updateTextPos()


def _has_values(width: int, layer: int, snap) -> bool:
    """Small input and output columns of discs get a value beside each neuron."""
    last = layer == len(snap.widths) - 1
    if width > VALUES_MAX or not (layer == 0 or last):
        return False
    return not (layer == 0 and geo.picture_shape(snap.input_shape) is not None)
