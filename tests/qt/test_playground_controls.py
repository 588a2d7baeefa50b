"""Playground's controls in the window (issue 11): shown for the 2-D sets only;
a change rebuilds with the new setting; the preset; a weight edited by hand."""

from __future__ import annotations

import pytest
import torch
from PySide6 import QtCore, QtWidgets

from tests.qt.test_main_window import WAIT_MS, choose, open_app, rebuilt  # noqa: F401


def test_shown_for_2d_sets_only(open_app, qtbot):  # noqa: F811
    w = open_app("circle")
    box = w.controls.playground
    assert box.isVisibleTo(w)
    assert box.noise.value() == 10 and box.ratio.value() == 50  # the scenario's own
    rebuilt(qtbot, w, lambda: choose(w.controls.scenario, "scratch-mlp"))
    assert not box.isVisibleTo(w)
    rebuilt(qtbot, w, lambda: choose(w.controls.scenario, "xor"))
    assert box.isVisibleTo(w)
    for b in [box.noise, box.ratio, box.reg, box.rate, box.preset, *box.features.values()]:
        assert b.toolTip()


def test_changes_rebuild_with_the_new_setting(open_app, qtbot):  # noqa: F811
    w = open_app("circle")
    box = w.controls.playground
    trainer = lambda: w.session.worker.trainer  # noqa: E731

    def slide(slider, value):
        slider.setValue(value)
        slider.sliderReleased.emit()  # what letting go of the handle does

    rebuilt(qtbot, w, lambda: slide(box.ratio, 70))
    assert w.session.config.test_ratio == pytest.approx(0.3)
    assert len(trainer().dataset.x_val) == 120 and box.ratio_label.text() == "70 % train, 30 % test"
    rebuilt(qtbot, w, lambda: slide(box.noise, 0))
    assert w.session.config.noise == 0
    rebuilt(qtbot, w, lambda: box.features["x1sq"].setChecked(True))
    assert w.session.config.features == ("x1sq",)
    assert w.network.snapshot.widths[0] == 3  # the input layer grew
    assert w.session.info.points.shape[1] == 2  # the scatter keeps the raw points
    rebuilt(qtbot, w, lambda: (box.rate.setValue(0.01), choose(box.reg, "l2")))
    assert (w.session.config.reg, w.session.config.reg_rate) == ("l2", 0.01)
    rebuilt(qtbot, w, lambda: box.preset.click())
    cfg = w.session.config
    assert (cfg.preset, cfg.lr, len(trainer().dataset.x_train)) == ("playground", 0.03, 250)
    assert (cfg.hidden, cfg.output_activation, cfg.optimizer, cfg.batch_size) == (
        (4, 2),
        "tanh",
        "sgd",
        10,
    )
    assert w.network.snapshot.widths == (2, 4, 2, 1) and not box.features["x1sq"].isChecked()
    assert isinstance(trainer().model[-1], torch.nn.Tanh)


def test_a_weight_set_by_hand_shows_at_once_and_ctrl_z_undoes_it(open_app, qtbot):  # noqa: F811
    w = open_app("circle")
    net = w.network
    if not net.isSignalConnected(QtCore.QMetaMethod.fromSignal(net.weightEdited)):
        net.weightEdited.connect(w.session.set_weight)  # until the main window connects it
    w0 = lambda: float(net.snapshot.params["0.weight"][3, 1])  # noqa: E731
    before, b_before = w0(), float(net.snapshot.params["0.bias"][3])
    net.select_neuron(1, 3)  # clicked: the inspector pins hidden neuron 3
    dialog = net.edit_weight(1, 3)
    assert dialog.value.value() == pytest.approx(
        float(net.snapshot.params["0.weight"][3, 0]), abs=1e-4
    )
    dialog.source.setCurrentIndex(dialog.source.findData(1))
    dialog.value.setValue(2.5)
    dialog.accept()
    qtbot.waitUntil(lambda: w0() == 2.5, timeout=WAIT_MS)  # the view shows it at once
    assert float(net.snapshot.params["0.bias"][3]) == b_before  # only that weight
    assert net.inspector.isVisible() and any(
        j == 1 and v == 2.5 for j, v, _ in net.inspector.info.incoming
    )
    qtbot.waitUntil(lambda: w.actions_.undo.isEnabled(), timeout=WAIT_MS)
    w.raise_()  # the dialog has closed: keys go to the window again
    w.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w0() == before, timeout=WAIT_MS)
