"""Where the block view puts things (no Qt, no torch): rows, columns, mosaics.

Every visible module call is a row, in forward order, indented by how deep
it runs; rows flow down a column and on into the next, like a newspaper.
A ``Conv2d`` row is taller: under its header, the chosen sample's feature
maps and their gradients as mosaics of per-channel tiles (and the kernels
when asked for). A narrow ``Linear`` or activation row has a strip of its
units as discs (:class:`UnitStrip`), words on its left. All sizes are in pixels at presenter scale ``s``; one view
unit is one pixel when the drawing fits the widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnviz.core.block_snapshot import BlockSnapshot

ROW_H = 58.0  # a row's header
INDENT = 16.0  # per depth
COL_W = 600.0  # a column's width at least
GAP = 10.0  # between rows and columns
HEADER_H = 34.0  # the step / loss line on top
HIST_W, HIST_H = 150.0, 26.0
TITLE_W = 250.0
MOSAIC_MAX_H = 170.0  # a feature-map mosaic's height at most
KERNEL_MAX_H = 260.0
TILE_MAX = 64.0  # a tile's side at most
KERNEL_ROWS, KERNEL_COLS = 16, 8  # kernels shown: out × in channels at most
UNIT_PITCH_MIN, UNIT_PITCH_MAX = 16.0, 28.0  # between neighbouring units' centres
UNIT_CAPTION_W = 150.0  # the words left of the discs
UNIT_LINE_H = 19.0  # a line of those words


@dataclass(frozen=True)
class Mosaic:
    """Tiles of (C, H, W) maps in a grid: ``cols`` per line, ``cell`` px per map pixel."""

    rect: tuple[float, float, float, float]  # x, y, w, h
    channels: int
    cols: int
    rows: int
    h: int
    w: int
    cell: float

    def tile_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(channel, row, column) of the map pixel under a point, or None."""
        x0, y0, _, _ = self.rect
        step_x, step_y = (self.w + 1) * self.cell, (self.h + 1) * self.cell
        tx, ty = int((x - x0) // step_x), int((y - y0) // step_y)
        if not (0 <= tx < self.cols and 0 <= ty < self.rows):
            return None
        ch = ty * self.cols + tx
        i = int((y - y0 - ty * step_y) // self.cell)
        j = int((x - x0 - tx * step_x) // self.cell)
        if ch >= self.channels or not (0 <= i < self.h and 0 <= j < self.w):
            return None
        return ch, i, j


@dataclass(frozen=True)
class UnitStrip:
    """A layer's units as discs, ``per_line`` to a line, ``pitch`` px apart;
    the words about them start at ``caption``."""

    rect: tuple[float, float, float, float]  # the discs' cells: x, y, w, h
    caption: tuple[float, float]
    count: int
    per_line: int
    pitch: float
    halo: float = 0.55  # the largest halo grows a disc's diameter by this share

    @property
    def radius(self) -> float:
        return 0.3 * self.pitch  # 2r(1 + halo) < pitch: neighbouring halos never touch

    def centres(self) -> np.ndarray:
        line, col = np.divmod(np.arange(self.count), self.per_line)
        x0, y0 = self.rect[:2]
        return np.column_stack([x0 + (col + 0.5) * self.pitch, y0 + (line + 0.5) * self.pitch])

    def unit_at(self, x: float, y: float) -> int | None:
        """The unit whose cell is under a point, or None."""
        x0, y0 = self.rect[:2]
        if x < x0 or y < y0:
            return None
        col, line = int((x - x0) // self.pitch), int((y - y0) // self.pitch)
        k = line * self.per_line + col
        return k if col < self.per_line and k < self.count else None


def unit_strip(n: int, x: float, y: float, w: float, s: float) -> tuple[UnitStrip, float]:
    """Discs for ``n`` units in ``w`` px from (x, y), as few lines as keep them
    ``UNIT_PITCH_MIN`` apart, and the strip's height."""
    least = math.ceil(UNIT_PITCH_MIN * s)  # whole pixels: each disc's picture is crisp
    disc_w = max(w - UNIT_CAPTION_W * s, least)
    lines = math.ceil(n / max(1, int(disc_w // least)))
    per_line = math.ceil(n / lines)
    pitch = float(math.floor(min(UNIT_PITCH_MAX * s, disc_w / per_line)))
    words_h = 2 * UNIT_LINE_H * s
    h = max(lines * pitch, words_h)
    dx, dy = x + UNIT_CAPTION_W * s, y + (h - lines * pitch) / 2
    strip = UnitStrip((dx, dy, per_line * pitch, lines * pitch), (x, y + (h - words_h) / 2), n,
                      per_line, pitch)  # fmt: skip
    return strip, h


@dataclass(frozen=True)
class RowGeom:
    index: int  # into the snapshot's blocks
    rect: tuple[float, float, float, float]
    indent: float
    act_hist: tuple[float, float, float, float]
    grad_hist: tuple[float, float, float, float]
    maps: Mosaic | None = None
    map_grads: Mosaic | None = None
    kernels: Mosaic | None = None
    units: UnitStrip | None = None


def mosaic_shape(channels: int, h: int, w: int, max_w: float, max_h: float) -> tuple[int, float]:
    """(tiles per line, px per map pixel) that show every channel biggest."""
    best = (max(channels, 1), 1.0)
    best_cell = 0.0
    for cols in range(1, max(channels, 1) + 1):
        rows = math.ceil(channels / cols)
        cell = min(max_w / (cols * (w + 1)), max_h / (rows * (h + 1)), TILE_MAX / max(h, w))
        if cell > best_cell + 1e-9:
            best, best_cell = (cols, cell), cell
    return best[0], max(best[1], 0.5)


def _mosaic(x: float, y: float, arr_shape, max_w: float, max_h: float, cols=None) -> Mosaic:
    c, h, w = arr_shape
    if cols is None:
        cols, cell = mosaic_shape(c, h, w, max_w, max_h)
    else:
        rows = math.ceil(c / cols)
        cell = max(min(max_w / (cols * (w + 1)), max_h / (rows * (h + 1)), 12.0), 0.5)
    rows = math.ceil(c / cols)
    size = (cols * (w + 1) - 1) * cell, (rows * (h + 1) - 1) * cell
    return Mosaic((x, y, *size), c, cols, rows, h, w, cell)


def grid_cols(kernels: np.ndarray) -> int:
    """Kernel tiles per line: the input channels shown."""
    return int(min(kernels.shape[1], KERNEL_COLS))


def kernel_caption(b: BlockSnapshot) -> str:
    if b.kernels is None or b.kernels.shape[1] == 1:
        return "kernels, one per output channel"
    return "kernels: output channels down, input channels across"


def kernel_grid(kernels: np.ndarray) -> np.ndarray:
    """The kernels shown, (out·in, kh, kw): out channels down, in channels across."""
    k = kernels[:KERNEL_ROWS, :KERNEL_COLS]
    return k.reshape(-1, *k.shape[2:])


def row_geoms(
    blocks: tuple[BlockSnapshot, ...],
    visible: list[int],
    size: tuple[float, float],
    s: float = 1.0,
    kernels: frozenset[str] = frozenset(),
) -> list[RowGeom]:
    """Rows for the visible blocks (indices into ``blocks``), flowed into as
    many columns as fit the widget's width; when they do not fit its height
    the columns grow taller (the view scrolls) rather than text shrinking."""
    width, height = size
    ncols = max(1, int((width - GAP * s) // (COL_W * s)))
    col_w = max(COL_W * s, (width - GAP * s) / ncols - GAP * s)
    limit = height
    for _ in range(40):
        rows, used = _flow(blocks, visible, col_w, limit, s, kernels)
        if used <= ncols:
            return rows
        limit *= 1.12
    return rows


def _flow(blocks, visible, col_w, limit, s, kernels) -> tuple[list[RowGeom], int]:
    top = HEADER_H * s
    x, y, used = GAP * s, top, 1
    out: list[RowGeom] = []
    for i in visible:
        show_k = blocks[i].name in kernels
        row = _row(blocks[i], i, x, y, col_w, s, show_k)
        if y + row.rect[3] > limit - GAP * s and y > top:  # on into the next column
            x, y, used = x + col_w + GAP * s, top, used + 1
            row = _row(blocks[i], i, x, y, col_w, s, show_k)
        out.append(row)
        y += row.rect[3] + GAP * s * 0.6
    return out, used


def _row(b: BlockSnapshot, i: int, x, y, col_w, s, show_kernels: bool) -> RowGeom:
    indent = INDENT * s * b.depth
    inner_w = col_w - indent
    h = ROW_H * s
    maps = grads = kern = units = None
    mx = x + indent + 10 * s
    label_h = 20 * s
    if b.units is not None and b.units.ndim == 1 and b.units.size:
        units, uh = unit_strip(int(b.units.size), mx, y + h - 4 * s, inner_w - 20 * s, s)
        h += uh + 4 * s
    if b.maps is not None and b.maps.ndim == 3:
        half = (inner_w - 30 * s) / 2
        maps = _mosaic(mx, y + h + label_h, b.maps.shape, half, MOSAIC_MAX_H * s)
        grads = _mosaic(mx + half + 10 * s, y + h + label_h, b.maps.shape, half, MOSAIC_MAX_H * s)
        h += label_h + maps.rect[3] + 10 * s
        if show_kernels and b.kernels is not None and b.kernels.ndim == 4:
            grid = kernel_grid(b.kernels)
            kern = _mosaic(mx, y + h + label_h, grid.shape, inner_w - 20 * s, KERNEL_MAX_H * s,
                           cols=None if b.kernels.shape[1] == 1 else grid_cols(b.kernels))  # fmt: skip
            h += label_h + kern.rect[3] + 10 * s
    rect = (x + indent, y, col_w - indent, h)
    hist_w = min(HIST_W * s, (col_w - indent - 250 * s) / 2 - 14 * s)
    hx = x + col_w - 2 * (hist_w + 14 * s)
    hy = y + ROW_H * s - HIST_H * s - 9 * s
    act = (hx, hy, hist_w, HIST_H * s)
    grad = (hx + hist_w + 14 * s, hy, hist_w, HIST_H * s)
    return RowGeom(i, rect, indent, act, grad, maps, grads, kern, units)


def bounds(rows: list[RowGeom], size: tuple[float, float]) -> tuple[float, float, float, float]:
    """The drawing's extent (x0, y0, w, h): at least the widget, more when it overflows."""
    w, h = size
    for r in rows:
        x0, y0, rw, rh = r.rect
        w, h = max(w, x0 + rw + GAP), max(h, y0 + rh + GAP)
    return 0.0, 0.0, w, h


def mosaic_image(maps: np.ndarray, m: Mosaic) -> tuple[np.ndarray, np.ndarray]:
    """The maps laid out as the mosaic's pixels, (H, W) values, and a mask of
    where tiles are (the gaps between them stay see-through)."""
    c, h, w = maps.shape
    H, W = m.rows * (h + 1) - 1, m.cols * (w + 1) - 1
    img = np.zeros((H, W), dtype=np.float64)
    mask = np.zeros((H, W), dtype=bool)
    for ch in range(min(c, m.channels)):
        r, q = divmod(ch, m.cols)
        img[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = maps[ch]
        mask[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = True
    return img, mask


def visible_rows(blocks: tuple[BlockSnapshot, ...], folded: set[str]) -> list[int]:
    """Indices of the blocks shown: those with no folded container above them."""
    hidden_under: set[str] = set()
    out = []
    for i, b in enumerate(blocks):
        if b.parent in hidden_under or b.parent in folded:
            hidden_under.add(b.name)
            continue
        out.append(i)
    return out


def default_folds(blocks: tuple[BlockSnapshot, ...], size, s: float) -> set[str]:
    """Containers folded at first: the deepest ones, until the rows fit the
    widget; then those of the last depth folded unfold again, in forward
    order, while the rows still fit."""
    folded: set[str] = set()
    containers = [b for b in blocks if b.container]
    last: list[str] = []
    for depth in sorted({b.depth for b in containers}, reverse=True):
        if _fits(blocks, folded, size, s):
            break
        last = [b.name for b in containers if b.depth == depth]
        folded |= set(last)
    else:
        if not _fits(blocks, folded, size, s):
            return folded  # folded to the top and still too tall: the view scrolls
    for name in last:
        if not _fits(blocks, folded - {name}, size, s):
            break
        folded.discard(name)
    return folded


def _fits(blocks, folded: set[str], size, s: float) -> bool:
    """Whether the rows shown with these folds fit the widget unscrolled (one flow)."""
    width, height = size
    ncols = max(1, int((width - GAP * s) // (COL_W * s)))
    col_w = max(COL_W * s, (width - GAP * s) / ncols - GAP * s)
    rows, used = _flow(blocks, visible_rows(blocks, folded), col_w, height, s, frozenset())
    _, _, w, h = bounds(rows, size)
    return used <= ncols and w <= width + 1 and h <= height + 1
