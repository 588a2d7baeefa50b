"""A narrow layer's units as neurons inside the block view.

A ``Linear`` (or an elementwise activation) of a model that is not a plain
Linear chain has a row in the block view; when its output is (batch, units)
with at most :data:`~nnviz.core.block_snapshot.MAX_UNITS` units, the row also
draws the chosen sample's units as the neuron view draws a layer: a disc per
unit coloured by its value (the activation colour map, one scale shared by
every such row), with a halo coloured by its gradient dL/d(output) (the
gradient colour map, each row its own scale, printed beside it) that grows
with |gradient|.

The discs of a row are pictures, not shapes: one image of discs (outlined
in the theme's muted colour) and one of halos, each cell's pixels taken
from masks made once for the row's size (antialiased). A frame fills the
two small images with numpy whatever the number of units (about 0.4 ms a
row, painting included); drawing the residual MLP's 700 discs one by one
took the GUI thread about 25 ms a frame (measured).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from nnviz.core.block_snapshot import BlockSnapshot
from nnviz.core.network_geometry import robust_max
from nnviz.core.numfmt import fmt
from nnviz.qt import block_layout as L
from nnviz.qt.theme import Theme, diverging_lut, gradient_lut, lut_indices

LUT_N = 256
U32 = np.dtype("<u4")  # a pixel: its bytes are R, G, B, A on any machine
HALO_LEVELS = 8  # halo sizes: |gradient| / scale in this many steps (by its square root)


def unit_symbol(b: BlockSnapshot) -> str:
    """What a unit's value is called: z for a Linear's output, a for an activation's."""
    return "z" if b.type == "Linear" else "a"


NICE = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0)


def nice_scale(v: float) -> float:
    """``v`` rounded up to 1, 1.5, 2, 3, 4, 5 or 7 times a power of ten: the
    scale printed is the one the colours use, and it changes only now and then."""
    if not (v > 0 and math.isfinite(v)):
        return 1.0
    e = 10.0 ** math.floor(math.log10(v))
    return next(m for m in NICE if m * e >= v * (1 - 1e-12)) * e


@lru_cache(maxsize=16)
def _masks(px: int, r: float, halo: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cell's coverage (0..255) of the disc, of its outline, and of the halo
    at each of ``HALO_LEVELS`` sizes; pixel centres against the cell's centre."""
    c = (np.arange(px) + 0.5) - px / 2
    d = np.hypot(c[:, None], c[None, :])

    def cover(radius):
        return np.clip(radius + 0.5 - d, 0.0, 1.0)

    disc, inner = cover(r), cover(r - 1.0)
    frac = np.arange(HALO_LEVELS) / (HALO_LEVELS - 1)
    halos = np.stack([cover(r * (1.0 + halo * f)) for f in frac])
    out = [np.round(m * 255).astype(np.uint8) for m in (inner, disc - inner, halos)]
    for m in out:
        m.setflags(write=False)
    return out[0], out[1], out[2]


class UnitScales:
    """The values at the ends of the colour maps, as the neuron view keeps them:
    one for every row's values (the 99th percentile of |value|), one per row
    for its gradients (the 98th); each follows a rise at once and a fall slowly."""

    def __init__(self) -> None:
        self.act = 1.0  # the scales used (nice numbers: see nice_scale)
        self.grad: dict[str, float] = {}
        self._act, self._grad = 0.0, {}  # the same before rounding, decaying

    def update(self, blocks: list[BlockSnapshot], decay: float = 0.9) -> None:
        values = [b.units for b in blocks if b.units is not None]
        if values:
            self._act = max(robust_max(values, 99.0), decay * self._act)
            self.act = nice_scale(self._act)
        raw = {}
        for b in blocks:
            if b.unit_grads is not None:
                raw[b.name] = max(
                    robust_max([b.unit_grads], 98.0), decay * self._grad.get(b.name, 0.0)
                )
        self._grad = raw
        self.grad = {k: nice_scale(v) for k, v in raw.items()}


def rgb32(lut: np.ndarray) -> np.ndarray:
    """A LUT's colours as RGBA pixels in one little-endian uint32 each, alpha 0."""
    rgb = lut[:, :3].astype(U32)
    return rgb[:, 0] | rgb[:, 1] << 8 | rgb[:, 2] << 16


class UnitItems:
    """One row's discs, halos and the words on their left (see the module's docstring)."""

    def __init__(self, vb: pg.ViewBox, strip: L.UnitStrip, b: BlockSnapshot, theme: Theme,
                 font: QtGui.QFont) -> None:  # fmt: skip
        self.strip = strip
        self.px = max(int(round(strip.pitch)), 3)  # image pixels a cell
        self.lines = math.ceil(strip.count / strip.per_line)
        self.act_lut, self.grad_lut = diverging_lut(theme, LUT_N), gradient_lut(theme, LUT_N)
        self._act32, self._grad32 = rgb32(self.act_lut), rgb32(self.grad_lut)
        self.fill, ring, self.halos = _masks(self.px, strip.radius * self.px / strip.pitch,
                                             strip.halo)  # fmt: skip
        self.value_idx = np.full(strip.count, LUT_N // 2)
        self.grad_idx, self.level = None, np.zeros(strip.count, np.intp)
        # the pictures recoloured in place each frame: (lines, px, per line, px) RGBA
        # pixels as one little-endian uint32 each (a colour | its mask's alpha << 24)
        self._dots = np.zeros(self._shape5()[:4], U32)
        cells = (strip.count, self.px, self.px)
        fill, ring = (self._arrange(np.broadcast_to(m, cells)) for m in (self.fill, ring))
        self._dot_alpha = np.minimum(fill + ring, 255) << 24  # the disc: fill and outline
        # the outline, in the theme's muted colour, where it covers more than the fill
        pen = QtGui.QColor(theme.muted)
        self._rim = ring > fill
        self._pen = rgb32(np.array([[pen.red(), pen.green(), pen.blue()]])) | (ring << 24)
        self._halo = np.zeros_like(self._dots)
        self.dots = self._image(vb, self._flat(self._dots), 7)
        self.halo = self._image(vb, self._flat(self._halo), 6)
        x, y = strip.caption
        self.caption = self._text(vb, f"{strip.count} units, {unit_symbol(b)}", x, y, font,
                                  theme.muted)  # fmt: skip
        self.grad_caption = self._text(vb, "", x, y + L.UNIT_LINE_H * theme.scale, font,
                                       theme.backward)  # fmt: skip
        self.grad_text = ""
        self.has_grad = False

    def _tile(self, cells: np.ndarray) -> np.ndarray:
        """(count, px, px, 4) cells as the strip's picture, line by line."""
        n, per, px = self.strip.count, self.strip.per_line, self.px
        full = np.zeros((self.lines * per, px, px, 4), np.uint8)
        full[:n] = cells
        return full.reshape(self.lines, per, px, px, 4).swapaxes(1, 2).reshape(
            self.lines * px, per * px, 4)  # fmt: skip

    def _shape5(self) -> tuple[int, int, int, int, int]:
        return self.lines, self.px, self.strip.per_line, self.px, 4

    def _flat(self, buf: np.ndarray) -> np.ndarray:
        """The uint32 pixels as the (h, w, RGBA) uint8 picture they are."""
        return buf.view(np.uint8).reshape(self.lines * self.px, self.strip.per_line * self.px, 4)

    def _arrange(self, masks: np.ndarray) -> np.ndarray:
        """(count, px, px) per-unit masks as (lines, px, per line, px) uint32."""
        per = self.strip.per_line
        full = np.zeros((self.lines * per, self.px, self.px), U32)
        full[: self.strip.count] = masks
        return full.reshape(self.lines, per, self.px, self.px).swapaxes(1, 2)

    def _colour(self, buf: np.ndarray, table: np.ndarray, idx: np.ndarray, alpha) -> None:
        """Each unit's cell of ``buf`` in its colour (``table``: see rgb32), with
        ``alpha`` (<< 24) its mask."""
        rgb = np.zeros(self.lines * self.strip.per_line, U32)
        rgb[: self.strip.count] = table[idx]
        np.bitwise_or(rgb.reshape(self.lines, 1, self.strip.per_line, 1), alpha, out=buf)

    def _image(self, vb, rgba: np.ndarray, z: float) -> pg.ImageItem:
        img = pg.ImageItem(rgba, axisOrder="row-major")
        img.setRect(QtCore.QRectF(*self.strip.rect))
        img.setZValue(z)
        vb.addItem(img)
        return img

    @staticmethod
    def _text(vb, text, x, y, font, colour) -> pg.TextItem:
        item = pg.TextItem(text, color=colour, anchor=(0, 0))
        item.setFont(font)
        item.setPos(x, y)
        item.setZValue(10)
        vb.addItem(item)
        return item

    def items(self) -> list:
        return [*self.lit_items(), *self.grad_items()]

    def lit_items(self) -> list:
        return [self.dots, self.caption]

    def grad_items(self) -> list:
        """Shown once the backward sweep reached the row (and only with a gradient)."""
        return [self.halo, self.grad_caption]

    def show(self, b: BlockSnapshot, value_idx, grad_idx, level, gmax: float) -> None:
        """This snapshot's colours, as colour-map indices (see paint_units)."""
        self.value_idx, self.grad_idx, self.level = value_idx, grad_idx, level
        self._colour(self._dots, self._act32, value_idx, self._dot_alpha)
        np.copyto(self._dots, self._pen, where=self._rim)
        self.dots.setImage(self._flat(self._dots), autoLevels=False)
        self.has_grad = grad_idx is not None
        if self.has_grad:
            self._colour(self._halo, self._grad32, grad_idx, self._arrange(self.halos[level]) << 24)
        else:
            self._halo[:] = 0
        self.halo.setImage(self._flat(self._halo), autoLevels=False)
        self._set_grad_text(f"|dL/d{unit_symbol(b)}| ≤ {fmt(gmax, 2)}" if self.has_grad else "")

    def _set_grad_text(self, text: str) -> None:
        if text != self.grad_text:
            self.grad_text = text
            self.grad_caption.setText(text)

    def colour(self, k: int) -> QtGui.QColor:
        """The colour unit ``k``'s disc is drawn in now."""
        return QtGui.QColor(*(int(c) for c in self.act_lut[self.value_idx[k]][:3]))

    def gradient_mark(self, k: int) -> tuple[QtGui.QColor, float] | None:
        """Unit ``k``'s halo: (colour, diameter over the disc's), or None when not shown."""
        if self.grad_idx is None or not self.halo.isVisible() or self.halo.opacity() <= 0:
            return None
        size = 1.0 + self.strip.halo * self.level[k] / (HALO_LEVELS - 1)
        return QtGui.QColor(*(int(c) for c in self.grad_lut[self.grad_idx[k]][:3])), size

    def pixel(self, k: int, part: str = "dots") -> tuple[int, int, int, int]:
        """The RGBA of the picture drawn at unit ``k``'s centre (for tests)."""
        line, col = divmod(k, self.strip.per_line)
        img = getattr(self, part).image
        return tuple(int(c) for c in img[line * self.px + self.px // 2,
                                         col * self.px + self.px // 2])  # fmt: skip


def paint_units(pairs: list[tuple[UnitItems, BlockSnapshot]], scales: UnitScales) -> None:
    """Colour every row's units for a snapshot: the colour-map indices of all
    rows at once (numpy calls per row cost more than the numbers)."""
    if not pairs:
        return
    values, grads, has = [], [], []
    for items, b in pairs:
        n = items.strip.count
        ok = b.units is not None and b.units.size == n
        g_ok = ok and b.unit_grads is not None and b.unit_grads.size == n
        values.append(b.units if ok else np.zeros(n))  # no units: the neutral colour
        grads.append(b.unit_grads / scales.grad.get(b.name, 1.0) if g_ok else np.zeros(n))
        has.append(g_ok)
    value_idx = lut_indices(np.concatenate(values), scales.act, LUT_N)
    g = np.concatenate(grads)  # each row's gradients over its own scale
    grad_idx = lut_indices(g, 1.0, LUT_N)
    mag = np.clip(np.nan_to_num(np.abs(g)), 0.0, 1.0)
    level = np.round(np.sqrt(mag) * (HALO_LEVELS - 1)).astype(np.intp)
    at = 0
    for (items, b), g_ok in zip(pairs, has):
        k = slice(at, at + items.strip.count)
        at = k.stop
        items.show(b, value_idx[k], grad_idx[k] if g_ok else None, level[k],
                   scales.grad.get(b.name, 1.0))  # fmt: skip


def header_text(head: str, scales: UnitScales, any_units: bool, font: QtGui.QFont,
                width: float) -> str:  # fmt: skip
    """The header with a key to the discs (the neuron view's legend is not shown
    with blocks): in words when it fits the view's width, else the scale only."""
    if not any_units:
        return head
    v = fmt(scales.act or 1.0, 2)
    full = f"{head} · units: colour = value (±{v}), halo = gradient"
    fits = QtGui.QFontMetricsF(font).horizontalAdvance(full) <= width
    return full if fits else f"{head} · unit values ±{v}"
