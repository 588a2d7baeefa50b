"""The network view draws what the snapshot (torch's numbers) says."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from nnviz.core.history import History
from nnviz.core.network_geometry import EDGE_BUDGET
from nnviz.qt.network_view import NetworkView
from nnviz.qt.theme import DARK, LIGHT
from nnviz.qt.view_protocol import View
from tests.qt import snapshots as S


def _side(colour: QtGui.QColor, theme) -> str:
    """Which end of a diverging map a colour is nearer: "positive" or "negative"."""
    c = np.array(colour.getRgb()[:3], float)
    pos = np.array(QtGui.QColor(theme.positive).getRgb()[:3], float)
    neg = np.array(QtGui.QColor(theme.negative).getRgb()[:3], float)
    return "positive" if np.linalg.norm(c - pos) < np.linalg.norm(c - neg) else "negative"


@pytest.fixture(scope="module")
def snap_2d():
    # a row whose first hidden layer has neurons of both signs
    for row in range(16):
        snap, data = S.snapshot_2d((2, 4, 4, 1), "tanh", seed=0, row=row)
        a = snap.layers[0].a
        if (a > 0.05).any() and (a < -0.05).any():
            return snap, data
    raise AssertionError("no row with both signs")


@pytest.fixture(scope="module")
def snap_mnist():
    return S.snapshot_mnist(hidden=(512, 512), steps=5)


@pytest.fixture
def view(shown):
    return shown(NetworkView(history=History()), 1200, 700)


def _step(snap, step: int):
    return dataclasses.replace(snap, step=step)


def test_neurons_are_coloured_by_their_activation(view, snap_2d):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    a = snap.layers[0].a
    i_pos, i_neg = int(np.argmax(a)), int(np.argmin(a))
    assert a[i_pos] > 0 > a[i_neg]
    assert _side(view.neuron_colour(1, i_pos), DARK) == "positive"
    assert _side(view.neuron_colour(1, i_neg), DARK) == "negative"
    # the same holds in the light theme
    view.set_theme(LIGHT)
    assert _side(view.neuron_colour(1, i_pos), LIGHT) == "positive"
    assert _side(view.neuron_colour(1, i_neg), LIGHT) == "negative"
    # presenter mode (bigger text and lines) draws the same colours
    view.set_theme(DARK.scaled(1.5))
    assert _side(view.neuron_colour(1, i_pos), DARK) == "positive"
    view.grab()
    # a 2-4-4-1 net draws all of its 8 + 16 + 4 edges
    assert view.edge_count() == 2 * 4 + 4 * 4 + 4


def test_forward_phase_lights_layers_in_order(view, snap_2d):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    view.set_phase("forward", 0.5)
    lit = [view.layer_opacity(i) for i in range(4)]
    assert lit[0] == lit[1] == 1.0
    assert lit[3] < 0.5 and lit[3] < lit[2] <= lit[1]
    assert view.edge_count() < 2 * 4 + 4 * 4 + 4  # no edges into unreached layers
    assert all(view.gradient_mark(i, 0) is None for i in range(4))  # no gradients yet
    view.set_phase("forward", 1.0)
    assert [view.layer_opacity(i) for i in range(4)] == [1.0] * 4


def test_backward_phase_shows_gradients_output_first(view, snap_2d):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    view.set_phase("backward", 0.0)
    assert view.gradient_mark(3, 0) is not None
    assert view.gradient_mark(1, 0) is None
    view.set_phase("backward", 1.0)
    dz = snap.layers[0].dz
    marks = [view.gradient_mark(1, i) for i in range(4)]
    assert all(m is not None for m in marks)
    # the halo's colour gives the sign of dL/dz, its size grows with |dL/dz|
    backward = np.array(QtGui.QColor(DARK.backward).getRgb()[:3], float)
    for i, (colour, _size) in enumerate(marks):
        c = np.array(colour.getRgb()[:3], float)
        near_backward = np.linalg.norm(c - backward) < np.linalg.norm(
            np.array(QtGui.QColor("#5ec26a").getRgb()[:3], float) - c
        )
        if abs(dz[i]) > 0.2 * np.abs(dz).max():
            assert near_backward == (dz[i] > 0)
    sizes = [m[1] for m in marks]
    assert int(np.argmax(sizes)) == int(np.argmax(np.abs(dz)))
    assert min(sizes) >= 1.0


def _widget_point(view: NetworkView, layer: int, index: int) -> QtCore.QPoint:
    scene = view.vb.mapViewToScene(view.neuron_pos(layer, index))
    return view.graphics.mapFromScene(scene)


def test_hover_and_click_show_the_snapshots_numbers(view, snap_2d, qtbot):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    layer, index = 2, 1
    vp = view.graphics.viewport()
    qtbot.mouseMove(vp, _widget_point(view, layer, index))
    qtbot.waitUntil(lambda: view.inspector.isVisible(), timeout=2000)
    info = view.inspector.info
    ls = snap.layers[layer - 1]
    assert (info.layer, info.index) == (layer, index)
    assert info.a == pytest.approx(float(ls.a[index]))
    assert info.z == pytest.approx(float(ls.z[index]))
    assert info.bias == pytest.approx(float(ls.bias[index]))
    assert info.dz == pytest.approx(float(ls.dz[index]))
    for j, w, contrib in info.incoming:
        assert w == pytest.approx(float(ls.weight[index, j]))
        assert contrib == pytest.approx(float(ls.weight[index, j] * snap.layers[0].a[j]), rel=1e-5)
    assert len(info.incoming) == ls.weight.shape[1]
    with qtbot.waitSignal(view.neuronSelected, timeout=2000) as sig:
        qtbot.mouseClick(vp, QtCore.Qt.MouseButton.LeftButton, pos=_widget_point(view, 3, 0))
    assert sig.args == [3, 0]
    assert view.inspector.info.a == pytest.approx(float(snap.output[0]))
    # the sparkline shows the history the session keeps, up to the step shown
    for step in range(5):
        view.history.snapshots.add(_step(snap, step))
    view.set_snapshot(_step(snap, 4))
    assert view.inspector.info.history.size == 5
    assert list(view.inspector.info.history_steps) == [0, 1, 2, 3, 4]
    assert np.allclose(view.inspector.info.history, snap.output[0])
    view.set_snapshot(_step(snap, 2))  # time travel: nothing after the step shown
    assert list(view.inspector.info.history_steps) == [0, 1, 2]
    assert "3 kept snapshots" in view.inspector.spark_label.text()


def test_the_view_keeps_no_history_of_its_own(shown, snap_2d):
    view = shown(NetworkView(), 900, 600)  # standalone: a private, empty history
    assert isinstance(view, View)
    snap, _ = snap_2d
    for step in range(6):
        view.set_snapshot(_step(snap, step))
    info = view.select_neuron(1, 0)
    assert info.history.size == 0  # what is shown is not kept: the session keeps history
    view.history.snapshots.add(_step(snap, 5))
    view.refresh()
    info = view.neuron_info(1, 0)
    assert info.history.size == 1 and info.history[0] == pytest.approx(float(snap.layers[0].a[0]))
    # reset (a new model) forgets the selection and the weight windows
    view.open_weight_matrix(1)
    view.reset()
    assert not view.weight_windows and not view.inspector.isVisible()
    view.set_snapshot(snap)
    assert view.edge_count() == 2 * 4 + 4 * 4 + 4


def test_mnist_sized_snapshot_uses_level_of_detail(view, snap_mnist):
    snap = snap_mnist
    view.set_snapshot(snap)
    g0 = view.geoms[0]
    assert g0.kind == "grid" and (g0.rows, g0.cols) == (28, 28)
    img = view._items[0].image.image
    assert img.shape[:2] == (28, 28)
    # the brightest pixel is drawn on the positive side, a blank one neutral
    bright = int(np.argmax(snap.input))
    assert _side(view.neuron_colour(0, bright), DARK) == "positive"
    blank = view.neuron_colour(0, 0)
    neutral = np.array(QtGui.QColor(DARK.neutral).getRgb()[:3])
    assert np.abs(np.array(blank.getRgb()[:3]) - neutral).max() <= 3
    assert view.geoms[1].kind == "grid" and view.geoms[2].kind == "grid"
    assert view.geoms[3].kind == "dots"
    assert 0 < view.edge_count() <= EDGE_BUDGET
    # grid neurons stay addressable
    for layer, index in ((0, 14 * 28 + 14), (1, 300), (2, 511), (3, 9)):
        p = view.neuron_pos(layer, index)
        assert view.neuron_at(p.x(), p.y()) == (layer, index)
    info = view.select_neuron(1, 300)
    ls = snap.layers[0]
    assert info.a == pytest.approx(float(ls.a[300]))
    assert info.fan_in == 784 and len(info.incoming) == 8
    # its incoming weights are also shown as a 28×28 picture (what it looks for)
    assert np.array_equal(info.weight_image, ls.weight[300].reshape(28, 28))
    assert view.inspector.picture.isVisible()
    top = np.sort(np.abs(ls.weight[300]))[::-1][:8]
    assert np.allclose(sorted((abs(w) for _, w, _ in info.incoming), reverse=True), top)
    # gradients of hidden grid neurons are shown beside them
    assert view.gradient_mark(1, 300) is not None


class _Click:
    def __init__(self, scene_pos, double=False, button=QtCore.Qt.MouseButton.LeftButton):
        self._pos, self._double, self._button = scene_pos, double, button

    def scenePos(self):
        return self._pos

    def screenPos(self):
        return self._pos

    def double(self):
        return self._double

    def button(self):
        return self._button

    def accept(self):
        pass


@pytest.mark.allow_leaks("the view keeps its heatmap windows to reopen them (view.weight_windows)")
def test_weight_matrix_heatmap_on_double_click(view, snap_2d, qtbot):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    # QTest's synthetic double clicks do not reach pyqtgraph's scene reliably;
    # hand the scene's click signal a double click as pyqtgraph makes it.
    view._on_mouse_clicked(_Click(view.vb.mapViewToScene(view.neuron_pos(2, 0)), double=True))
    assert 2 in view.weight_windows
    win = view.weight_windows[2]
    assert win.isVisible()
    assert np.array_equal(win.image.image, snap.layers[1].weight)
    # it follows the newest snapshot while open
    changed = dataclasses.replace(
        snap,
        layers=(
            snap.layers[0],
            dataclasses.replace(snap.layers[1], weight=-snap.layers[1].weight),
            snap.layers[2],
        ),
    )
    view.set_snapshot(changed)
    assert np.array_equal(win.image.image, -snap.layers[1].weight)
    win.close()


def test_layer_selection_and_highlight(view, snap_2d, qtbot):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    view.highlight_layer(2)
    assert view._sel_rect.isVisible()
    r = view._sel_rect.rect()
    p = view.neuron_pos(2, 0)
    assert r.contains(p)
    view.highlight_layer(-1)
    assert not view._sel_rect.isVisible()
    with qtbot.waitSignal(view.layerSelected, timeout=2000) as sig:
        qtbot.mouseClick(
            view.graphics.viewport(),
            QtCore.Qt.MouseButton.LeftButton,
            pos=_widget_point(view, 1, 0),
        )
    assert sig.args == [1]


def test_architecture_change_rebuilds_cleanly(view, snap_2d):
    snap, _ = snap_2d
    view.set_snapshot(snap)
    n_items = len(view.vb.addedItems)
    other, _ = S.snapshot_2d((2, 8, 1), "relu", seed=1)
    view.set_snapshot(other)
    assert [g.width for g in view.geoms] == [2, 8, 1]
    assert view.edge_count() == 2 * 8 + 8
    big = S.snapshot_mnist(hidden=(96,), n=8)
    view.set_snapshot(big)
    assert [g.kind for g in view.geoms] == ["grid", "grid", "dots"]
    view.set_snapshot(snap)
    assert len(view.vb.addedItems) == n_items  # nothing left over from the others
    assert _side(view.neuron_colour(1, int(np.argmax(snap.layers[0].a))), DARK) == "positive"


def test_hundreds_of_colour_updates_do_not_crash(view, snap_2d, qtbot):
    """Per-point brushes every frame (the PySide6 6.12 none_dealloc crash path)."""
    snap, _ = snap_2d
    rng = np.random.default_rng(0)
    for frame in range(300):
        layers = tuple(
            dataclasses.replace(
                ls,
                a=rng.uniform(-1, 1, ls.width).astype(np.float32),
                dz=rng.normal(0, 1e-3, ls.width).astype(np.float32),
            )
            for ls in snap.layers
        )
        view.set_snapshot(dataclasses.replace(snap, layers=layers, step=frame))
        if frame % 3 == 0:
            view.set_phase(("forward", "backward", None)[frame % 9 // 3], (frame % 30) / 29)
        qtbot.wait(0) if frame % 10 else view.grab()
    assert view.snapshot.step == 299
