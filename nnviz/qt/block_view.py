"""The block view: any model, one row per module call, in forward order.

For models that are not plain Linear chains the network view hands its
snapshots here. Each row (laid out by :mod:`nnviz.qt.block_layout`) shows a
module's name, type, output shape and parameter count, a histogram of its
outputs over the batch (coloured by value) and one of dL/d(output) (coloured
by the gradient map), with mean and standard deviation; ReLU-family rows say
how many outputs are dead. A ``Conv2d`` row adds the chosen sample's feature
maps and their gradients, one tile per channel, and its kernels on demand
(double-click or right-click). A narrow Linear or activation row adds the
chosen sample's units as neurons (:mod:`nnviz.qt.block_neurons`).
Containers fold and unfold (double-click).
The forward and backward sweeps light the rows in order; hovering or
clicking shows the inspector with the real numbers.

Items are made when the architecture (or the fold state, size or theme)
changes; each snapshot only sets images and changed texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core import network_geometry as geo
from nnviz.core.block_snapshot import HIST_BINS, BlockSnapshot, TensorStats
from nnviz.core.history import History
from nnviz.core.numfmt import fmt, fmt_percent
from nnviz.core.snapshot import Snapshot
from nnviz.qt import block_layout as L
from nnviz.qt import block_neurons as U
from nnviz.qt.block_info import block_info, shape_text, value_of
from nnviz.qt.neuron_inspector import NeuronInfo, NeuronInspector
from nnviz.qt.theme import DARK, Theme, diverging_lut, gradient_lut, lut_indices
from nnviz.qt.view_canvas import snapshot_canvas, wire_canvas

LUT_N = 256
HIST_PX = 24  # pixel rows of a histogram image
DIM = 0.18  # opacity of what a sweep has not reached


class _ScrollBox(pg.ViewBox):
    """One view unit a pixel; the wheel scrolls up and down a drawing taller
    than the widget (text keeps its size)."""

    content = (0.0, 0.0, 1.0, 1.0)
    top = 0.0

    def scroll_to(self, top: float, size: tuple[float, float]) -> None:
        w, h = size
        self.top = float(min(max(top, 0.0), max(self.content[3] - h, 0.0)))
        cw = max(w, self.content[2])  # wider than the widget: shown whole, smaller
        self.setRange(QtCore.QRectF(0.0, self.top, cw, h * cw / w), padding=0)

    def wheelEvent(self, ev, axis=None) -> None:
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        size = self.size()
        self.scroll_to(self.top - delta * 0.5, (max(size.width(), 1.0), max(size.height(), 1.0)))
        ev.accept()


@dataclass
class _Row:
    geom: L.RowGeom
    card: QtWidgets.QGraphicsRectItem
    title: pg.TextItem
    sub: pg.TextItem
    act_label: pg.TextItem
    grad_label: pg.TextItem
    act_img: pg.ImageItem
    grad_img: pg.ImageItem
    images: dict[str, pg.ImageItem] = field(default_factory=dict)  # maps / map_grads / kernels
    extras: list = field(default_factory=list)  # labels over the mosaics
    grad_extras: list = field(default_factory=list)  # ... and over the gradients' mosaic
    texts: dict[str, str] = field(default_factory=dict)  # what each text shows now
    units: U.UnitItems | None = None  # a narrow layer's units as neurons

    def lit_items(self) -> list:
        units = self.units.lit_items() if self.units is not None else []
        return [self.card, self.title, self.sub, self.act_label, self.act_img, *units,
                *(im for k, im in self.images.items() if k != "map_grads"), *self.extras]  # fmt: skip

    def grad_items(self) -> list:
        grads = [self.images["map_grads"]] if "map_grads" in self.images else []
        units = self.units.grad_items() if self.units is not None else []
        return [self.grad_label, self.grad_img, *grads, *units, *self.grad_extras]

    def all_items(self) -> list:
        return [*self.lit_items(), *self.grad_items()]


class BlockView(QtWidgets.QWidget):
    """One snapshot's module blocks (see the module's docstring)."""

    blockSelected = QtCore.Signal(str)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
        history: History | None = None,
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.history = history if history is not None else History()
        self.snapshot: Snapshot | None = None
        self.phase: str | None = None
        self.progress = 1.0
        self.folded: set[str] | None = None  # None: not chosen yet for this model
        self.kernels_shown: set[str] = set()
        self._auto_folds, self._folds_for = True, None
        self._phase_key: tuple | None = None
        self._rows: list[_Row] = []
        self._key: tuple | None = None
        self._built_for: tuple | None = None
        self._selected: tuple | None = None  # (name, part, (ch, i, j) | None)
        self._hover: tuple | None = None
        self._series_key, self._series = None, None
        self.unit_scales = U.UnitScales()

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.graphics, self.vb = snapshot_canvas(antialias=False, viewbox=_ScrollBox)
        self.vb.setMouseEnabled(x=False, y=False)
        lay.addWidget(self.graphics)
        self.header = pg.TextItem("", anchor=(0, 0))
        self.header.setZValue(20)
        self.vb.addItem(self.header)
        self._glow = QtWidgets.QGraphicsRectItem()
        self._glow.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self._glow.setZValue(-5)
        self._glow.hide()
        self.vb.addItem(self._glow)
        self.inspector = NeuronInspector(self, theme)
        wire_canvas(self)
        self.set_theme(theme)

    # --- the view protocol ----------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.act_lut, self.grad_lut = diverging_lut(theme, LUT_N), gradient_lut(theme, LUT_N)
        self.graphics.setBackground(theme.background)
        s = theme.scale
        self._title_font, self._font = QtGui.QFont(), QtGui.QFont()
        self._title_font.setPixelSize(round(15 * s))
        self._title_font.setBold(True)
        self._font.setPixelSize(round(13 * s))  # the smallest text: ≥ 12 px
        self.header.setFont(self._title_font)
        self.header.setColor(theme.foreground)
        self.inspector.set_theme(theme)
        self._built_for = None
        if self.snapshot is not None:
            self._build(self.snapshot)
            self._render(self.snapshot)

    def reset(self) -> None:
        """A new model: fold state, kernels and selection are forgotten."""
        self._key = None
        self.folded = None
        self.kernels_shown = set()
        self.clear_selection()

    def set_snapshot(self, snap: Snapshot) -> None:
        key = tuple((b.name, b.type, b.parent, b.container, b.shape) for b in snap.blocks)
        if key != self._key:
            self._key = key
            self.folded = None
            self._selected = self._hover = None
            self.inspector.hide()
            self.unit_scales = U.UnitScales()
        self.snapshot = snap
        self._build(snap)
        self._render(snap)

    def refresh(self) -> None:
        """Nothing to do between snapshots: the view draws only what it is handed."""

    # --- what the rest of the app calls ----------------------------------------------------

    def set_phase(self, phase: str | None, progress: float = 1.0) -> None:
        """Forward lights the rows in order; backward shows gradients from the last row up."""
        if phase not in (None, "forward", "backward"):
            raise ValueError(f"phase must be None, 'forward' or 'backward', got {phase!r}")
        self.phase = phase
        self.progress = float(min(max(progress, 0.0), 1.0))
        self._apply_phase()

    def visible_names(self) -> list[str]:
        """The blocks drawn, in order (folded containers hide what ran inside them)."""
        snap = self.snapshot
        return [] if snap is None else [snap.blocks[r.geom.index].name for r in self._rows]

    def set_folded(self, name: str, folded: bool) -> None:
        if self.snapshot is None or self.folded is None:
            return
        block = self._block(name)
        if block is None or not block.container:
            return
        (self.folded.add if folded else self.folded.discard)(name)
        self._auto_folds = False
        self._rebuild()

    def toggle_fold(self, name: str) -> None:
        self.set_folded(name, name not in (self.folded or set()))

    def show_kernels(self, name: str, shown: bool = True) -> None:
        (self.kernels_shown.add if shown else self.kernels_shown.discard)(name)
        self._rebuild()

    def block_rect(self, name: str) -> QtCore.QRectF | None:
        """A visible block's row in view units."""
        for r in self._rows:
            if self.snapshot.blocks[r.geom.index].name == name:
                return QtCore.QRectF(*r.geom.rect)
        return None

    def mosaic(self, name: str, part: str = "maps") -> L.Mosaic | None:
        """Where a Conv2d row's feature maps ("maps", "map_grads", "kernels") are."""
        row = self._row(name)
        return None if row is None else getattr(row.geom, part)

    def row_opacity(self, name: str) -> float:
        row = self._row(name)
        return float(row.title.opacity()) if row is not None else 0.0

    def gradient_shown(self, name: str) -> bool:
        row = self._row(name)
        return bool(row is not None and row.grad_img.isVisible() and row.grad_img.opacity() > 0)

    def units_of(self, name: str) -> U.UnitItems | None:
        """A visible row's units as drawn (None: the row has none)."""
        row = self._row(name)
        return None if row is None else row.units

    def text_of(self, name: str) -> str:
        """Every text a block's row shows, joined (for tests and screen readers)."""
        row = self._row(name)
        return "" if row is None else " | ".join(row.texts.values())

    def hit(self, x: float, y: float) -> tuple[str, str, tuple[int, ...] | None] | None:
        """(block name, part, (channel, row, column) in a mosaic, (unit,) in a
        row's units, or None) under a point."""
        for r in self._rows:
            x0, y0, w, h = r.geom.rect
            if not (x0 <= x <= x0 + w and y0 <= y <= y0 + h):
                continue
            name = self.snapshot.blocks[r.geom.index].name
            k = r.geom.units.unit_at(x, y) if r.geom.units is not None else None
            if k is not None:
                return name, "units", (k,)
            for part in ("maps", "map_grads", "kernels"):
                m = getattr(r.geom, part)
                if m is not None:
                    where = m.tile_at(x, y)
                    if where is not None:
                        return name, part, where
            return name, "row", None
        return None

    def select(self, name: str, part: str = "row", where=None, pinned: bool = True):
        """Show a block (or one pixel of its maps) in the inspector."""
        block = self._block(name)
        if block is None:
            return None
        info = self.block_info(block, part, where)
        if pinned:
            self._selected = (name, part, where)
            self.inspector.pinned = True
        else:
            self._hover = (name, part, where)
        self.inspector.show_info(info)
        rect = self.block_rect(name)
        if rect is not None:
            scene = self.vb.mapViewToScene(rect.topRight())
            vp = self.graphics.mapTo(self, self.graphics.mapFromScene(scene))
            self.inspector.place_near(vp, self.graphics.geometry())
        self.inspector.show()
        return info

    def clear_selection(self) -> None:
        self._selected = self._hover = None
        self.inspector.pinned = False
        self.inspector.hide()

    def block_info(self, b: BlockSnapshot, part: str = "row", where=None) -> NeuronInfo:
        """A block's numbers (or one pixel of its maps or kernels) as the
        inspector shows them, with their history over the kept snapshots."""
        return block_info(self.snapshot, b, part, where, self._series_of(b.name, part, where))

    # --- building ------------------------------------------------------------------------

    def _block(self, name: str) -> BlockSnapshot | None:
        if self.snapshot is None:
            return None
        return next((b for b in self.snapshot.blocks if b.name == name), None)

    def _row(self, name: str) -> _Row | None:
        if self.snapshot is None:
            return None
        return next((r for r in self._rows if self.snapshot.blocks[r.geom.index].name == name),
                    None)  # fmt: skip

    def _size(self) -> tuple[float, float]:
        size = self.vb.size()
        return max(size.width(), 400.0), max(size.height(), 300.0)

    def _rebuild(self) -> None:
        if self.snapshot is not None:
            self._build(self.snapshot)
            self._render(self.snapshot)

    def _build(self, snap: Snapshot) -> None:
        size, s = self._size(), self.theme.scale
        # until the user folds or unfolds something, the folds fit the rows to the widget
        if self.folded is None or (self._auto_folds and self._folds_for != (self._key, size, s)):
            self.folded = L.default_folds(snap.blocks, size, s)
            self._auto_folds, self._folds_for = True, (self._key, size, s)
        built_for = (self._key, frozenset(self.folded), frozenset(self.kernels_shown), size, s)
        if built_for == self._built_for:
            return
        self._built_for = built_for
        for row in self._rows:
            for item in row.all_items():
                self.vb.removeItem(item)
        visible = L.visible_rows(snap.blocks, self.folded)
        geoms = L.row_geoms(snap.blocks, visible, size, s, frozenset(self.kernels_shown))
        self._rows = [self._make_row(snap.blocks[g.index], g) for g in geoms]
        self.header.setPos(L.GAP * s, 6 * s)
        self._phase_key = None
        self.vb.content = L.bounds(geoms, size)
        self.vb.scroll_to(self.vb.top, size)

    def _text(self, text: str, x: float, y: float, font, colour: str, z: float = 10):
        item = pg.TextItem(text, color=colour, anchor=(0, 0))
        item.setFont(font)
        item.setPos(x, y)
        item.setZValue(z)
        self.vb.addItem(item)
        return item

    def _image(self, rect) -> pg.ImageItem:
        img = pg.ImageItem(np.zeros((1, 1, 4), np.uint8), axisOrder="row-major")
        img.setRect(QtCore.QRectF(*rect))
        img.setZValue(5)
        self.vb.addItem(img)
        return img

    def _make_row(self, b: BlockSnapshot, g: L.RowGeom) -> _Row:
        t, s = self.theme, self.theme.scale
        x, y, w, h = g.rect
        card = QtWidgets.QGraphicsRectItem(QtCore.QRectF(x, y, w, h))
        card.setBrush(QtGui.QBrush(QtGui.QColor(t.panel)))
        pen = QtGui.QPen(QtGui.QColor(t.grid), 1.0)
        pen.setCosmetic(True)
        card.setPen(pen)
        card.setZValue(0)
        self.vb.addItem(card)
        mark = ("▸ " if b.name in self.folded else "▾ ") if b.container else ""
        title = self._text(f"{mark}{b.label} · {b.type}", x + 8 * s, y + 5 * s,
                           self._title_font, t.foreground)  # fmt: skip
        sub = self._text("", x + 8 * s, y + 30 * s, self._font, t.muted)
        ax, ay = g.act_hist[:2]
        gx, gy = g.grad_hist[:2]
        act_label = self._text("", ax - 2 * s, y + 3 * s, self._font, t.foreground)
        grad_label = self._text("", gx - 2 * s, y + 3 * s, self._font, t.backward)
        row = _Row(g, card, title, sub, act_label, grad_label, self._image(g.act_hist),
                   self._image(g.grad_hist))  # fmt: skip
        row.texts["title"] = f"{b.label} · {b.type}"
        for part, label in (("maps", f"feature maps of sample #{self.snapshot.sample_index}"),
                            ("map_grads", "their gradients dL/dz"),
                            ("kernels", L.kernel_caption(b))):  # fmt: skip
            m = getattr(g, part)
            if m is None:
                continue
            row.images[part] = self._image(m.rect)
            colour = t.backward if part == "map_grads" else t.muted
            lab = self._text(label, m.rect[0], m.rect[1] - 19 * s, self._font, colour)
            (row.grad_extras if part == "map_grads" else row.extras).append(lab)
        if g.units is not None:
            row.units = U.UnitItems(self.vb, g.units, b, t, self._font)
        return row

    # --- per snapshot --------------------------------------------------------------------

    def _render(self, snap: Snapshot) -> None:
        shown = [snap.blocks[row.geom.index] for row in self._rows]
        self.unit_scales.update(shown)
        head = (f"step {snap.step:,} · loss {fmt(snap.loss)} · sample #{snap.sample_index}"
                f" · {len(snap.blocks)} module calls")  # fmt: skip
        units = any(r.units is not None for r in self._rows)
        width = self._size()[0] - 2 * L.GAP * self.theme.scale
        self._set(self, "header", self.header,
                  U.header_text(head, self.unit_scales, units, self._title_font, width))  # fmt: skip
        act_imgs = self._hist_rgba([b.act for b in shown], self.act_lut)
        grad_imgs = self._hist_rgba([b.grad for b in shown], self.grad_lut)
        for k, (row, b) in enumerate(zip(self._rows, shown)):
            dead = f" · {fmt_percent(b.dead_fraction)} dead" if b.dead_fraction is not None else ""
            self._set(row, "sub", row.sub, f"{shape_text(b.shape)} · {b.params:,} params{dead}")
            self._set(row, "act", row.act_label, self._stat_text("a", b.act))
            self._set(row, "grad", row.grad_label, self._stat_text("∇", b.grad))
            self._put(row.act_img, act_imgs[k], row.geom.act_hist)
            self._put(row.grad_img, grad_imgs[k], row.geom.grad_hist)
            for part, arr, lut in (("maps", b.maps, self.act_lut),
                                   ("map_grads", b.map_grads, self.grad_lut),
                                   ("kernels", b.kernels, self.act_lut)):  # fmt: skip
                img = row.images.get(part)
                if img is None:
                    continue
                m = getattr(row.geom, part)
                if arr is None:
                    self._put(img, np.zeros((1, 1, 4), np.uint8), m.rect)
                    continue
                if part == "kernels":
                    arr = L.kernel_grid(arr)
                self._put(img, self._mosaic_rgba(arr, m, lut), m.rect)
        U.paint_units([(r.units, b) for r, b in zip(self._rows, shown) if r.units is not None],
                      self.unit_scales)  # fmt: skip
        self._apply_phase()
        target = self._selected or self._hover
        if target is not None and self.inspector.isVisible() and self._block(target[0]):
            self.inspector.show_info(self.block_info(self._block(target[0]), *target[1:]))

    @staticmethod
    def _put(img: pg.ImageItem, rgba: np.ndarray, rect) -> None:
        """New pixels, stretched over ``rect`` (set after the image: the
        rectangle's scale depends on the image's size)."""
        old = img.image
        img.setImage(rgba, autoLevels=False)
        if old is None or old.shape != rgba.shape:
            img.setRect(QtCore.QRectF(*rect))

    @staticmethod
    def _set(owner, key: str, item: pg.TextItem, text: str) -> None:
        texts = owner.texts if isinstance(owner, _Row) else owner.__dict__.setdefault("_htext", {})
        if texts.get(key) != text:
            texts[key] = text
            item.setText(text)

    @staticmethod
    def _stat_text(sym: str, st: TensorStats | None) -> str:
        if st is None:
            return f"{sym}: none" if sym == "∇" else f"{sym}: —"
        return f"{sym} μ {fmt(st.mean, 2)}  σ {fmt(st.std, 2)}"

    @staticmethod
    def _hist_rgba(stats: list[TensorStats | None], lut: np.ndarray) -> np.ndarray:
        """Histograms as bars, one image per row, (rows, HIST_PX, 3·bins, 4): three
        pixel columns a bin (one a gap), each bar coloured by its bin's centre
        value; all rows at once (numpy calls per row cost more than the pixels)."""
        r = len(stats)
        out = np.zeros((r, HIST_PX, HIST_BINS, 3, 4), np.uint8)
        ok = [i for i, st in enumerate(stats) if st is not None and st.count > 0]
        if not ok:
            return out.reshape(r, HIST_PX, HIST_BINS * 3, 4)
        counts = np.stack([stats[i].hist for i in ok]).astype(np.float64)
        lo = np.array([stats[i].lo for i in ok])[:, None]
        hi = np.array([stats[i].hi for i in ok])[:, None]
        top = np.maximum(counts.max(1, keepdims=True), 1.0)
        heights = np.where(counts > 0, np.maximum(1, np.round(counts / top * HIST_PX)), 0)
        centres = lo + (hi - lo) * (np.arange(HIST_BINS) + 0.5) / HIST_BINS
        vmax = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), 1e-300)
        # bars near zero would take the background's colour: keep them at least a third lit
        lit = np.sign(centres) * (0.35 + 0.65 * np.abs(centres) / vmax)
        lit = np.where(centres == 0, 0.35, lit)
        idx = np.clip(np.round((lit + 1.0) * 0.5 * (LUT_N - 1)), 0, LUT_N - 1).astype(np.intp)
        colours = lut[idx]  # (rows, bins, 4)
        filled = np.arange(HIST_PX)[::-1][None, :, None] < heights[:, None, :]
        bars = np.where(filled[..., None], colours[:, None], 0).astype(np.uint8)
        out[ok, :, :, 0] = bars
        out[ok, :, :, 1] = bars
        return out.reshape(r, HIST_PX, HIST_BINS * 3, 4)

    @staticmethod
    def _mosaic_rgba(arr: np.ndarray, m: L.Mosaic, lut: np.ndarray) -> np.ndarray:
        img, mask = L.mosaic_image(np.asarray(arr, dtype=np.float64), m)
        vmax = float(np.nanmax(np.abs(img))) if img.size else 1.0
        rgba = lut[lut_indices(img, vmax, LUT_N)].copy()
        rgba[~mask] = 0
        return rgba

    def _apply_phase(self) -> None:
        n = len(self._rows)
        if n == 0:
            self._glow.hide()
            return
        key = (self.phase, self.progress, id(self._rows))
        if key == self._phase_key:  # opacities as they are: nothing to set
            return
        self._phase_key = key
        lit, grad = geo.layer_light(self.phase, self.progress, n)
        for k, row in enumerate(self._rows):
            op = float(DIM + (1 - DIM) * lit[k])
            for item in row.lit_items():
                item.setOpacity(op)
            for item in row.grad_items():
                item.setVisible(bool(grad[k] > 0))
                item.setOpacity(float(grad[k]))
        front = geo.sweep_front(self.phase, self.progress, n)
        if front is None:
            self._glow.hide()
            return
        x0, y0, w, h = self._rows[int(round(front))].geom.rect
        c = QtGui.QColor(self.theme.forward if self.phase == "forward" else self.theme.backward)
        c.setAlpha(70)
        self._glow.setBrush(QtGui.QBrush(c))
        pad = 5 * self.theme.scale
        self._glow.setRect(QtCore.QRectF(x0 - pad, y0 - pad, w + 2 * pad, h + 2 * pad))
        self._glow.show()

    def _series_of(self, name: str, part: str, where) -> tuple[np.ndarray, np.ndarray]:
        """What the inspector shows over the kept snapshots, up to the one shown:
        a block's output mean, or one pixel of its maps or kernels."""
        snap, kept = self.snapshot, self.history.snapshots
        key = (name, part, where, snap.step, kept.version)
        if key != self._series_key:
            steps, values = [], []
            for i in range(len(kept)):
                other = kept[i]
                if other.step > snap.step:
                    break
                b = next((b for b in other.blocks if b.name == name), None)
                v = None if b is None else value_of(b, part, where)
                if v is not None:
                    steps.append(other.step)
                    values.append(v)
            self._series_key = key
            self._series = (np.asarray(steps, np.int64), np.asarray(values, np.float64))
        return self._series

    # --- mouse -----------------------------------------------------------------------------

    def _on_resized(self, *_args) -> None:
        if self.snapshot is not None:
            self._rebuild()

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if self.snapshot is None or self.inspector.pinned:
            return
        p = self.vb.mapSceneToView(scene_pos)
        hit = self.hit(p.x(), p.y())
        if hit is None:
            if self._hover is not None:
                self._hover = None
                self.inspector.hide()
        elif hit != self._hover:
            self.select(*hit, pinned=False)

    def _on_mouse_clicked(self, ev) -> None:
        if self.snapshot is None:
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        hit = self.hit(p.x(), p.y())
        if ev.button() == QtCore.Qt.MouseButton.RightButton and hit is not None:
            ev.accept()
            self._context_menu(hit[0], ev.screenPos().toPoint())
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        if hit is None:
            self.clear_selection()
            return
        if ev.double():
            self._double(hit[0])
            return
        self.select(*hit, pinned=True)
        self.blockSelected.emit(hit[0])

    def _double(self, name: str) -> None:
        b = self._block(name)
        if b is None:
            return
        if b.container:
            self.toggle_fold(name)
        elif b.kernels is not None:
            self.show_kernels(name, name not in self.kernels_shown)

    def _context_menu(self, name: str, screen_pos: QtCore.QPoint) -> None:
        b = self._block(name)
        menu = QtWidgets.QMenu(self)
        if b is not None and b.container:
            folded = name in (self.folded or set())
            menu.addAction("Unfold" if folded else "Fold").triggered.connect(
                lambda: self.toggle_fold(name)
            )
        if b is not None and b.kernels is not None:
            shown = name in self.kernels_shown
            menu.addAction("Hide the kernels" if shown else "Show the kernels").triggered.connect(
                lambda: self.show_kernels(name, not shown)
            )
        menu.popup(screen_pos)
