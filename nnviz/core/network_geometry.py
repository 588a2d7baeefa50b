"""Where the network view draws each neuron, and which edges it draws (Qt-free).

Layers are columns, input on the left, in view units: the drawing is ``H``
high and y grows downwards. A layer of up to ``DOT_MAX`` neurons is a column
of discs; a bigger one is a grid of cells (an input shaped like a picture,
28×28, is drawn as that picture), with its gradient grid beside it.

Edges of small layer pairs are all drawn; for big ones only the strongest
contributions |w·a|, within ``EDGE_BUDGET`` edges in all (DESIGN.md §4:
2,000 segments cost about 18 ms a frame). Each edge falls in one of
``EDGE_LEVELS`` width bins per sign, so the view strokes one path per bin.

Layers are numbered as drawn: 0 is the input, ``i ≥ 1`` is ``snap.layers[i-1]``.
Everything here is numpy arithmetic (and the text written beside the
columns), testable without a display.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nnviz.core.numfmt import fmt, fmt_signed
from nnviz.core.snapshot import Snapshot

DOT_MAX = 64  # wider layers are drawn as grids
EDGE_BUDGET = 1000  # edges drawn in all, strongest contributions first
EDGE_PAIR_MAX = 300  # and at most this many between two layers
EDGE_LEVELS = 4  # width bins per sign
MAX_SOURCES = 64  # candidate source neurons per layer pair when picking the top-k edges
H = 100.0  # height of the drawing, in view units
RANK_LEVELS = np.array([0.45, 0.8, 0.94])  # rank cut-offs of the width bins (top-k pairs)

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayerGeom:
    """Where one layer's neurons are, in view units (y grows downwards)."""

    kind: str  # "dots" or "grid"
    width: int
    x: float
    pos: np.ndarray  # (width, 2) neuron centres
    in_anchor: np.ndarray  # (width, 2) where incoming edges end
    out_anchor: np.ndarray  # (width, 2) where outgoing edges start
    bounds: Rect  # x0, y0, x1, y1 of the whole column
    r: float = 0.0  # dots: disc radius
    halo: float = 0.55  # dots: the largest halo grows the disc's diameter by this share
    rows: int = 0
    cols: int = 0
    cell: float = 0.0
    act_rect: Rect = (0, 0, 0, 0)  # grid: x, y, w, h of the activation grid
    grad_rect: Rect | None = None  # grid: the gradient grid beside it (not for the input)


def picture_shape(input_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The input's (rows, columns) when it is a picture ((1, 28, 28) is one too)."""
    dims = tuple(int(d) for d in input_shape if d != 1)
    return (dims[0], dims[1]) if len(dims) == 2 else None


def layout(
    widths: Sequence[int], input_shape: tuple[int, ...], aspect: float = 1.8
) -> list[LayerGeom]:
    """Column geometry for every drawn layer (input first), spread over a
    drawing ``aspect`` times as wide as it is high."""
    n_layers = len(widths)
    picture = picture_shape(input_shape)
    total = H * min(max(aspect, 0.8), 2.6)
    gap = min(90.0, max(22.0, total / max(n_layers - 1, 1)))
    hmax = 0.9 * H
    geoms: list[LayerGeom] = []
    for li, n in enumerate(widths):
        x = li * gap
        is_input = li == 0
        as_picture = is_input and picture is not None and picture[0] * picture[1] == n
        if n <= DOT_MAX and not as_picture:
            s = min(hmax / n, 22.0)
            r = min(0.36 * s, 4.0)
            ys = H / 2 + (np.arange(n) - (n - 1) / 2) * s
            pos = np.stack([np.full(n, x), ys], 1)
            pad = r * 1.9
            bounds = (x - pad, ys[0] - pad, x + pad, ys[-1] + pad)
            halo = min(0.55, 0.97 * s / (2 * r) - 1.0)  # neighbouring halos never touch
            geoms.append(LayerGeom("dots", n, x, pos, pos, pos, bounds, r=r, halo=halo))
            continue
        block_w = (0.6 if is_input else 0.27) * gap
        if as_picture:
            rows, cols = picture
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
        span = gw if is_input else 2 * gw + inner
        left, top = x - span / 2, H / 2 - gh / 2
        idx = np.arange(n)
        cy = top + (idx // cols + 0.5) * cell
        pos = np.stack([left + (idx % cols + 0.5) * cell, cy], 1)
        geoms.append(
            LayerGeom(
                "grid",
                n,
                x,
                pos,
                np.stack([np.full(n, left), cy], 1),
                np.stack([np.full(n, left + span), cy], 1),
                (left - 1, top - 1, left + span + 1, top + gh + 1),
                rows=rows,
                cols=cols,
                cell=cell,
                act_rect=(left, top, gw, gh),
                grad_rect=None if is_input else (left + gw + inner, top, gw, gh),
            )
        )
    return geoms


# --- hit-testing ------------------------------------------------------------------------------


def neuron_at(geoms: Sequence[LayerGeom], x: float, y: float) -> tuple[int, int] | None:
    """The (layer, index) of the neuron under a point in view units: a disc
    (or a little around it), or a cell of a layer's activation or gradient grid."""
    for li, g in enumerate(geoms):
        x0, y0, x1, y1 = g.bounds
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            continue
        if g.kind == "dots":
            d = np.hypot(g.pos[:, 0] - x, g.pos[:, 1] - y)
            i = int(np.argmin(d))
            return (li, i) if d[i] <= g.r * 1.6 else None
        for rect in (g.act_rect, g.grad_rect):
            if rect is None:
                continue
            rx, ry, rw, rh = rect
            if rw and rx <= x < rx + rw and ry <= y < ry + rh:
                i = int((y - ry) // g.cell) * g.cols + int((x - rx) // g.cell)
                return (li, i) if 0 <= i < g.width else None
        return None
    return None


def layer_at(geoms: Sequence[LayerGeom], x: float, y: float) -> int | None:
    """The layer whose column (with a little room around it) holds a point."""
    for li, g in enumerate(geoms):
        x0, y0, x1, y1 = g.bounds
        if x0 - 4 <= x <= x1 + 4 and y0 - 8 <= y <= y1 + 8:
            return li
    return None


# --- colour scales and edges ------------------------------------------------------------------


def robust_max(parts: Sequence[np.ndarray], q: float) -> float:
    """The ``q``-th percentile of |values| over ``parts`` (the maximum for 20
    values or fewer), ignoring NaN/Inf; 1 when there is nothing to measure."""
    v = np.abs(np.concatenate([np.ravel(p) for p in parts])) if len(parts) else np.zeros(1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 1.0
    m = _percentile(v, q) if v.size > 20 else float(v.max())
    return m if m > 0 else (float(v.max()) or 1.0)


def _percentile(v: np.ndarray, q: float) -> float:
    """``np.percentile(v, q)`` (linear, the same bits) by a partial sort: 8x faster."""
    idx = q / 100.0 * (v.size - 1)
    lo = int(math.floor(idx))
    hi = min(lo + 1, v.size - 1)
    part = np.partition(v, [lo, hi] if hi != lo else lo)
    a, b, t = part[lo], part[hi], idx - lo
    d = b - a
    return float(b - d * (1 - t) if t >= 0.5 else a + d * t)


def top_contributions(w: np.ndarray, prev: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(source, destination) indices of the k largest |w_ij · a_j|.

    Exact when at most ``MAX_SOURCES`` sources are non-zero; otherwise among
    the ``MAX_SOURCES`` sources with the largest bound max_i |w_ij| · |a_j|."""
    active = np.flatnonzero(prev)
    if active.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if active.size > MAX_SOURCES:
        # max_i |w_ij| over whole rows, contiguous: cheaper than gathering the active columns
        col_max = np.maximum(w.max(0), -w.min(0))
        bound = col_max[active] * np.abs(prev[active])
        keep = np.argpartition(bound, active.size - MAX_SOURCES)[active.size - MAX_SOURCES :]
        active = active[keep]
    sub = np.take(w, active, axis=1) * prev[active]
    np.abs(sub, out=sub)
    k = min(k, sub.size)
    flat = np.argpartition(sub.ravel(), sub.size - k)[sub.size - k :]
    dst, col = np.divmod(flat, active.size)
    return active[col], dst


@functools.lru_cache(maxsize=16)
def _rank_levels(n: int) -> np.ndarray:
    """The width bin of each of ``n`` edges sorted weakest first (by rank)."""
    rank = np.linspace(0, 1, n, endpoint=False)
    out = np.searchsorted(RANK_LEVELS, rank, side="right")
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class EdgeSelection:
    """The edges drawn between layer ``i-1`` and layer ``i``."""

    src: np.ndarray  # source neuron indices (layer i-1)
    dst: np.ndarray  # destination neuron indices (layer i)
    positive: np.ndarray  # w >= 0
    level: np.ndarray  # width bin 0..EDGE_LEVELS-1

    def __len__(self) -> int:
        return int(self.src.size)


def edge_quotas(sizes: Sequence[int], budget: int = EDGE_BUDGET, pair_max: int = EDGE_PAIR_MAX):
    """Edges allowed per layer pair: the budget shared out smallest pair
    first, so a small pair keeps all its edges and the big ones share the rest."""
    quota = [0] * len(sizes)
    left, remaining = budget, len(sizes)
    for k in np.argsort(sizes, kind="stable"):
        quota[k] = int(min(sizes[k], left // remaining, pair_max))
        left -= quota[k]
        remaining -= 1
    return quota


def select_edges(
    weights: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    budget: int = EDGE_BUDGET,
    pair_max: int = EDGE_PAIR_MAX,
) -> list[EdgeSelection]:
    """Per layer pair (weight matrix (out, in) and the activations it reads):
    every edge of a pair within its quota, widths by |w| against the pair's
    largest; else the strongest |w·a|, widths by rank among them."""
    out = []
    for w, prev, k in zip(
        weights, inputs, edge_quotas([w.size for w in weights], budget, pair_max)
    ):
        if k >= w.size:
            dst, src = np.divmod(np.arange(w.size), w.shape[1])
            vals = w.ravel()
            wmax = float(np.max(np.abs(vals))) if vals.size else 1.0
            rel = np.abs(vals) / (wmax if wmax > 0 else 1.0)
            level = np.minimum((rel * EDGE_LEVELS).astype(int), EDGE_LEVELS - 1)
        else:
            src, dst = top_contributions(w, prev, k)
            vals = w[dst, src]
            # The strongest edges of a big layer all have large |w|: rank them
            # so that the widths still tell the strongest from the rest.
            level = np.empty(vals.size, dtype=np.intp)
            level[np.argsort(np.abs(vals))] = _rank_levels(vals.size)
        out.append(EdgeSelection(src, dst, vals >= 0, level))
    return out


def edge_segments(
    geoms: Sequence[LayerGeom], selection: Sequence[EdgeSelection], lit: np.ndarray
) -> dict[tuple[bool, int], np.ndarray]:
    """Per (positive, level) bin, the segments to stroke as one path: a (2M, 2)
    array of start, end, start, end… (``connect='pairs'``). Edges into a
    layer that is less than half lit (the forward sweep) are left out."""
    starts, ends, keys = [], [], []
    for li, sel in enumerate(selection, start=1):
        if li >= len(geoms) or lit[li] < 0.5 or len(sel) == 0:
            continue
        starts.append(geoms[li - 1].out_anchor[sel.src])
        ends.append(geoms[li].in_anchor[sel.dst])
        keys.append(sel.positive * EDGE_LEVELS + sel.level)
    bins = [(pos, lvl) for pos in (False, True) for lvl in range(EDGE_LEVELS)]
    if not keys:
        return {k: np.zeros((0, 2)) for k in bins}
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")  # by bin, then as drawn: layer, edge
    xy = np.empty((key.size, 2, 2))
    xy[:, 0], xy[:, 1] = np.concatenate(starts), np.concatenate(ends)
    xy = xy[order].reshape(-1, 2)
    cut = 2 * np.searchsorted(key[order], np.arange(2 * EDGE_LEVELS + 1))
    return {(pos, lvl): xy[cut[i] : cut[i + 1]] for i, (pos, lvl) in enumerate(bins)}


# --- the forward and backward sweeps ----------------------------------------------------------


def sweep_front(phase: str | None, progress: float, n_layers: int) -> float | None:
    """Where the wave is, in layers: input→output as a forward sweep goes 0→1,
    output→input for a backward one; None when no sweep is shown."""
    if phase == "forward":
        return progress * (n_layers - 1)
    if phase == "backward":
        return (1.0 - progress) * (n_layers - 1)
    return None


def layer_light(phase: str | None, progress: float, n_layers: int):
    """Per layer, how lit its activations are and how visible its gradients (0..1)."""
    idx = np.arange(n_layers, dtype=float)
    front = sweep_front(phase, progress, n_layers)
    if phase == "forward":
        return np.clip(front - idx + 1.0, 0.0, 1.0), np.zeros(n_layers)
    if phase == "backward":
        return np.ones(n_layers), np.clip(idx - front + 1.0, 0.0, 1.0)
    return np.ones(n_layers), np.ones(n_layers)


# --- fitting the drawing into the widget ------------------------------------------------------


def drawing_aspect(size_px: tuple[float, float], margins_px: Rect) -> float:
    """Width over height of the room left for the drawing in a widget of
    ``size_px`` after ``margins_px`` (left, right, top, bottom) for the text."""
    w, h = size_px
    left, right, top, bottom = margins_px
    if w < 50 or h < 50:
        return 1.8
    return (w - left - right) / max(h - top - bottom, 10.0)


def fit_view(
    geoms: Sequence[LayerGeom], size_px: tuple[float, float], margins_px: Rect
) -> tuple[Rect, float]:
    """The view rectangle (x, y, w, h in view units) that shows every column
    with ``margins_px`` (left, right, top, bottom) of room for the text around
    it, and the pixels per view unit."""
    x0 = min(g.bounds[0] for g in geoms)
    x1 = max(g.bounds[2] for g in geoms)
    # at least most of the drawing's height and width, so that a 2-1 net is not blown up
    y0 = min(min(g.bounds[1] for g in geoms), 0.12 * H)
    y1 = max(max(g.bounds[3] for g in geoms), 0.88 * H)
    x0, x1 = min(x0, (x0 + x1) / 2 - 0.6 * H), max(x1, (x0 + x1) / 2 + 0.6 * H)
    left, right, top, bottom = margins_px
    w_px, h_px = max(size_px[0], 50.0), max(size_px[1], 50.0)
    ppu = max(min((w_px - left - right) / (x1 - x0), (h_px - top - bottom) / (y1 - y0)), 0.2)
    cx = (x0 - left / ppu + x1 + right / ppu) / 2
    cy = (y0 - top / ppu + y1 + bottom / ppu) / 2
    return (cx - w_px / ppu / 2, cy - h_px / ppu / 2, w_px / ppu, h_px / ppu), ppu


def drawing_bounds(geoms: Sequence[LayerGeom]) -> Rect:
    """x, y, w, h of the rectangle around every column (where all edges lie)."""
    x0, y0 = min(g.bounds[0] for g in geoms), min(g.bounds[1] for g in geoms)
    x1, y1 = max(g.bounds[2] for g in geoms), max(g.bounds[3] for g in geoms)
    return (x0, y0, x1 - x0, y1 - y0)


def min_column_gap(geoms: Sequence[LayerGeom]) -> float:
    """The smallest distance between neighbouring columns (view units)."""
    if len(geoms) < 2:
        return math.inf
    return min(b.x - a.x for a, b in zip(geoms[:-1], geoms[1:]))


# --- colour scales and the text beside the columns ----------------------------------------------


@dataclass
class ColourScales:
    """The values that map to the ends of the colour maps, frame to frame.

    One scale for every hidden and output neuron (robust to outliers); it
    follows a rise at once and a fall slowly, so colours don't flicker.
    Gradients differ by orders of magnitude between layers, so each layer
    has its own (``grad[i]``, printed under its column). The input has its
    own too: max |x| of the sample shown.
    """

    act: float = 0.0
    grad: np.ndarray = field(default_factory=lambda: np.zeros(0))
    input: float = 1.0

    def update(self, snap: Snapshot, decay: float = 0.9) -> None:
        self.act = max(robust_max([ls.a for ls in snap.layers], 99.0), decay * self.act)
        prev = self.grad
        gv = np.zeros(len(snap.layers) + 1)
        for li, ls in enumerate(snap.layers, start=1):
            if ls.dz is not None:
                g = robust_max([ls.dz], 98.0)
                gv[li] = max(g, decay * prev[li]) if prev.size == gv.size else g
        self.grad = gv
        self.input = float(np.max(np.abs(snap.input))) if snap.input.size else 1.0


def layer_title(layer: int, n_layers: int) -> str:
    """``input``, ``hidden 2`` or ``output`` for drawn layer ``layer`` of ``n_layers``."""
    if layer == 0:
        return "input"
    return "output" if layer == n_layers - 1 else f"hidden {layer}"


def column_heading(snap: Snapshot, layer: int) -> tuple[str, str]:
    """The title above a column and the line under it (size, activation)."""
    title = layer_title(layer, len(snap.layers) + 1)
    if layer == 0:
        pic = picture_shape(snap.input_shape)
        return title, "×".join(map(str, pic)) if pic else f"{snap.input.size}"
    ls = snap.layers[layer - 1]
    return title, f"{ls.width} · {ls.activation}"


def column_note(snap: Snapshot, layer: int, grad_vmax: float) -> str:
    """The note under a column: a picture input's range; a layer's dead
    share (relu) and its gradient scale."""
    if layer == 0:
        if picture_shape(snap.input_shape) is None or not snap.input.size:
            return ""
        return f"x in [{fmt(float(snap.input.min()), 2)}, {fmt(float(snap.input.max()), 2)}]"
    ls = snap.layers[layer - 1]
    parts = [f"{ls.dead_fraction:.0%} inactive"] if ls.activation == "relu" else []
    if ls.dz is not None:
        parts.append(f"|dL/dz| ≤ {fmt(grad_vmax, 3)}")
    return "\n".join(parts)


def value_labels(snap: Snapshot, layer: int) -> tuple[list[str], int]:
    """The value beside each neuron of the input or the output, and which
    output is the model's answer (-1: none marked)."""
    if layer == 0:
        sub = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
        return [
            f"x{str(i + 1).translate(sub)} = {fmt_signed(v, 3)}" for i, v in enumerate(snap.input)
        ], -1
    a, tgt = snap.layers[-1].a, snap.target
    if a.size == 1:
        return [f"{fmt(a[0], 3)}" + (f"   target {fmt(tgt[0], 3)}" if tgt.size else "")], -1
    t_idx = int(tgt[0]) if tgt.size == 1 else -1
    texts = [
        f"{i}: {fmt_signed(v, 3)}" + ("  ← target" if i == t_idx else "") for i, v in enumerate(a)
    ]
    return texts, int(np.argmax(a))
