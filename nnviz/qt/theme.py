"""Colours, colour maps and presenter scaling shared by every view.

Positive and negative values are orange and blue (a diverging map that
survives the common colour-vision deficiencies); the neutral middle follows
the background so that zero looks like "nothing". Gradients get a second
diverging map, green ↔ the backward-pass colour, so that they never read as
activations.

The colour maps are pyqtgraph ``ColorMap``s; their lookup tables and the
brush palettes made from them are built once per set of colours and shared
(read-only) by every view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    panel: str
    foreground: str
    muted: str
    grid: str
    accent: str  # selection and highlights
    forward: str  # forward-pass glow
    backward: str  # backward-pass glow (gradients)
    train: str  # train curves
    val: str  # validation curves
    negative: str
    neutral: str
    positive: str
    gradient_negative: str  # dL/dz < 0 (dL/dz > 0 is ``backward``)
    scale: float = 1.0  # presenter mode: fonts, markers and lines grow by this

    def scaled(self, scale: float) -> Theme:
        return replace(self, scale=scale)

    def px(self, size: float) -> float:
        """A size in pixels scaled for the current mode."""
        return size * self.scale

    def pt(self, size: float) -> float:
        """A font's point size for the current mode: never below :data:`MIN_PT`
        (before scaling), so the smallest text meets the mode's minimum."""
        return max(float(size), MIN_PT) * self.scale


DARK = Theme(
    name="dark",
    background="#15171c",
    panel="#1e2128",
    foreground="#e6e6e6",
    muted="#b4b9c2",  # text colours: ≥ 7:1 on background and panel (issue 11)
    grid="#3a3f4a",
    accent="#ffd23f",
    forward="#5ad1ff",
    backward="#ff8ae3",
    train="#f59b42",
    val="#56b4e9",
    negative="#3b82f6",
    neutral="#2a2d35",
    positive="#f28c28",
    gradient_negative="#5ec26a",
)

LIGHT = Theme(  # high contrast, for projectors
    name="light",
    background="#ffffff",
    panel="#f2f2f2",
    foreground="#000000",
    muted="#4a4a4a",
    grid="#bbbbbb",
    accent="#8a006b",
    forward="#004f7c",
    backward="#8f0053",
    train="#d55e00",
    val="#0072b2",
    negative="#1f5fbf",
    neutral="#eeeeee",
    positive="#e06000",
    gradient_negative="#1b7a2e",
)

THEMES: dict[str, Theme] = {t.name: t for t in (DARK, LIGHT)}


def get_theme(name: str) -> Theme:
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; choose one of {', '.join(THEMES)}") from None


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


COLOUR_MAPS = ("activation", "gradient")  # what ``colour_map`` knows


def _stops(theme: Theme, kind: str) -> tuple[str, str, str]:
    if kind == "activation":
        return (theme.negative, theme.neutral, theme.positive)
    if kind == "gradient":
        return (theme.gradient_negative, theme.neutral, theme.backward)
    raise ValueError(f"unknown colour map {kind!r}; choose one of {', '.join(COLOUR_MAPS)}")


@lru_cache(maxsize=16)
def _colour_map(stops: tuple[str, str, str]) -> pg.ColorMap:
    return pg.ColorMap([0.0, 0.5, 1.0], list(stops))


def colour_map(theme: Theme, kind: str = "activation") -> pg.ColorMap:
    """The theme's diverging map, -1 → 0 → +1 over 0 → 0.5 → 1: ``activation``
    (negative → neutral → positive) or ``gradient`` (gradient_negative →
    neutral → backward). One object per set of colours: don't modify it."""
    return _colour_map(_stops(theme, kind))


@lru_cache(maxsize=32)
def _lut(stops: tuple[str, str, str], n: int) -> np.ndarray:
    lut = _colour_map(stops).getLookupTable(0.0, 1.0, nPts=n, alpha=True)
    lut.flags.writeable = False
    return lut


def diverging_lut(theme: Theme, n: int = 256) -> np.ndarray:
    """(n, 4) uint8 lookup table: negative → neutral → positive (read-only, shared)."""
    return _lut(_stops(theme, "activation"), n)


def gradient_lut(theme: Theme, n: int = 256) -> np.ndarray:
    """(n, 4) uint8 lookup table for dL/dz: green → neutral → backward (read-only, shared)."""
    return _lut(_stops(theme, "gradient"), n)


def lut_indices(values: np.ndarray, vmax: float, n: int = 256) -> np.ndarray:
    """Map values in [-vmax, vmax] to LUT rows 0..n-1 (clipped)."""
    vmax = float(vmax) if vmax and np.isfinite(vmax) and vmax > 0 else 1.0
    v = np.nan_to_num(np.asarray(values, dtype=np.float64) / vmax, nan=0.0)
    return np.clip(np.round((v + 1.0) * 0.5 * (n - 1)), 0, n - 1).astype(np.intp)


def qcolor(hex_colour: str, alpha: int = 255) -> QtGui.QColor:
    """A theme colour as a QColor, optionally see-through (alpha 0..255)."""
    c = QtGui.QColor(hex_colour)
    c.setAlpha(int(alpha))
    return c


def _brushes(rows: np.ndarray) -> np.ndarray:
    pal = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        r, g, b = (int(v) for v in row[:3])
        a = int(row[3]) if len(row) > 3 else 255
        pal[i] = QtGui.QBrush(QtGui.QColor(r, g, b, a))
    pal.flags.writeable = False
    return pal


@lru_cache(maxsize=16)
def _palette(stops: tuple[str, str, str], n: int) -> np.ndarray:
    return _brushes(_lut(stops, n))


def brush_palette(
    theme: Theme, n: int = 256, lut: np.ndarray | None = None, kind: str = "activation"
) -> np.ndarray:
    """One prebuilt QBrush per row of the ``kind`` colour map's LUT (or of ``lut``).

    Returned as a read-only 1-D object array so a frame colours points with
    ``item.setBrush(palette[lut_indices(values, vmax)])``: the same brush
    objects every frame, never fresh per-point QBrushes (those crashed
    PySide6 6.12 with pyqtgraph 0.14, see DESIGN.md section 4). Palettes of
    the theme's maps are built once and shared.
    """
    if lut is not None:
        return _brushes(np.asarray(lut))
    return _palette(_stops(theme, kind), n)


EDGE_SHADES = (0.38, 0.62, 0.85, 1.0)  # per width bin: how far from the background to the colour
EDGE_WIDTHS = (1.0, 1.0, 2.0, 3.0)


@lru_cache(maxsize=8)
def edge_pens(theme: Theme) -> dict[tuple[bool, int], QtGui.QPen]:
    """The network's edge pens, by (w ≥ 0, width bin): wider and nearer the
    sign's colour for stronger edges. Opaque colours faded toward the
    background instead of alpha: wide translucent pens cost ~4x as much to
    stroke (measured, 1,000 edges)."""
    bg = _rgb(theme.background)
    pens = {}
    for pos in (False, True):
        fg = _rgb(theme.positive if pos else theme.negative)
        for lvl, (shade, width) in enumerate(zip(EDGE_SHADES, EDGE_WIDTHS)):
            r, g, b = np.round(bg + (fg - bg) * shade).astype(int)
            pens[(pos, lvl)] = pg.mkPen(QtGui.QColor(r, g, b), width=width * theme.scale)
    return pens


# --- legibility (issue 11) ---------------------------------------------------------------------
#: The smallest point size any text that carries information is given (before
#: presenter scaling): 9 pt at 96 dpi is 12 px, a 14 px line.
MIN_PT = 9.0
#: The smallest line height (px) presenter mode promises on a screen of this
#: height: 18 px at 720 px tall (a projector), 24 px at 1080; one pixel spare.
PRESENTER_LINE_PX_PER_SCREEN_PX = 24.0 / 1080.0
PRESENTER_MIN_LINE_PX = 18.0


def presenter_line_px(screen_height: int) -> float:
    """The smallest line height (px) presenter mode must reach on a screen this tall."""
    return max(PRESENTER_MIN_LINE_PX, screen_height * PRESENTER_LINE_PX_PER_SCREEN_PX)


def presenter_scale(screen_height: int, font: QtGui.QFont | None = None) -> float:
    """The presenter mode's scale for a screen ``screen_height`` px tall: the
    smallest text (:data:`MIN_PT`) gets :func:`presenter_line_px` plus one pixel.
    Measured with ``font``'s family (the app font by default)."""
    f = QtGui.QFont(font if font is not None else QtGui.QGuiApplication.font())
    f.setPointSizeF(MIN_PT)
    line = QtGui.QFontMetricsF(f).height() or MIN_PT * 96 / 72 * 1.16
    return max(1.0, (presenter_line_px(screen_height) + 1.0) / line)


_BASE_FONT_PT = "nnvizBaseFontPt"  # the app font size before any presenter scaling


def font_pt(theme: Theme, size: float) -> float:
    """A point size scaled for presenter mode (never below the mode's minimum)."""
    return theme.pt(size)


def apply_theme(app: QtWidgets.QApplication, theme: Theme) -> None:
    """Colour every Qt widget and new pyqtgraph plot, and scale the app font.

    Safe to call again (switching theme or presenter mode): the font is always
    scaled from the size the app had before the first call.
    """
    P = QtGui.QPalette
    pal = P()
    bg, panel, fg, muted = (
        qcolor(c) for c in (theme.background, theme.panel, theme.foreground, theme.muted)
    )
    accent = qcolor(theme.accent)
    on_accent = qcolor("#000000" if accent.lightness() > 140 else "#ffffff")
    for role, colour in (
        (P.Window, panel),
        (P.WindowText, fg),
        (P.Base, bg),
        (P.AlternateBase, panel),
        (P.Text, fg),
        (P.Button, panel),
        (P.ButtonText, fg),
        (P.BrightText, accent),
        (P.ToolTipBase, panel),
        (P.ToolTipText, fg),
        (P.PlaceholderText, muted),
        (P.Highlight, accent),
        (P.HighlightedText, on_accent),
        (P.Link, qcolor(theme.forward)),
        (P.Mid, qcolor(theme.grid)),
        (P.Midlight, qcolor(theme.grid)),
        (P.Dark, bg),
        (P.Shadow, bg),
        (P.Light, qcolor(theme.grid)),
    ):
        pal.setColor(role, colour)
    for role in (P.WindowText, P.Text, P.ButtonText):
        pal.setColor(P.Disabled, role, muted)
    app.setPalette(pal)
    QtWidgets.QToolTip.setPalette(pal)

    base = app.property(_BASE_FONT_PT)
    if base is None:
        base = app.font().pointSizeF()
        base = max(base if base > 0 else 10.0, MIN_PT)
        app.setProperty(_BASE_FONT_PT, base)
    font = app.font()
    font.setPointSizeF(float(base) * theme.scale)
    app.setFont(font)

    pg.setConfigOptions(background=theme.background, foreground=theme.foreground, antialias=True)
