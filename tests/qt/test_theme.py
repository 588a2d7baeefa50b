"""Themes: Qt palette, pyqtgraph config, presenter font scaling, brush palettes,
and the shortcut overlay that lecture mode relies on."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.qt.help_overlay import HelpOverlay
from nnviz.qt.theme import (
    DARK,
    LIGHT,
    THEMES,
    apply_theme,
    brush_palette,
    colour_map,
    diverging_lut,
    edge_pens,
    get_theme,
    gradient_lut,
    lut_indices,
    qcolor,
)


def test_existing_names_still_work():
    assert get_theme("dark") is DARK and THEMES["light"] is LIGHT
    assert LIGHT.scaled(1.6).px(10) == pytest.approx(16)
    assert diverging_lut(DARK).shape == (256, 4)
    np.testing.assert_array_equal(lut_indices([-1, 0, 1], 1.0), [0, 128, 255])


@pytest.mark.parametrize("theme", [DARK, LIGHT])
def test_apply_theme_sets_qt_palette_and_pyqtgraph(app, theme):
    apply_theme(app, theme)
    pal = app.palette()
    assert pal.color(QtGui.QPalette.Window).name() == theme.panel
    assert pal.color(QtGui.QPalette.Base).name() == theme.background
    assert pal.color(QtGui.QPalette.Text).name() == theme.foreground
    assert pal.color(QtGui.QPalette.WindowText).name() == theme.foreground
    assert pg.getConfigOption("background") == theme.background
    assert pg.getConfigOption("foreground") == theme.foreground
    # text stays readable on its background
    fg, bg = pal.color(QtGui.QPalette.Text), pal.color(QtGui.QPalette.Base)
    assert abs(fg.lightness() - bg.lightness()) > 150


def test_presenter_scale_grows_fonts_without_compounding(app):
    apply_theme(app, DARK)
    base = app.font().pointSizeF()
    apply_theme(app, DARK.scaled(1.6))
    assert app.font().pointSizeF() == pytest.approx(1.6 * base, rel=0.02)
    apply_theme(app, LIGHT.scaled(1.6))  # switching theme in presenter mode
    assert app.font().pointSizeF() == pytest.approx(1.6 * base, rel=0.02)
    apply_theme(app, LIGHT)
    assert app.font().pointSizeF() == pytest.approx(base, rel=0.02)


def test_brush_palette_is_prebuilt_and_matches_the_lut():
    pal = brush_palette(DARK, 64)
    lut = diverging_lut(DARK, 64)
    assert len(pal) == 64 and all(isinstance(b, QtGui.QBrush) for b in pal)
    for i in (0, 31, 63):
        assert pal[i].color().getRgb() == tuple(int(v) for v in lut[i])
    idx = lut_indices(np.array([-1.0, 0.2, 1.0]), 1.0, 64)
    picked = pal[idx]  # indexing by LUT rows hands back the same brush objects
    assert all(b is pal[i] for b, i in zip(picked, idx))
    custom = brush_palette(DARK, lut=np.array([[255, 0, 0, 128], [0, 0, 255, 255]], np.uint8))
    assert custom[0].color().getRgb() == (255, 0, 0, 128)
    assert qcolor("#102030", 40).getRgb() == (16, 32, 48, 40)


def _hex_rgb(hex_colour: str) -> list[int]:
    return list(QtGui.QColor(hex_colour).getRgb()[:3])


@pytest.mark.parametrize("theme", [DARK, LIGHT])
def test_colour_tables_come_from_one_pyqtgraph_colour_map_each(theme):
    for kind, lut, ends in (
        ("activation", diverging_lut(theme), (theme.negative, theme.neutral, theme.positive)),
        ("gradient", gradient_lut(theme), (theme.gradient_negative, theme.neutral, theme.backward)),
    ):
        cmap = colour_map(theme, kind)
        assert isinstance(cmap, pg.ColorMap)
        np.testing.assert_array_equal(lut, cmap.getLookupTable(nPts=256, alpha=True))
        # -1, 0 and +1 are the theme's three colours (0 sits between rows 127 and 128)
        assert lut[0, :3].tolist() == _hex_rgb(ends[0])
        assert np.abs(lut[127:129, :3].astype(int) - _hex_rgb(ends[1])).max() <= 1
        assert lut[-1, :3].tolist() == _hex_rgb(ends[2])
        assert not lut.flags.writeable  # shared by every view: nobody may change it
    # built once per set of colours: presenter scaling reuses the same tables and brushes
    assert diverging_lut(theme) is diverging_lut(theme.scaled(1.6))
    assert brush_palette(theme) is brush_palette(theme.scaled(1.6))
    grads = brush_palette(theme, kind="gradient")
    assert grads[-1].color().getRgb()[:3] == tuple(_hex_rgb(theme.backward))
    with pytest.raises(ValueError, match="unknown colour map"):
        colour_map(theme, "rainbow")


def test_edge_pens_fade_weak_edges_toward_the_background():
    pens = edge_pens(DARK)
    assert len(pens) == 8
    assert pens[(True, 3)].color().getRgb()[:3] == tuple(_hex_rgb(DARK.positive))
    assert pens[(False, 3)].color().getRgb()[:3] == tuple(_hex_rgb(DARK.negative))
    widths = [pens[(True, lvl)].widthF() for lvl in range(4)]
    assert widths == sorted(widths) and widths[-1] > widths[0]
    bg = np.array(_hex_rgb(DARK.background))
    dist = [np.abs(np.array(pens[(True, lvl)].color().getRgb()[:3]) - bg).sum() for lvl in range(4)]
    assert dist == sorted(dist)  # stronger edges stand out more
    assert all(p.color().alpha() == 255 for p in pens.values())  # opaque: cheap to stroke
    assert edge_pens(DARK.scaled(2.0))[(True, 3)].widthF() == pytest.approx(2 * widths[-1])


# --- help overlay -------------------------------------------------------------------------------

ROWS = [
    ("Space", "Play / pause training", "Training"),
    ("Right", "Train one batch", "Training"),
    ("Ctrl+O", "Choose a scenario", "File"),
    ("L", "Log scale for the loss axis", "View"),
    ("F11", "Full screen, big fonts", "Lecture"),
    ("? / F1", "Every shortcut", "Help"),
]


@pytest.fixture
def overlay(qtbot):
    win = QtWidgets.QWidget()
    qtbot.addWidget(win)
    win.resize(1200, 700)
    ov = HelpOverlay(ROWS, parent=win)
    win.show()
    qtbot.waitExposed(win)
    ov.show()
    return win, ov


def test_overlay_lists_every_shortcut(overlay):
    win, ov = overlay
    assert ov.geometry() == win.rect()
    keys = [k.text() for k in ov.key_labels]
    assert keys == [r[0] for r in ROWS]
    texts = {w.text() for w in ov.findChildren(QtWidgets.QLabel)}
    assert {r[1] for r in ROWS} <= texts and {r[2] for r in ROWS} <= texts
    assert ov.n_columns > 1  # wide window: groups side by side
    # every label fits inside the card, inside the window
    card = ov.card.geometry()
    assert win.rect().contains(card)
    for lab in ov.findChildren(QtWidgets.QLabel):
        assert lab.width() >= lab.sizeHint().width() - 1, lab.text()


def test_overlay_uses_fewer_columns_when_narrow(qtbot, overlay):
    win, ov = overlay
    wide = ov.n_columns
    ov.set_theme(LIGHT.scaled(1.6))  # presenter mode
    win.resize(900, 900)
    ov.setGeometry(win.rect())
    qtbot.wait(10)
    assert ov.n_columns < wide
    assert ov.card.sizeHint().width() <= win.width()


@pytest.mark.parametrize("key", [QtCore.Qt.Key_Escape, QtCore.Qt.Key_Question])
def test_escape_or_question_mark_closes(qtbot, overlay, key):
    _, ov = overlay
    assert ov.isVisible()
    with qtbot.waitSignal(ov.closed):
        qtbot.keyClick(ov, key)
    assert not ov.isVisible()
