"""Hand-editing a weight through the inspector (issue 11): click a neuron (the
inspector pins it), right-click → "Edit a weight of neuron i…", type a value,
Enter. The inspector and the network view then show the new weight, and every
layer's z and a are torch's forward with that weight; Ctrl+Z brings back the
old forward. Torch, on a copy of the model, is the oracle."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PySide6 import QtCore, QtWidgets

from nnviz.core.features import preset_overrides
from nnviz.core.numfmt import fmt, fmt_signed
from nnviz.core.scenarios import get_scenario
from nnviz.qt.weight_edit_dialog import WeightEditDialog
from tests.qt.test_main_window import WAIT_MS, open_app  # noqa: F401

Button = QtCore.Qt.MouseButton
LAYER, ROW, COL, VALUE = 2, 1, 3, -2.5  # hidden 2, neuron 1: its weight from a[3]


def _forward(model: torch.nn.Module, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(z, a) of each Linear and the activation after it, for one input row."""
    assert isinstance(model, torch.nn.Sequential)
    h, out, z = torch.tensor(np.array(x), dtype=torch.float32)[None], [], None
    with torch.no_grad():
        for m in model:
            h = m(h)
            if isinstance(m, torch.nn.Linear):
                z = h
            else:
                out.append((z[0].numpy(), h[0].numpy()))
    return out


def _assert_shows_forward(snap, want) -> None:
    assert len(snap.layers) == len(want)
    for ls, (z, a) in zip(snap.layers, want):
        np.testing.assert_allclose(ls.z, z, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ls.a, a, rtol=1e-5, atol=1e-6)


def _viewport_point(net, layer: int, index: int) -> QtCore.QPoint:
    scene = net.vb.mapViewToScene(net.neuron_pos(layer, index))
    return net.graphics.mapFromScene(scene)


def _visible(net, kind):
    found = [c for c in net.findChildren(kind) if c.isVisible()]
    return found[-1] if found else None


def test_a_weight_typed_through_the_inspector_is_torchs_forward(open_app, qtbot):  # noqa: F811
    fields = preset_overrides("playground", get_scenario("xor"))
    w = open_app("xor", overrides={"seed": 0, **fields})  # Playground's 2-4-2-1 tanh
    net, vp = w.network, w.network.graphics.viewport()
    assert net.snapshot.widths == (2, 4, 2, 1)
    name = net.snapshot.layers[LAYER - 1].name
    trainer = w.session.worker.trainer
    before = float(trainer.model.get_submodule(name).weight.detach()[ROW, COL])
    old_forward = _forward(trainer.model, net.snapshot.input)
    _assert_shows_forward(net.snapshot, old_forward)  # the view is torch's to start with
    oracle = copy.deepcopy(trainer.model)  # the model as it will be after the edit
    with torch.no_grad():
        oracle.get_submodule(name).weight[ROW, COL] = VALUE
    # click the neuron: the inspector pins it and lists its incoming weights
    at = _viewport_point(net, LAYER, ROW)
    qtbot.mouseClick(vp, Button.LeftButton, pos=at)
    qtbot.waitUntil(lambda: net.inspector.isVisible() and net.inspector.pinned, timeout=WAIT_MS)
    assert (net.inspector.info.layer, net.inspector.info.index) == (LAYER, ROW)
    rows = {j: v for j, v, _ in net.inspector.info.incoming}
    assert rows[COL] == pytest.approx(before)
    # right-click → "Edit a weight of neuron 1…" (the neuron the inspector shows)
    at = _viewport_point(net, LAYER, ROW)  # the view may have refitted since
    qtbot.mouseClick(vp, Button.RightButton, pos=at)
    qtbot.waitUntil(lambda: _visible(net, QtWidgets.QMenu) is not None, timeout=WAIT_MS)
    menu = _visible(net, QtWidgets.QMenu)
    (edit,) = [a for a in menu.actions() if a.text() == f"Edit a weight of neuron {ROW}…"]
    menu.close()
    edit.trigger()
    dialog = _visible(net, WeightEditDialog)
    assert dialog is not None and (dialog.layer_name, dialog.row) == (name, ROW)
    assert not dialog.frameGeometry().contains(vp.mapToGlobal(at))  # the neuron stays seen
    dialog.source.setCurrentIndex(dialog.source.findData(COL))
    assert dialog.value.value() == pytest.approx(before, abs=1e-4)
    dialog.value.selectAll()
    qtbot.keyClicks(dialog.value, str(VALUE))
    qtbot.keyClick(dialog.value, QtCore.Qt.Key.Key_Return)  # Enter accepts
    qtbot.waitUntil(
        lambda: float(net.snapshot.params[f"{name}.weight"][ROW, COL]) == VALUE, timeout=WAIT_MS
    )
    # the model holds it, and only it changed
    got = {k: v.detach().numpy() for k, v in trainer.model.state_dict().items()}
    for k, v in oracle.state_dict().items():
        np.testing.assert_array_equal(got[k], v.numpy())
    # the network view: the weight, and every layer's z and a as torch computes them
    snap = net.snapshot
    _assert_shows_forward(snap, _forward(oracle, snap.input))
    net.graphics.scene().sigMouseMoved.emit(
        net.graphics.mapToScene(_edge_viewport_point(net, LAYER, ROW, COL))
    )
    assert net.graphics.toolTip() == f"w[{LAYER}][{ROW},{COL}] = {fmt(VALUE)} — click to edit"
    # the inspector: the new weight, and the neuron's new z and a, as text on screen
    info = net.inspector.info
    assert net.inspector.isVisible() and (info.layer, info.index) == (LAYER, ROW)
    assert {j: v for j, v, _ in info.incoming}[COL] == VALUE
    z, a = _forward(oracle, snap.input)[LAYER - 1]
    assert (info.z, info.a) == pytest.approx((float(z[ROW]), float(a[ROW])), rel=1e-5)
    text = net.inspector.values.text()
    assert fmt_signed(info.z) in text and fmt_signed(info.a) in text
    assert float(z[ROW]) != pytest.approx(float(old_forward[LAYER - 1][0][ROW]))  # it moved
    # Ctrl+Z: the old weight and the old forward
    qtbot.waitUntil(lambda: w.actions_.undo.isEnabled(), timeout=WAIT_MS)
    w.raise_()
    w.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: float(net.snapshot.params[f"{name}.weight"][ROW, COL]) == before, timeout=WAIT_MS
    )
    undone = w.session.worker.trainer.model
    assert float(undone.get_submodule(name).weight.detach()[ROW, COL]) == before
    _assert_shows_forward(net.snapshot, _forward(undone, net.snapshot.input))


def _edge_viewport_point(net, layer: int, row: int, col: int) -> QtCore.QPointF:
    a = net.geoms[layer - 1].out_anchor[col]
    b = net.geoms[layer].in_anchor[row]
    x, y = (a + b) / 2
    return net.graphics.mapFromScene(net.vb.mapViewToScene(QtCore.QPointF(float(x), float(y))))
