"""The network view's legend and weight-matrix window: what they say and show."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui

from nnviz.core.history import History
from nnviz.core.numfmt import fmt
from nnviz.qt.network_legend import NetworkLegend
from nnviz.qt.network_view import NetworkView
from nnviz.qt.theme import DARK, LIGHT, diverging_lut, gradient_lut
from nnviz.qt.weight_matrix_window import WeightMatrixWindow
from tests.qt import snapshots as S


@pytest.fixture(scope="module")
def snap():
    return S.snapshot_2d((2, 4, 4, 1), "tanh", seed=0, row=3)[0]


def _near(c: QtGui.QColor, hex_colour: str, tol: int = 40) -> bool:
    ref = QtGui.QColor(hex_colour)
    return sum(abs(a - b) for a, b in zip(c.getRgb()[:3], ref.getRgb()[:3])) <= tol


def _bar_ends(legend: NetworkLegend, bar) -> tuple[QtGui.QColor, QtGui.QColor]:
    """The colours drawn at the two ends of a colour bar, read off the screen."""
    img = legend.grab().toImage()
    vb = bar.item.vb
    rect = vb.mapRectToScene(vb.boundingRect())
    y = rect.center().y()
    pts = [QtCore.QPointF(rect.left() + 3, y), QtCore.QPointF(rect.right() - 3, y)]
    ends = [legend.bars.mapTo(legend, legend.bars.mapFromScene(p)) for p in pts]
    ratio = img.devicePixelRatio()
    return tuple(img.pixelColor(int(p.x() * ratio), int(p.y() * ratio)) for p in ends)


def test_the_legend_tells_the_scales_the_view_draws_with(shown, snap):
    view = shown(NetworkView(history=History()), 1200, 700)
    view.set_snapshot(snap)
    said = view.legend.texts()
    v = view.scales.act
    assert said["activation"] == f"activation a: −{fmt(v, 2)} 0 +{fmt(v, 2)}"
    assert said["gradient"] == "gradient dL/dz: −max 0 +max"  # each layer: under its column
    assert view.captions.notes[1].toPlainText().endswith(f"≤ {fmt(view.scales.grad[1], 3)}")
    assert "w > 0" in said["key"] and "w < 0" in said["key"] and "width ∝ |w|" in said["key"]
    lo, hi = float(snap.input.min()), float(snap.input.max())
    # issue 11: step and loss are the status line's alone (one source of truth)
    assert said["caption"] == (
        f"sample #{snap.sample_index} · input x in [{fmt(lo, 2)}, {fmt(hi, 2)}]"
    )
    # the bars are pyqtgraph ColorBarItems over the theme's own maps, at the view's scale
    bar = view.legend.activation.item
    assert isinstance(bar, pg.ColorBarItem)
    np.testing.assert_array_equal(
        bar.colorMap().getLookupTable(nPts=256, alpha=True), diverging_lut(DARK)
    )
    grad = view.legend.gradient.item.colorMap().getLookupTable(nPts=256, alpha=True)
    np.testing.assert_array_equal(grad, gradient_lut(DARK))
    # and they are drawn: negative at the left end, positive at the right
    left, right = _bar_ends(view.legend, view.legend.activation)
    assert _near(left, DARK.negative) and _near(right, DARK.positive)
    left, right = _bar_ends(view.legend, view.legend.gradient)
    assert _near(left, DARK.gradient_negative) and _near(right, DARK.backward)


def test_the_legend_follows_theme_and_presenter_scale(shown, snap):
    view = shown(NetworkView(history=History()), 1200, 700)
    view.set_snapshot(snap)
    h = view.legend.height()
    view.set_theme(LIGHT.scaled(1.5))
    assert view.legend.height() == pytest.approx(1.5 * h, abs=2)
    left, right = _bar_ends(view.legend, view.legend.activation)
    assert _near(left, LIGHT.negative) and _near(right, LIGHT.positive)
    assert set(view.legend.texts()) >= {"activation", "gradient", "key"}


@pytest.mark.parametrize("width", [1600, 960, 700, 420])
def test_parts_that_do_not_fit_are_left_out_never_overlapped(shown, width):
    legend = shown(NetworkLegend(theme=DARK), width, 60)
    legend.set_values(2.5, (0.0, 1.0), "step 12,345 · loss 0.01234\nsample #17", True)
    parts = [legend.bars, legend.key, legend.caption]
    shown_parts = [p for p in parts if p.isVisible()]
    assert legend.bars in shown_parts  # the colour scales always
    for p in shown_parts:
        assert legend.rect().contains(p.geometry())
        assert p.geometry().width() >= p.sizeHint().width() or p is legend.bars
    for a, b in zip(shown_parts, shown_parts[1:]):
        assert a.geometry().right() < b.geometry().left()
    if width >= 960:
        assert legend.caption.isVisible() and legend.key.isVisible()
    # no gradients (a forward-only snapshot): the gradient bar goes
    legend.set_values(2.5, None, "step 1", False)
    assert "gradient" not in legend.texts() and "activation" in legend.texts()


def test_weight_matrix_window_shows_the_layer_on_the_theme_map(qtbot, snap):
    win = WeightMatrixWindow(2, DARK)
    qtbot.addWidget(win)
    assert win.show_snapshot(snap)
    w = snap.layers[1].weight
    np.testing.assert_array_equal(win.image.image, w)
    vmax = float(np.abs(w).max())
    assert win.bar.levels() == pytest.approx((-vmax, vmax))  # symmetric: white is w = 0
    assert win.windowTitle() == "hidden 2 weights W (4 × 4)"
    assert f"max |w| = {fmt(vmax, 3)}" in win.plot.titleLabel.text
    win.set_theme(LIGHT)
    lut = win.bar.colorMap().getLookupTable(nPts=256, alpha=True)
    np.testing.assert_array_equal(lut, diverging_lut(LIGHT))
    assert not WeightMatrixWindow(9, DARK).show_snapshot(snap)  # no such layer


def test_a_changing_scale_is_shown_at_once_and_its_last_value_in_the_end(shown, qtbot):
    legend = shown(NetworkLegend(theme=DARK), 1200, 60)
    for v in (2.0, 3.0, 4.0, 5.0):  # frames faster than the scale is re-lettered
        legend.set_values(v, None, "step 1", True)
    assert legend.texts()["activation"] == "activation a: −2 0 +2"  # the first, at once
    qtbot.waitUntil(lambda: legend.texts()["activation"] == "activation a: −5 0 +5", timeout=2000)
    legend.set_values(6.0, None, "step 2", True)
    legend.set_values(5.0, None, "step 3", True)  # back to what is shown: nothing pending
    qtbot.wait(600)
    assert legend.texts()["activation"] == "activation a: −5 0 +5"
