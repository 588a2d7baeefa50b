"""The network view: neurons coloured by activation, edges by weight, gradients.

Layers are drawn as columns, input on the left. A layer of up to
``DOT_MAX`` neurons is a column of discs; a bigger one is a grid of cells
(an image), and an input whose shape is a picture (28×28) is drawn as that
picture. Each hidden or output neuron carries a second encoding, its
gradient dL/dz: a halo around the disc (its thickness grows with |dL/dz|,
its colour gives the sign), or a second grid beside the activation grid.

Edges are coloured by the weight's sign and sized by its magnitude, drawn as
a few ``PlotCurveItem``s with ``connect='pairs'`` (one per colour/width bin);
for big layers only the strongest contributions |w·a| are drawn, within
``EDGE_BUDGET`` edges in all.

Every frame only calls ``setData``/``setImage``/``setBrush`` on items made
when the architecture was first seen; brushes come from a palette built once
per theme (fresh per-point QBrushes every frame crashed PySide6 6.12).

Layers are numbered as drawn: 0 is the input, ``i`` ≥ 1 is ``snap.layers[i-1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.snapshot import Snapshot
from nnviz.qt.neuron_inspector import MAX_INCOMING, NeuronInfo, NeuronInspector
from nnviz.qt.theme import DARK, Theme, _rgb, diverging_lut, lut_indices

DOT_MAX = 64  # wider layers are drawn as grids
EDGE_BUDGET = 1000  # edges drawn in all, strongest contributions first
EDGE_PAIR_MAX = 300  # and at most this many between two layers
EDGE_LEVELS = 4  # width/colour bins per sign (the pens assume 4)
HISTORY = 120  # snapshots kept per neuron for the sparkline
H = 100.0  # scene height of the drawing, in view units
LUT_N = 256

# Gradient colours (dL/dz): a second diverging map, green ↔ magenta, so it
# never reads as an activation (orange ↔ blue).
_GRAD_NEG = {"dark": "#5ec26a", "light": "#1b7a2e"}


def gradient_lut(theme: Theme, n: int = LUT_N) -> np.ndarray:
    """(n, 4) uint8: negative (green) → neutral → positive (theme.backward)."""
    t = np.linspace(-1.0, 1.0, n)[:, None]
    neg = _rgb(_GRAD_NEG.get(theme.name, "#5ec26a"))
    mid, pos = _rgb(theme.neutral), _rgb(theme.backward)
    rgb = np.where(t < 0, mid + (neg - mid) * (-t), mid + (pos - mid) * t)
    out = np.empty((n, 4), dtype=np.uint8)
    out[:, :3] = np.clip(np.round(rgb), 0, 255)
    out[:, 3] = 255
    return out


_RANK_LEVELS = np.array([0.45, 0.8, 0.94])  # rank cut-offs of the 4 width bins (top-k layers)
MAX_SOURCES = 64  # candidate source neurons per layer when picking the top-k edges


def _top_contributions(w: np.ndarray, prev: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(source, destination) indices of the k largest |w_ij · a_j| (approximately:
    among the MAX_SOURCES sources with the largest bound max_i |w_ij| · |a_j|)."""
    active = np.flatnonzero(prev)
    if active.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if active.size > MAX_SOURCES:
        wa = w[:, active]
        bound = np.abs(wa).max(0) * np.abs(prev[active])
        keep = np.argpartition(bound, active.size - MAX_SOURCES)[active.size - MAX_SOURCES :]
        active = active[keep]
        sub = np.abs(wa[:, keep] * prev[active])
    else:
        sub = np.abs(w[:, active] * prev[active])
    k = min(k, sub.size)
    flat = np.argpartition(sub.ravel(), sub.size - k)[sub.size - k :]
    dst, col = np.divmod(flat, active.size)
    return active[col], dst


def _brush_palette(lut: np.ndarray) -> np.ndarray:
    """One QBrush per LUT row, as an object array (indexed, never rebuilt per frame)."""
    pal = np.empty(len(lut), dtype=object)
    for i, (r, g, b, a) in enumerate(lut):
        pal[i] = QtGui.QBrush(QtGui.QColor(int(r), int(g), int(b), int(a)))
    return pal


def _robust_max(parts: list[np.ndarray], q: float) -> float:
    v = np.abs(np.concatenate([np.ravel(p) for p in parts])) if parts else np.zeros(1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 1.0
    m = float(np.percentile(v, q)) if v.size > 20 else float(v.max())
    return m if m > 0 else (float(v.max()) or 1.0)


@dataclass
class _Geom:
    """Where one layer's neurons are, in view units (y grows downwards)."""

    kind: str  # "dots" or "grid"
    width: int
    x: float
    pos: np.ndarray  # (width, 2) neuron centres
    in_anchor: np.ndarray  # where incoming edges end
    out_anchor: np.ndarray  # where outgoing edges start
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1 of the whole column
    r: float = 0.0  # dots: disc radius
    halo: float = 0.55  # dots: the largest halo grows the disc's diameter by this share
    rows: int = 0
    cols: int = 0
    cell: float = 0.0
    act_rect: tuple[float, float, float, float] = (0, 0, 0, 0)  # x, y, w, h
    grad_rect: tuple[float, float, float, float] | None = None


def layout(
    widths: tuple[int, ...], input_shape: tuple[int, ...], aspect: float = 1.8
) -> list[_Geom]:
    """Column geometry for every drawn layer (input first), spread over a
    drawing ``aspect`` times as wide as it is high."""
    n_layers = len(widths)
    input_shape = tuple(d for d in input_shape if d != 1) or (1,)  # (1, 28, 28) is a picture too
    total = H * min(max(aspect, 0.8), 2.6)
    gap = min(90.0, max(22.0, total / max(n_layers - 1, 1)))
    hmax = 0.9 * H
    geoms: list[_Geom] = []
    for li, n in enumerate(widths):
        x = li * gap
        is_input = li == 0
        picture = is_input and len(input_shape) == 2 and input_shape[0] * input_shape[1] == n
        if n <= DOT_MAX and not picture:
            s = min(hmax / n, 22.0)
            r = min(0.36 * s, 4.0)
            ys = H / 2 + (np.arange(n) - (n - 1) / 2) * s
            pos = np.stack([np.full(n, x), ys], 1)
            pad = r * 1.9
            geoms.append(
                _Geom(
                    "dots",
                    n,
                    x,
                    pos,
                    pos,
                    pos,
                    (x - pad, ys[0] - pad, x + pad, ys[-1] + pad),
                    r=r,
                    halo=min(0.55, 0.97 * s / (2 * r) - 1.0),  # halos never touch
                )
            )
            continue
        block_w = (0.6 if is_input else 0.27) * gap
        if picture:
            rows, cols = int(input_shape[0]), int(input_shape[1])
        else:
            # the column count that gives the biggest cells (then the fewest empty ones)
            cols = max(
                range(1, int(math.sqrt(n)) * 2 + 2),
                key=lambda c: (
                    round(min(block_w / c, hmax / math.ceil(n / c)), 3),
                    -(c * math.ceil(n / c)),
                ),
            )
            rows = math.ceil(n / cols)
        cell = min(block_w / cols, hmax / rows)
        gw, gh = cols * cell, rows * cell
        inner = 0.05 * gap
        total = gw if is_input else 2 * gw + inner
        left, top = x - total / 2, H / 2 - gh / 2
        idx = np.arange(n)
        cx = left + (idx % cols + 0.5) * cell
        cy = top + (idx // cols + 0.5) * cell
        pos = np.stack([cx, cy], 1)
        in_anchor = np.stack([np.full(n, left), cy], 1)
        out_anchor = np.stack([np.full(n, left + total), cy], 1)
        grad_rect = None if is_input else (left + gw + inner, top, gw, gh)
        geoms.append(
            _Geom(
                "grid",
                n,
                x,
                pos,
                in_anchor,
                out_anchor,
                (left - 1, top - 1, left + total + 1, top + gh + 1),
                rows=rows,
                cols=cols,
                cell=cell,
                act_rect=(left, top, gw, gh),
                grad_rect=grad_rect,
            )
        )
    return geoms


class _ColourBar(QtWidgets.QWidget):
    """The legend strip: what the colours, halos and edges mean."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.theme = DARK
        self.act_lut = diverging_lut(DARK)
        self.grad_lut = gradient_lut(DARK)
        self.act_vmax = 1.0
        self.grad_vmax = 1.0
        self.input_range = (0.0, 1.0)
        self.caption = ""
        self.show_grad = True
        self._set_height()

    def _set_height(self) -> None:
        self.setFixedHeight(int(50 * self.theme.scale))

    def set_theme(self, theme: Theme, act_lut, grad_lut) -> None:
        self.theme, self.act_lut, self.grad_lut = theme, act_lut, grad_lut
        f = self.font()
        f.setPointSizeF(10.5 * theme.scale)
        self.setFont(f)
        self._set_height()
        self.update()

    def set_values(self, act_vmax, grad_vmax, input_range, caption, show_grad) -> None:
        self.act_vmax, self.grad_vmax = act_vmax, grad_vmax
        self.input_range, self.caption, self.show_grad = input_range, caption, show_grad
        self.update()

    def _bar(self, p: QtGui.QPainter, x: float, title: str, lut, vmax, w: float) -> float:
        """A colour bar from -vmax to +vmax (vmax None: per-layer maxima)."""
        t = self.theme
        fm = QtGui.QFontMetricsF(self.font())
        h = self.height()
        p.setPen(QtGui.QColor(t.foreground))
        tw = fm.horizontalAdvance(title) + 8
        p.drawText(QtCore.QRectF(x, 0, tw, h * 0.55), QtCore.Qt.AlignmentFlag.AlignVCenter, title)
        bar_h = h * 0.26
        y = (h * 0.55 - bar_h) / 2
        grad = QtGui.QLinearGradient(x + tw, 0, x + tw + w, 0)
        for i in range(0, len(lut), 16):
            r, g, b, a = (int(c) for c in lut[i])
            grad.setColorAt(i / (len(lut) - 1), QtGui.QColor(r, g, b, a))
        r, g, b, a = (int(c) for c in lut[-1])
        grad.setColorAt(1.0, QtGui.QColor(r, g, b, a))
        p.fillRect(QtCore.QRectF(x + tw, y, w, bar_h), QtGui.QBrush(grad))
        p.setPen(QtGui.QPen(QtGui.QColor(t.grid), 1))
        p.drawRect(QtCore.QRectF(x + tw, y, w, bar_h))
        p.setPen(QtGui.QColor(t.muted))
        ty = y + bar_h + 1
        th = h - ty
        p.drawText(
            QtCore.QRectF(x + tw, ty, w, th),
            QtCore.Qt.AlignmentFlag.AlignLeft,
            f"−{vmax:.2g}" if vmax else "−max",
        )
        p.drawText(QtCore.QRectF(x + tw, ty, w, th), QtCore.Qt.AlignmentFlag.AlignHCenter, "0")
        p.drawText(
            QtCore.QRectF(x + tw, ty, w, th),
            QtCore.Qt.AlignmentFlag.AlignRight,
            f"+{vmax:.2g}" if vmax else "+max",
        )
        return x + tw + w + 28 * t.scale

    def paintEvent(self, _ev) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        t = self.theme
        p.fillRect(self.rect(), QtGui.QColor(t.background))
        s = t.scale
        fm = QtGui.QFontMetricsF(self.font())
        h = self.height()
        caption_w = fm.horizontalAdvance(self.caption) + 24 * s
        x = 12 * s
        x = self._bar(p, x, "activation a", self.act_lut, self.act_vmax, 160 * s)
        if self.show_grad:
            x = self._bar(p, x, "gradient dL/dz", self.grad_lut, self.grad_vmax, 160 * s)
        mid = h * 0.275
        key_w = fm.horizontalAdvance("weight  w > 0  w < 0") + 90 * s
        top_end = bottom_end = x
        if x + key_w < self.width():
            x_key = x
            p.setPen(QtGui.QColor(t.foreground))
            p.drawText(QtCore.QPointF(x, mid + fm.ascent() / 2 - 1), "weight")
            x += fm.horizontalAdvance("weight") + 10 * s
            for colour, label in ((t.positive, "w > 0"), (t.negative, "w < 0")):
                for k, wd in enumerate((1.0, 2.0, 3.0)):
                    p.setPen(QtGui.QPen(QtGui.QColor(colour), wd * s))
                    x1 = x + k * 9 * s
                    p.drawLine(
                        QtCore.QPointF(x1, mid + 7 * s), QtCore.QPointF(x1 + 7 * s, mid - 7 * s)
                    )
                x += 30 * s
                p.setPen(QtGui.QColor(t.muted))
                p.drawText(QtCore.QPointF(x, mid + fm.ascent() / 2 - 1), label)
                x += fm.horizontalAdvance(label) + 14 * s
            top_end = x
            note = "width ∝ |w|; big layers: strongest |w·a| only"
            if x_key + fm.horizontalAdvance(note) < self.width():
                p.drawText(
                    QtCore.QRectF(x_key, h * 0.55, self.width(), h * 0.45),
                    QtCore.Qt.AlignmentFlag.AlignLeft,
                    note,
                )
                bottom_end = x_key + fm.horizontalAdvance(note) + 12 * s
        # the caption (step, loss, sample) where it fits, on the right
        caption_w = fm.horizontalAdvance(self.caption) + 24 * s
        p.setPen(QtGui.QColor(t.foreground))
        right = QtCore.Qt.AlignmentFlag.AlignRight
        if top_end + caption_w <= self.width():
            p.drawText(
                QtCore.QRectF(0, 0, self.width() - 12 * s, h * 0.55),
                right | QtCore.Qt.AlignmentFlag.AlignVCenter,
                self.caption,
            )
        elif bottom_end + caption_w <= self.width():
            p.drawText(
                QtCore.QRectF(0, h * 0.55, self.width() - 12 * s, h * 0.45), right, self.caption
            )


class WeightMatrixWindow(QtWidgets.QWidget):
    """A layer's weight matrix W (rows: its neurons, columns: its inputs) as a heatmap."""

    def __init__(self, layer: int, theme: Theme, parent=None) -> None:
        super().__init__(parent, QtCore.Qt.WindowType.Tool)
        self.layer = layer
        self.resize(640, 480)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.glw = pg.GraphicsLayoutWidget()
        lay.addWidget(self.glw)
        self.plot = self.glw.addPlot()
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "from input neuron j")
        self.plot.setLabel("left", "to neuron i")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        lut = diverging_lut(theme)
        self.bar.setColorMap(pg.ColorMap(np.linspace(0, 1, len(lut)), lut))

    def set_weights(self, title: str, w: np.ndarray) -> None:
        vmax = float(np.max(np.abs(w))) if w.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
        self.image.setImage(np.asarray(w, dtype=np.float32), autoLevels=False)
        self.bar.setLevels((-vmax, vmax))
        self.setWindowTitle(title)
        self.plot.setTitle(
            f"{title}   (colour = w, max |w| = {vmax:.3g})", color=self.theme.foreground
        )


class NetworkView(QtWidgets.QWidget):
    """Neurons, weights and gradients of the newest snapshot."""

    neuronSelected = QtCore.Signal(int, int)  # layer (0 = input), index
    layerSelected = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None, theme: Theme = DARK) -> None:
        super().__init__(parent)
        self.theme = theme
        self.snapshot: Snapshot | None = None
        self.phase: str | None = None
        self.progress = 1.0
        self.geoms: list[_Geom] = []
        self._key: tuple | None = None
        self._items: list[dict] = []
        self._edge_sel: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._hist: list[np.ndarray] = []
        self._hist_n = 0
        self._act_vmax = 0.0
        self._grad_vmax = 0.0
        self._selected: tuple[int, int] | None = None
        self._hover: tuple[int, int] | None = None
        self._highlight = -1
        self._layout_aspect = 1.8
        self._label_scale = 1.0  # column titles and notes, shrunk when columns are close
        self.weight_windows: dict[int, WeightMatrixWindow] = {}

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.graphics = pg.GraphicsView()
        self.graphics.setAntialiasing(True)
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.setCentralItem(self.vb)
        lay.addWidget(self.graphics, 1)
        self.legend = _ColourBar()
        lay.addWidget(self.legend)
        self.inspector = NeuronInspector(self, theme)

        self._edges: dict[tuple[bool, int], pg.PlotCurveItem] = {}
        for pos in (False, True):
            for lvl in range(EDGE_LEVELS):
                c = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True)
                c.setZValue(-10 + lvl)
                self.vb.addItem(c)
                self._edges[(pos, lvl)] = c
        self._glow = QtWidgets.QGraphicsRectItem()
        self._glow.setZValue(-20)
        self._glow.hide()
        self.vb.addItem(self._glow)
        self._sel_rect = QtWidgets.QGraphicsRectItem()
        self._sel_rect.setZValue(30)
        self._sel_rect.hide()
        self.vb.addItem(self._sel_rect)
        self._marker = pg.ScatterPlotItem(pxMode=False)
        self._marker.setZValue(40)
        self.vb.addItem(self._marker)

        self.vb.sigResized.connect(self._on_resized)
        scene = self.graphics.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self.set_theme(theme)

    # --- public API -------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.act_lut = diverging_lut(theme)
        self.grad_lut = gradient_lut(theme)
        self._act_brushes = _brush_palette(self.act_lut)
        self._grad_brushes = _brush_palette(self.grad_lut)
        self.graphics.setBackground(theme.background)
        s = theme.scale
        self._neuron_pen = pg.mkPen(theme.muted, width=1.0 * s)
        self._font = QtGui.QFont()
        self._font.setPointSizeF(12.5 * s)
        self._small_font = QtGui.QFont()
        self._small_font.setPointSizeF(10.5 * s)
        # Opaque pens, faded toward the background instead of alpha: wide
        # translucent pens cost ~4x as much to stroke (measured, 1,000 edges).
        bg = _rgb(theme.background)
        for (pos, lvl), c in self._edges.items():
            fg = _rgb(theme.positive if pos else theme.negative)
            f = (0.38, 0.62, 0.85, 1.0)[lvl]
            r, g_, b = np.round(bg + (fg - bg) * f).astype(int)
            c.setPen(pg.mkPen(QtGui.QColor(r, g_, b), width=(1.0, 1.0, 2.0, 3.0)[lvl] * s))
        g = QtGui.QColor(theme.forward)
        g.setAlpha(40)
        self._glow.setBrush(QtGui.QBrush(g))
        self._glow.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        pen = QtGui.QPen(QtGui.QColor(theme.accent), 2.0 * s)
        pen.setCosmetic(True)
        self._sel_rect.setPen(pen)
        self._marker.setPen(pg.mkPen(theme.accent, width=2.5 * s))
        self._marker.setBrush(pg.mkBrush(None))
        self.legend.set_theme(theme, self.act_lut, self.grad_lut)
        self.inspector.set_theme(theme)
        for w in self.weight_windows.values():
            w.set_theme(theme)
        if self.snapshot is not None:  # remake the per-layer items in the new colours
            self._build(self.snapshot)
            self._render(self.snapshot)

    def set_snapshot(self, snap: Snapshot) -> None:
        """Show a snapshot: recolour the existing items (rebuilt only if the
        architecture changed)."""
        key = (snap.widths, tuple(snap.input_shape), tuple(layer.name for layer in snap.layers))
        if key != self._key:
            self._new_architecture(snap, key)
        self.snapshot = snap
        self._push_history(snap)
        self._render(snap)

    def _render(self, snap: Snapshot) -> None:
        self._update_scales(snap)
        self._colour_layers(snap)
        self._select_edges(snap)
        self._apply_phase()
        self._update_labels(snap)
        self._update_legend(snap)
        self._refresh_inspector()
        for layer, win in self.weight_windows.items():
            if win.isVisible():
                self._fill_weight_window(layer, win)

    def set_phase(self, phase: str | None, progress: float = 1.0) -> None:
        """Animate a step: "forward" lights layers input→output as ``progress``
        goes 0→1; "backward" sweeps the gradients output→input; None shows all."""
        if phase not in (None, "forward", "backward"):
            raise ValueError(f"phase must be None, 'forward' or 'backward', got {phase!r}")
        self.phase = phase
        self.progress = float(min(max(progress, 0.0), 1.0))
        self._apply_phase()

    @QtCore.Slot(int)
    def highlight_layer(self, layer: int) -> None:
        """Outline a layer (from the linked graph view); -1 clears."""
        self._highlight = int(layer)
        if 0 <= layer < len(self.geoms):
            x0, y0, x1, y1 = self.geoms[layer].bounds
            pad = 2.0
            self._sel_rect.setRect(
                QtCore.QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
            )
            self._sel_rect.show()
        else:
            self._sel_rect.hide()

    @property
    def highlighted_layer(self) -> int:
        """The layer outlined by :meth:`highlight_layer` (-1: none)."""
        return self._highlight

    def neuron_pos(self, layer: int, index: int) -> QtCore.QPointF:
        """A neuron's centre in view units (for tests and linked views)."""
        x, y = self.geoms[layer].pos[index]
        return QtCore.QPointF(float(x), float(y))

    def neuron_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (layer, index) of the neuron under a point in view units."""
        for li, g in enumerate(self.geoms):
            x0, y0, x1, y1 = g.bounds
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                continue
            if g.kind == "dots":
                d = np.hypot(g.pos[:, 0] - x, g.pos[:, 1] - y)
                i = int(np.argmin(d))
                return (li, i) if d[i] <= g.r * 1.6 else None
            for rx, ry, rw, rh in (g.act_rect, g.grad_rect):
                if rw and rx <= x < rx + rw and ry <= y < ry + rh:
                    c = int((x - rx) // g.cell)
                    r = int((y - ry) // g.cell)
                    i = r * g.cols + c
                    return (li, i) if 0 <= i < g.width else None
            return None
        return None

    def neuron_colour(self, layer: int, index: int) -> QtGui.QColor:
        """The colour a neuron is drawn in now (its activation's)."""
        g, items = self.geoms[layer], self._items[layer]
        if g.kind == "dots":
            return QtGui.QColor(items["dots"].data["brush"][index].color())
        r, g_, b, a = (int(c) for c in items["rgba"].reshape(-1, 4)[index])
        return QtGui.QColor(r, g_, b, a)

    def gradient_mark(self, layer: int, index: int) -> tuple[QtGui.QColor, float] | None:
        """The gradient encoding of a neuron: (colour, relative size), or None
        where none is shown (the input, or outside the backward sweep). The
        size is the halo's diameter over the disc's (1 for a zero gradient);
        for grid layers it is 1."""
        items = self._items[layer]
        g = self.geoms[layer]
        if g.kind == "dots":
            halo = items.get("halo")
            if layer == 0 or halo is None or not halo.isVisible() or halo.opacity() == 0:
                return None
            return QtGui.QColor(halo.data["brush"][index].color()), float(
                halo.data["size"][index] / (2 * g.r)
            )
        gimg = items.get("grad_image")
        if gimg is None or not gimg.isVisible() or gimg.opacity() == 0:
            return None
        r, g_, b, a = (int(c) for c in items["grad_rgba"].reshape(-1, 4)[index])
        return QtGui.QColor(r, g_, b, a), 1.0

    def layer_opacity(self, layer: int) -> float:
        """How lit a layer's activations are (dimmed during the forward sweep)."""
        items = self._items[layer]
        item = items["dots"] if "dots" in items else items["image"]
        return float(item.opacity())

    def edge_count(self) -> int:
        """Edges drawn now."""
        return sum(
            0 if c.xData is None else len(c.xData) // 2
            for c in self._edges.values()
            if c.isVisible()
        )

    def layer_at(self, x: float, y: float) -> int | None:
        for li, g in enumerate(self.geoms):
            x0, y0, x1, y1 = g.bounds
            if x0 - 4 <= x <= x1 + 4 and y0 - 8 <= y <= y1 + 8:
                return li
        return None

    def select_neuron(self, layer: int, index: int, pinned: bool = True) -> NeuronInfo | None:
        """Show a neuron in the inspector (pinned: stays until another click)."""
        if self.snapshot is None or not (0 <= layer < len(self.geoms)):
            return None
        if not 0 <= index < self.geoms[layer].width:
            return None
        info = self.neuron_info(layer, index)
        if pinned:
            self._selected = (layer, index)
            self.inspector.pinned = True
        else:
            self._hover = (layer, index)
        self.inspector.show_info(info)
        vp = self._view_to_widget(self.neuron_pos(layer, index))
        self.inspector.place_near(vp, self.graphics.geometry())
        self.inspector.show()
        self._update_marker()
        return info

    def clear_selection(self) -> None:
        self._selected, self._hover = None, None
        self.inspector.pinned = False
        self.inspector.hide()
        self._update_marker()

    def neuron_info(self, layer: int, index: int) -> NeuronInfo:
        """A neuron's numbers from the newest snapshot, with its history."""
        snap = self.snapshot
        assert snap is not None
        hist = self._history(layer, index)
        if layer == 0:
            note = ""
            if len(snap.input_shape) == 2:
                w = snap.input_shape[1]
                note = f"pixel row {index // w}, column {index % w}"
            return NeuronInfo(
                0,
                index,
                f"input · x[{index}]",
                "input",
                float(snap.input[index]),
                history=hist,
                note=note,
            )
        ls = snap.layers[layer - 1]
        prev = snap.input if layer == 1 else snap.layers[layer - 2].a
        w = ls.weight[index]
        top = np.argsort(-np.abs(w))[:MAX_INCOMING]
        incoming = tuple((int(j), float(w[j]), float(w[j] * prev[j])) for j in top)
        kind = "output" if layer == len(snap.layers) else f"hidden {layer}"
        note = f"{ls.activation}, after Linear '{ls.name}'"
        picture = None
        shape = tuple(snap.input_shape)
        if layer == 1 and len(shape) == 2 and shape[0] * shape[1] == w.size:
            picture = w.reshape(shape)
        return NeuronInfo(
            layer,
            index,
            f"{kind} · neuron {index}",
            ls.activation,
            float(ls.a[index]),
            z=float(ls.z[index]),
            bias=float(ls.bias[index]) if ls.bias is not None else None,
            dz=float(ls.dz[index]) if ls.dz is not None else None,
            fan_in=int(w.size),
            incoming=incoming,
            history=hist,
            note=note,
            weight_image=picture,
        )

    def reset(self) -> None:
        """Forget the history (a fresh model): the next snapshot starts anew."""
        self._key = None

    def show_weight_heatmap(self) -> WeightMatrixWindow | None:
        """The weight matrix of the selected layer (else the highlighted one,
        else the first hidden layer) as a heatmap."""
        for layer in (self._selected[0] if self._selected else -1, self._highlight, 1):
            if layer >= 1:
                return self.open_weight_matrix(layer)
        return None

    def open_weight_matrix(self, layer: int) -> WeightMatrixWindow | None:
        """Open (or raise) the heatmap of layer ``layer``'s weight matrix."""
        if self.snapshot is None or not 1 <= layer <= len(self.snapshot.layers):
            return None
        win = self.weight_windows.get(layer)
        if win is None:
            win = WeightMatrixWindow(layer, self.theme, self)
            self.weight_windows[layer] = win
        self._fill_weight_window(layer, win)
        win.show()
        win.raise_()
        return win

    # --- building -----------------------------------------------------------------------

    def _new_architecture(self, snap: Snapshot, key: tuple) -> None:
        for win in self.weight_windows.values():
            win.close()
            win.deleteLater()
        self.weight_windows = {}
        self._selected = self._hover = None
        self.inspector.pinned = False
        self.inspector.hide()
        self._key = key
        self._hist = [np.zeros((HISTORY, n), dtype=np.float32) for n in snap.widths]
        self._hist_n = 0
        self._act_vmax = self._grad_vmax = 0.0
        self._build(snap)

    def _drawing_aspect(self, snap: Snapshot) -> float:
        sc = self.theme.scale
        size = self.vb.size()
        w, h = size.width(), size.height()
        if w < 50 or h < 50:
            return 1.8
        left, right = self._side_margins(snap.widths, tuple(snap.input_shape))
        return (w - left - right) / max(h - 126 * sc, 10.0)

    def _build(self, snap: Snapshot) -> None:
        """Make the per-layer items (on a new architecture, theme or shape)."""
        for items in self._items:
            for it in items.values():
                for obj in it if isinstance(it, list) else [it]:
                    if isinstance(obj, QtWidgets.QGraphicsItem) and obj.scene() is not None:
                        self.vb.removeItem(obj)
        self._items = []
        self._label_scale = 1.0
        widths = snap.widths
        self._shape = (snap.widths, tuple(snap.input_shape))
        self._layout_aspect = self._drawing_aspect(snap)
        self.geoms = layout(widths, tuple(snap.input_shape), self._layout_aspect)
        t = self.theme
        n_layers = len(widths)
        for li, g in enumerate(self.geoms):
            items: dict = {}
            if g.kind == "dots":
                halo = pg.ScatterPlotItem(pxMode=False, pen=None)
                halo.setData(
                    pos=g.pos, size=np.full(g.width, 2 * g.r), brush=self._grad_brushes[LUT_N // 2]
                )
                halo.setZValue(1)
                dots = pg.ScatterPlotItem(pxMode=False, pen=self._neuron_pen)
                dots.setData(
                    pos=g.pos, size=np.full(g.width, 2 * g.r), brush=self._act_brushes[LUT_N // 2]
                )
                dots.setZValue(2)
                items["halo"], items["dots"] = halo, dots
                if li > 0:
                    self.vb.addItem(halo)
                self.vb.addItem(dots)
            else:
                items["rgba"] = np.zeros((g.rows, g.cols, 4), dtype=np.uint8)
                img = pg.ImageItem(items["rgba"], axisOrder="row-major")
                img.setRect(QtCore.QRectF(*g.act_rect))
                img.setZValue(2)
                self.vb.addItem(img)
                items["image"] = img
                frames = [self._frame(g.act_rect)]
                if g.grad_rect is not None:
                    items["grad_rgba"] = np.zeros((g.rows, g.cols, 4), dtype=np.uint8)
                    gimg = pg.ImageItem(items["grad_rgba"], axisOrder="row-major")
                    gimg.setRect(QtCore.QRectF(*g.grad_rect))
                    gimg.setZValue(2)
                    self.vb.addItem(gimg)
                    items["grad_image"] = gimg
                    frames.append(self._frame(g.grad_rect))
                    for rect, text in ((g.act_rect, "a"), (g.grad_rect, "dL/dz")):
                        lab = self._text(text, t.muted, (0.5, 0), small=True)
                        lab.setPos(rect[0] + rect[2] / 2, rect[1] + rect[3] + 1.0)
                        frames.append(lab)
                for f in frames:
                    self.vb.addItem(f)
                items["frames"] = frames
            # title above the column
            if li == 0:
                title = "input"
                sub = (
                    "×".join(str(s) for s in snap.input_shape)
                    if len(snap.input_shape) == 2
                    else f"{g.width}"
                )
            else:
                ls = snap.layers[li - 1]
                title = "output" if li == n_layers - 1 else f"hidden {li}"
                sub = f"{g.width} · {ls.activation}"
            x0, y0, x1, y1 = g.bounds
            top = self._text("", t.foreground, (0.5, 1))
            top.setHtml(
                f"<div align='center'><b>{title}</b><br>"
                f"<span style='color:{t.muted}'>{sub}</span></div>"
            )
            top.setTextWidth(220 * t.scale)
            items["title_text"] = (title, sub)
            top.setPos((x0 + x1) / 2, min(gg.bounds[1] for gg in self.geoms) - 1.5)
            self.vb.addItem(top)
            items["title"] = top
            stat = self._text("", t.muted, (0.5, 0), small=True)
            stat.setPos((x0 + x1) / 2, y1 + (4.5 if g.kind == "grid" and li > 0 else 1.5))
            self.vb.addItem(stat)
            items["stat"] = stat
            # per-neuron value labels: small inputs and small outputs
            labels = []
            if g.kind == "dots" and (li == 0 or li == n_layers - 1) and g.width <= 16:
                anchor = (1, 0.5) if li == 0 else (0, 0.5)
                for i in range(g.width):
                    lab = self._text("", t.foreground, anchor, small=True)
                    dx = -g.r * 1.9 if li == 0 else g.r * 1.9
                    lab.setPos(g.pos[i, 0] + dx, g.pos[i, 1])
                    self.vb.addItem(lab)
                    labels.append(lab)
            items["labels"] = labels
            self._items.append(items)
        self._fit()
        self.highlight_layer(self._highlight)

    def _on_resized(self, *_args) -> None:
        if self.snapshot is not None and self.geoms:
            a = self._drawing_aspect(self.snapshot)
            if abs(a - self._layout_aspect) > 0.15 * self._layout_aspect:
                self._build(self.snapshot)  # re-spread the columns over the new shape
                self._render(self.snapshot)
                self._update_marker()
                return
        self._fit()

    def _fit(self, *_args) -> None:
        """Show the whole network with room, in pixels, for the text around it."""
        if not self.geoms:
            return
        sc = self.theme.scale
        x0 = min(g.bounds[0] for g in self.geoms)
        x1 = max(g.bounds[2] for g in self.geoms)
        # at least most of the drawing's height, so that a 2-1 net is not blown up
        y0 = min(min(g.bounds[1] for g in self.geoms), 0.12 * H)
        y1 = max(max(g.bounds[3] for g in self.geoms), 0.88 * H)
        x0, x1 = min(x0, (x0 + x1) / 2 - 0.6 * H), max(x1, (x0 + x1) / 2 + 0.6 * H)
        left, right = self._side_margins(*self._shape)
        top, bottom = 70 * sc, 56 * sc
        size = self.vb.size()
        w_px, h_px = max(size.width(), 50.0), max(size.height(), 50.0)
        ppu = max(min((w_px - left - right) / (x1 - x0), (h_px - top - bottom) / (y1 - y0)), 0.2)
        cx = (x0 - left / ppu + x1 + right / ppu) / 2
        cy = (y0 - top / ppu + y1 + bottom / ppu) / 2
        self.vb.setRange(
            QtCore.QRectF(cx - w_px / ppu / 2, cy - h_px / ppu / 2, w_px / ppu, h_px / ppu),
            padding=0,
        )
        self._fit_labels(ppu)

    def _side_margins(self, widths: tuple[int, ...], input_shape: tuple[int, ...]) -> tuple:
        """Pixels to the left and right of the drawing for the input and output
        value labels (drawn for dot layers of up to 16), measured in their font."""
        sc = self.theme.scale
        fm = QtGui.QFontMetricsF(self._small_font)
        picture = len([d for d in input_shape if d != 1]) == 2
        left = 40 * sc
        if widths[0] <= 16 and not picture:
            left = fm.horizontalAdvance("x₁₆ = +0.00")
        right = 40 * sc
        if widths[-1] <= 16:
            widest = "9: +00.00  ← target" if widths[-1] > 1 else "0.000   target 0"
            right = fm.horizontalAdvance(widest)
        return left + 28 * sc, right + 28 * sc

    def _fit_labels(self, ppu: float) -> None:
        """Shrink the column titles and notes where the columns stand closer
        together than the text is wide (a narrow view, presenter fonts)."""
        if len(self.geoms) < 2:
            return
        gap_px = min(b.x - a.x for a, b in zip(self.geoms[:-1], self.geoms[1:])) * ppu
        bold = QtGui.QFont(self._font)
        bold.setBold(True)
        fb, fr = QtGui.QFontMetricsF(bold), QtGui.QFontMetricsF(self._font)
        fs = QtGui.QFontMetricsF(self._small_font)
        need = max(
            max(fb.horizontalAdvance(title), fr.horizontalAdvance(sub))
            for title, sub in (items["title_text"] for items in self._items)
        )
        need = max(need, fs.horizontalAdvance("|dL/dz| ≤ 0.00019"))
        scale = min(1.0, max(0.5, (gap_px - 12.0) / need))
        if abs(scale - self._label_scale) < 0.03:
            return
        self._label_scale = scale
        for items in self._items:
            for key, base in (("title", self._font), ("stat", self._small_font)):
                font = QtGui.QFont(base)
                font.setPointSizeF(base.pointSizeF() * scale)
                items[key].setFont(font)
            items["title"].setTextWidth(220 * self.theme.scale * scale)

    def _frame(self, rect) -> QtWidgets.QGraphicsRectItem:
        item = QtWidgets.QGraphicsRectItem(QtCore.QRectF(*rect))
        pen = QtGui.QPen(QtGui.QColor(self.theme.grid), 1.0)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(3)
        return item

    def _text(self, text: str, colour: str, anchor, small: bool = False) -> pg.TextItem:
        item = pg.TextItem(text, color=colour, anchor=anchor)
        item.setFont(self._small_font if small else self._font)
        item.setZValue(20)
        return item

    # --- per frame ------------------------------------------------------------------------

    def _push_history(self, snap: Snapshot) -> None:
        row = self._hist_n % HISTORY
        self._hist[0][row] = snap.input
        for li, ls in enumerate(snap.layers, start=1):
            self._hist[li][row] = ls.a
        self._hist_n += 1

    def _history(self, layer: int, index: int) -> np.ndarray:
        n = min(self._hist_n, HISTORY)
        if n == 0:
            return np.zeros(0)
        start = self._hist_n - n
        rows = np.arange(start, self._hist_n) % HISTORY
        return self._hist[layer][rows, index].astype(np.float64)

    def _update_scales(self, snap: Snapshot) -> None:
        # One colour scale for every hidden/output neuron (robust to outliers);
        # it follows a rise at once and a fall slowly, so colours don't flicker.
        act = _robust_max([ls.a for ls in snap.layers], 99.0)
        self._act_vmax = max(act, 0.9 * self._act_vmax)
        # Gradients differ by orders of magnitude between layers, so each
        # layer gets its own scale (shown under it); the sign pattern stays legible.
        prev = self._grad_vmax if isinstance(self._grad_vmax, np.ndarray) else None
        gv = np.zeros(len(snap.layers) + 1)
        for li, ls in enumerate(snap.layers, start=1):
            if ls.dz is not None:
                g = _robust_max([ls.dz], 98.0)
                gv[li] = max(g, 0.9 * prev[li]) if prev is not None and prev.size == gv.size else g
        self._grad_vmax = gv
        x = snap.input
        self._in_vmax = float(np.max(np.abs(x))) if x.size else 1.0

    def _colour_layers(self, snap: Snapshot) -> None:
        values = [snap.input, *(ls.a for ls in snap.layers)]
        grads = [None, *(ls.dz for ls in snap.layers)]
        for li, (g, items) in enumerate(zip(self.geoms, self._items)):
            vmax = self._in_vmax if li == 0 else self._act_vmax
            idx = lut_indices(values[li], vmax)
            gmax = float(self._grad_vmax[li]) or 1.0
            gidx = lut_indices(grads[li], gmax) if grads[li] is not None else None
            if g.kind == "dots":
                items["dots"].setBrush(self._act_brushes[idx])
                if gidx is not None:
                    mag = np.clip(np.abs(grads[li]) / gmax, 0, 1)
                    items["halo"].setBrush(self._grad_brushes[gidx], update=False)
                    items["halo"].setSize(2 * g.r * (1.0 + g.halo * np.sqrt(mag)))
            else:
                rgba = items["rgba"]
                rgba.reshape(-1, 4)[: g.width] = self.act_lut[idx]
                items["image"].setImage(rgba, autoLevels=False)
                if gidx is not None and "grad_image" in items:
                    grgba = items["grad_rgba"]
                    grgba.reshape(-1, 4)[: g.width] = self.grad_lut[gidx]
                    items["grad_image"].setImage(grgba, autoLevels=False)
            items["has_grad"] = gidx is not None

    def _select_edges(self, snap: Snapshot) -> None:
        """Pick the edges to draw per layer pair: all for small pairs, else the
        strongest |w·a| contributions, within EDGE_BUDGET in all."""
        pairs = []
        for li, ls in enumerate(snap.layers, start=1):
            prev = snap.input if li == 1 else snap.layers[li - 2].a
            pairs.append((ls.weight, prev))
        sizes = [w.size for w, _ in pairs]
        quota = [0] * len(pairs)
        left, remaining = EDGE_BUDGET, len(pairs)
        for k in np.argsort(sizes):
            quota[k] = min(sizes[k], left // remaining, EDGE_PAIR_MAX)
            left -= quota[k]
            remaining -= 1
        sel = []
        for (w, prev), k in zip(pairs, quota):
            if k >= w.size:  # small: every edge, width by |w| against the layer's max
                dst, src = np.divmod(np.arange(w.size), w.shape[1])
                vals = w.ravel()
                wmax = float(np.max(np.abs(vals))) if vals.size else 1.0
                rel = np.abs(vals) / (wmax if wmax > 0 else 1.0)
                level = np.minimum((rel * EDGE_LEVELS).astype(int), EDGE_LEVELS - 1)
                sel.append((src, dst, vals >= 0, level))
                continue
            src, dst = _top_contributions(w, prev, k)
            vals = w[dst, src]
            # The strongest edges of a big layer all have large |w|: rank them
            # so that the widths still tell the strongest from the rest.
            rank = np.empty(vals.size, dtype=float)
            rank[np.argsort(np.abs(vals))] = np.linspace(0, 1, vals.size, endpoint=False)
            level = np.searchsorted(_RANK_LEVELS, rank, side="right")
            sel.append((src, dst, vals >= 0, level))
        self._edge_sel = sel

    def _layer_light(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layer: how lit its activations are, how visible its gradients (0..1)."""
        n = len(self.geoms)
        idx = np.arange(n, dtype=float)
        if self.phase == "forward":
            front = self.progress * (n - 1)
            lit = np.clip(front - idx + 1.0, 0.0, 1.0)
            grad = np.zeros(n)
        elif self.phase == "backward":
            front = (1.0 - self.progress) * (n - 1)
            lit = np.ones(n)
            grad = np.clip(idx - front + 1.0, 0.0, 1.0)
        else:
            lit, grad = np.ones(n), np.ones(n)
        return lit, grad

    def _apply_phase(self) -> None:
        if not self.geoms:
            return
        lit, grad = self._layer_light()
        dim = 0.18
        for li, items in enumerate(self._items):
            op = dim + (1 - dim) * lit[li]
            for name in ("dots", "image"):
                if name in items:
                    items[name].setOpacity(op)
            for lab in items["labels"]:
                lab.setOpacity(op)
            show_g = bool(items.get("has_grad") and grad[li] > 0)
            for name in ("halo", "grad_image"):
                if name in items:
                    items[name].setVisible(show_g)
                    items[name].setOpacity(float(grad[li]))
        # the wave front
        n = len(self.geoms)
        if self.phase in ("forward", "backward") and n > 1:
            front = (
                self.progress * (n - 1)
                if self.phase == "forward"
                else (1 - self.progress) * (n - 1)
            )
            li = int(round(front))
            x0, y0, x1, y1 = self.geoms[li].bounds
            c = QtGui.QColor(self.theme.forward if self.phase == "forward" else self.theme.backward)
            c.setAlpha(45)
            self._glow.setBrush(QtGui.QBrush(c))
            self._glow.setRect(QtCore.QRectF(x0 - 5, -4, x1 - x0 + 10, H + 8))
            self._glow.show()
        else:
            self._glow.hide()
        self._draw_edges(lit)

    def _draw_edges(self, lit: np.ndarray) -> None:
        bins: dict[tuple[bool, int], list[tuple[np.ndarray, np.ndarray]]] = {
            k: [] for k in self._edges
        }
        for pi, (src, dst, pos, level) in enumerate(self._edge_sel):
            li = pi + 1
            if li >= len(self.geoms) or lit[li] < 0.5 or src.size == 0:
                continue
            a = self.geoms[li - 1].out_anchor[src]
            b = self.geoms[li].in_anchor[dst]
            key = pos * EDGE_LEVELS + level
            for k in np.unique(key):
                m = key == k
                bins[(bool(k // EDGE_LEVELS), int(k % EDGE_LEVELS))].append((a[m], b[m]))
        for k, item in self._edges.items():
            parts = bins[k]
            if not parts:
                item.setData(x=np.zeros(0), y=np.zeros(0), connect="pairs")
                continue
            a = np.concatenate([p[0] for p in parts])
            b = np.concatenate([p[1] for p in parts])
            xy = np.empty((2 * len(a), 2))
            xy[0::2], xy[1::2] = a, b
            item.setData(x=xy[:, 0], y=xy[:, 1], connect="pairs", skipFiniteCheck=True)

    def _update_labels(self, snap: Snapshot) -> None:
        n_layers = len(self.geoms)
        for li, items in enumerate(self._items):
            labels = items["labels"]
            if li == 0 and labels:
                for i, lab in enumerate(labels):
                    lab.setText(f"x{_sub(i + 1)} = {snap.input[i]:+.2f}")
            elif li == n_layers - 1 and labels:
                a = snap.layers[-1].a
                tgt = snap.target
                multi = len(labels) > 1
                t_idx = int(tgt[0]) if multi and tgt.size == 1 else -1
                best = int(np.argmax(a)) if multi else -1
                for i, lab in enumerate(labels):
                    if multi:
                        mark = "  ← target" if i == t_idx else ""
                        lab.setText(f"{i}: {a[i]:+.2f}{mark}")
                        lab.setColor(self.theme.accent if i == best else self.theme.foreground)
                    else:
                        y = f"   target {tgt[0]:g}" if tgt.size else ""
                        lab.setText(f"{a[i]:.3f}{y}")
            if li == 0 and snap.input.size and self.geoms[0].kind == "grid":
                # the input has its own colour scale (pixels 0…1, features ±)
                stat = f"x in [{float(snap.input.min()):.2g}, {float(snap.input.max()):.2g}]"
                if stat != items["stat"].toPlainText():
                    items["stat"].setText(stat)
            if li > 0:
                ls = snap.layers[li - 1]
                parts = [f"dead {ls.dead_fraction:.0%}"] if ls.activation == "relu" else []
                if ls.dz is not None:
                    parts.append(f"|dL/dz| ≤ {self._grad_vmax[li]:.2g}")
                stat = "\n".join(parts)
                if stat != items["stat"].toPlainText():
                    items["stat"].setText(stat)

    def _update_legend(self, snap: Snapshot) -> None:
        caption = f"step {snap.step}   loss {snap.loss:.4g}   sample #{snap.sample_index}"
        has_grad = any(ls.dz is not None for ls in snap.layers)
        self.legend.set_values(
            self._act_vmax or 1.0,
            None,
            (float(snap.input.min()), float(snap.input.max())) if snap.input.size else (0, 1),
            caption,
            has_grad,
        )

    def _refresh_inspector(self) -> None:
        target = self._selected or self._hover
        if target is None or not self.inspector.isVisible():
            return
        li, i = target
        if li < len(self.geoms) and i < self.geoms[li].width:
            self.inspector.show_info(self.neuron_info(li, i))

    def _update_marker(self) -> None:
        target = self._selected or self._hover
        if target is None or target[0] >= len(self.geoms):
            self._marker.setData([])
            return
        li, i = target
        g = self.geoms[li]
        x, y = g.pos[i]
        if g.kind == "dots":
            self._marker.setData([x], [y], size=[2 * g.r * 1.9], symbol="o")
        else:
            self._marker.setData([x], [y], size=[g.cell * 1.8], symbol="s")

    def _fill_weight_window(self, layer: int, win: WeightMatrixWindow) -> None:
        snap = self.snapshot
        if snap is None or layer > len(snap.layers):
            return
        ls = snap.layers[layer - 1]
        kind = "output" if layer == len(snap.layers) else f"hidden {layer}"
        win.set_weights(
            f"{kind} weights W ({ls.weight.shape[0]} × {ls.weight.shape[1]})", ls.weight
        )

    # --- mouse --------------------------------------------------------------------------------

    def _view_to_widget(self, p: QtCore.QPointF) -> QtCore.QPoint:
        scene = self.vb.mapViewToScene(p)
        vp = self.graphics.mapFromScene(scene)
        return self.graphics.mapTo(self, vp)

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if not self.geoms or self.snapshot is None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        hit = self.neuron_at(p.x(), p.y())
        if hit is None:
            if self._hover is not None:
                self._hover = None
                if not self.inspector.pinned:
                    self.inspector.hide()
                self._update_marker()
            return
        if hit != self._hover and not self.inspector.pinned:
            self.select_neuron(*hit, pinned=False)

    def _on_mouse_clicked(self, ev) -> None:
        if not self.geoms or self.snapshot is None:
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        if ev.button() == QtCore.Qt.MouseButton.RightButton:
            layer = self.layer_at(p.x(), p.y())
            if layer is not None and layer >= 1:
                ev.accept()
                self._context_menu(layer, ev.screenPos().toPoint())
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        hit = self.neuron_at(p.x(), p.y())
        layer = hit[0] if hit else self.layer_at(p.x(), p.y())
        if ev.double() and layer is not None and layer >= 1:
            self.open_weight_matrix(layer)
            return
        if hit is not None:
            self.select_neuron(*hit, pinned=True)
            self.neuronSelected.emit(*hit)
        else:
            self.clear_selection()
        if layer is not None:
            self.layerSelected.emit(layer)

    def _context_menu(self, layer: int, screen_pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        act = menu.addAction(f"Show the weight matrix of layer {layer}")
        act.triggered.connect(lambda: self.open_weight_matrix(layer))
        menu.addAction("Reset zoom").triggered.connect(self._fit)
        menu.popup(screen_pos)


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
