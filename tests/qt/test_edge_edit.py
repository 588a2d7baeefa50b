"""Click an edge, type its weight (issue 11, as TensorFlow Playground allows):
through the real window, the trainer's parameter is the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from nnviz.core.features import preset_overrides
from nnviz.core.numfmt import fmt
from nnviz.core.scenarios import get_scenario
from nnviz.qt.layout_modes import LayoutModes
from nnviz.qt.weight_edit_dialog import WeightEditDialog
from tests.qt.test_main_window import WAIT_MS, open_app, rebuilt  # noqa: F401

LEFT = QtCore.Qt.MouseButton.LeftButton
CIRCLE = get_scenario("circle")


def _edge_point(net, layer: int, row: int, col: int, t: float = 0.5) -> QtCore.QPoint:
    """Where edge ``w[layer][row,col]`` is drawn, in the view's viewport pixels."""
    a = net.geoms[layer - 1].out_anchor[col]
    b = net.geoms[layer].in_anchor[row]
    x, y = a + t * (b - a)
    scene = net.vb.mapViewToScene(QtCore.QPointF(float(x), float(y)))
    return net.graphics.mapFromScene(scene)


def _dialog(net) -> WeightEditDialog | None:
    found = [d for d in net.findChildren(WeightEditDialog) if d.isVisible()]
    return found[-1] if found else None


@pytest.mark.parametrize(("layer", "row", "col"), [(3, 0, 1), (2, 1, 3)])
def test_click_an_edge_type_a_value_and_undo(open_app, qtbot, layer, row, col):  # noqa: F811
    w = open_app("circle")
    rebuilt(qtbot, w, lambda: w.controls.playground.preset.click())  # Playground's 2-4-2-1
    net, vp = w.network, w.network.graphics.viewport()
    assert net.snapshot.widths == (2, 4, 2, 1)
    name = net.snapshot.layers[layer - 1].name
    param = lambda: w.session.worker.trainer.model.get_submodule(name).weight.detach()  # noqa: E731
    before = float(param()[row, col])
    assert float(net.snapshot.params[f"{name}.weight"][row, col]) == before
    # hover: the edge names its weight
    pos = _edge_point(net, layer, row, col)
    qtbot.mouseMove(vp, pos)
    want = f"w[{layer}][{row},{col}] = {fmt(before)} — click to edit"
    qtbot.waitUntil(lambda: net.graphics.toolTip() == want, timeout=WAIT_MS)
    # click: the editor opens on that weight; the inspector pins the neuron it feeds
    qtbot.mouseClick(vp, LEFT, pos=pos)
    qtbot.waitUntil(lambda: _dialog(net) is not None, timeout=WAIT_MS)
    dialog = _dialog(net)
    assert (dialog.layer_name, dialog.row, dialog.source.currentData()) == (name, row, col)
    assert dialog.value.value() == pytest.approx(before, abs=1e-4)
    assert net.inspector.isVisible() and (net.inspector.info.layer, net.inspector.info.index) == (
        layer,
        row,
    )
    # neither the dialog nor the inspector covers the clicked edge; the dialog is on screen
    clicked = vp.mapToGlobal(pos)
    assert not dialog.frameGeometry().contains(clicked)
    assert dialog.screen().availableGeometry().contains(dialog.frameGeometry())
    assert not net.inspector.geometry().contains(vp.mapTo(net, pos))
    # type a value (the old one is selected: typing replaces it) and accept
    qtbot.keyClicks(dialog.value, "-1.75")
    assert dialog.value.value() == -1.75
    dialog.findChild(QtWidgets.QDialogButtonBox).button(QtWidgets.QDialogButtonBox.Ok).click()
    qtbot.waitUntil(lambda: float(param()[row, col]) == -1.75, timeout=WAIT_MS)  # the model
    others = param().clone()
    others[row, col] = before
    qtbot.waitUntil(
        lambda: float(net.snapshot.params[f"{name}.weight"][row, col]) == -1.75, timeout=WAIT_MS
    )  # the view shows it at once ...
    assert np.count_nonzero(net.snapshot.params[f"{name}.weight"] != others.numpy()) == 1
    rows = {j: v for j, v, _ in net.inspector.info.incoming}
    assert rows[col] == -1.75  # ... and the inspector
    # hovering it again names the new value (the scene's move signal: the mouse is
    # already there, and a move to where it is sends nothing)
    net.graphics.scene().sigMouseMoved.emit(net.graphics.mapToScene(pos))
    assert net.graphics.toolTip() == f"w[{layer}][{row},{col}] = {fmt(-1.75)} — click to edit"
    # Ctrl+Z restores the old value, in the model, the view and the inspector
    qtbot.waitUntil(lambda: w.actions_.undo.isEnabled(), timeout=WAIT_MS)
    w.raise_()
    w.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: float(param()[row, col]) == before, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: float(net.snapshot.params[f"{name}.weight"][row, col]) == before, timeout=WAIT_MS
    )
    if net.inspector.isVisible():
        assert dict((j, v) for j, v, _ in net.inspector.info.incoming)[col] == pytest.approx(before)


def test_a_click_beside_the_edges_opens_nothing(open_app, qtbot):  # noqa: F811
    w = open_app("circle")
    net, vp = w.network, w.network.graphics.viewport()
    qtbot.mouseClick(vp, LEFT, pos=QtCore.QPoint(3, 3))  # a corner: no edge, no neuron
    qtbot.wait(50)
    assert _dialog(net) is None and net.graphics.toolTip() == ""


def test_on_a_projector_nothing_covers_the_clicked_edge_while_typing(
    open_app,  # noqa: F811
    qtbot,
    monkeypatch,
):
    """Presenter mode at 1280×720: the inspector is too big to sit beside the edge,
    so it steps aside while the dialog is open and comes back with the new value."""
    monkeypatch.setattr(LayoutModes, "screen_height", lambda self: 720)
    w = open_app("circle", overrides={"seed": 0, **preset_overrides("playground", CIRCLE)})
    monkeypatch.setattr(w, "showFullScreen", lambda: w.resize(1280, 720))
    w.actions_.presenter.setChecked(True)
    w.resize(1280, 720)
    net, vp = w.network, w.network.graphics.viewport()
    qtbot.waitUntil(lambda: net.graphics.height() < 400, timeout=WAIT_MS)
    qtbot.wait(200)  # the view refits to its new size
    pos = _edge_point(net, 2, 1, 3)
    qtbot.mouseClick(vp, LEFT, pos=pos)
    qtbot.waitUntil(lambda: _dialog(net) is not None, timeout=WAIT_MS)
    dialog = _dialog(net)
    assert not dialog.frameGeometry().contains(vp.mapToGlobal(pos))
    ins = net.inspector
    assert not (ins.isVisible() and ins.geometry().contains(vp.mapTo(net, pos)))
    assert net._selected == (2, 1)  # still pinned
    dialog.value.setValue(1.25)
    dialog.accept()
    qtbot.waitUntil(lambda: ins.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: dict((j, v) for j, v, _ in ins.info.incoming).get(3) == 1.25, timeout=WAIT_MS
    )
