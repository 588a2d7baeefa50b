"""The network view's gradient-health overlay (issue 12): layers tinted by the
health of their gradient, dead units marked; torch is the oracle."""

from __future__ import annotations

import pytest
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.health_warnings import VANISHING
from nnviz.core.history import History
from nnviz.core.scenarios import get_scenario
from nnviz.qt.health_overlay import EXPLAIN, STATES, gradient_state
from nnviz.qt.network_view import NetworkView


def _trainer(sid: str) -> Trainer:
    sc = get_scenario(sid)
    t = Trainer(sc, TrainConfig.for_scenario(sc, eval_every=-1))
    t.health_every = 1  # a report on every snapshot
    return t


def _run(shown, sid: str, steps: int, every: int = 1):
    """Train ``steps`` steps, showing every ``every``-th snapshot in a network view."""
    t = _trainer(sid)
    history = History()
    view = shown(NetworkView(history=history), 1200, 700)
    snap = None
    for i in range(steps):
        res = t.step(snapshot=(i % every == every - 1))
        if res.snapshot is not None:
            snap = res.snapshot
            history.snapshots.add(snap)
            view.set_snapshot(snap)
    return t, view, snap


def _torch_grad_norms(t: Trainer) -> list[float]:
    """‖∂L/∂W‖ of each Linear, straight from torch (the last step's gradients)."""
    return [
        float(m.weight.grad.norm())
        for m in t.model.modules()
        if isinstance(m, torch.nn.Linear) and m.weight.grad is not None
    ]


def _colour(state: str) -> QtGui.QColor:
    return QtGui.QColor(STATES[state][0])


def _same_hue(a: QtGui.QColor | None, b: QtGui.QColor) -> bool:
    return a is not None and (a.red(), a.green(), a.blue()) == (b.red(), b.green(), b.blue())


def test_vanishing_sigmoid_marks_its_early_layers_vanishing(shown):
    t, view, snap = _run(shown, "vanishing-sigmoid", 30)
    ov = view.health_overlay
    assert snap.health.warnings and ov.enabled  # a warning came: the overlay turned itself on
    norms = _torch_grad_norms(t)
    want = [n / norms[-1] < VANISHING for n in norms]
    assert want[:3] == [True, True, True]  # torch: the first layers' gradients vanish
    for i, vanishing in enumerate(want[:-1], 1):
        assert (ov.marks[i].state == "vanishing") == vanishing
        if vanishing:
            assert _same_hue(ov.tint(i), _colour("vanishing"))
            assert "vanishing" in ov.marks[i].tooltip
    assert ov.marks[1].ratio == pytest.approx(norms[0] / norms[-1], rel=1e-3)
    assert ov.key.isVisible() and "vanishing" in ov.key.text()


def test_deep_relu_kaiming_is_not_marked(shown):
    t, view, _snap = _run(shown, "deep-relu-kaiming", 30)
    ov = view.health_overlay
    ov.set_enabled(True)
    norms = _torch_grad_norms(t)
    assert all(1e-1 < n / norms[-1] < 1e1 for n in norms)  # torch: healthy all through
    assert len(ov.marks) == len(norms)
    assert all(m.state == "healthy" for m in ov.marks.values())
    assert all(_same_hue(ov.tint(i), _colour("healthy")) for i in ov.marks)


@pytest.mark.parametrize("sid", ["dead-relu", "deep-relu-kaiming"])
def test_dead_units_marked_are_the_ones_health_counts(shown, sid):
    """The ✕s per layer are as many as Snapshot.health's dead fraction says
    (the tracker's window over the same batches)."""
    _t, view, snap = _run(shown, sid, 40)
    ov = view.health_overlay
    ov.set_enabled(True)
    counts = [
        round(la.dead_fraction * la.width)
        for la in snap.health.layers
        if la.dead_fraction is not None
    ]
    marked = [len(ov.marks[i].dead) for i, la in enumerate(snap.health.layers, 1)]
    assert sum(marked) == sum(counts) == ov.dead_marked()
    assert [
        m for m, la in zip(marked, snap.health.layers) if la.dead_fraction is not None
    ] == counts
    if sid == "dead-relu":
        assert counts == [32, 32]  # every hidden unit, as the scenario promises
    # the dead units are the ones whose activation is 0 on the batch shown
    for i, ls in enumerate(snap.layers, 1):
        assert (ls.a_mean[ov.marks[i].dead] == 0).all()


def test_the_users_choice_wins_and_the_menu_explains(shown, qtbot):
    t = _trainer("vanishing-sigmoid")
    view = shown(NetworkView(history=History()), 900, 600)
    menu = QtWidgets.QMenu()
    act = view.health_overlay.add_menu_action(menu)
    assert act.isCheckable() and not act.isChecked()
    assert "vanishing" in act.toolTip() and act.toolTip() == EXPLAIN
    act.trigger()  # on, then off by hand: a warning must not switch it back on
    act.trigger()
    menu.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
    for _ in range(3):
        view.set_snapshot(t.step(snapshot=True).snapshot)
    ov = view.health_overlay
    assert ov.user_choice is False and not ov.enabled
    assert ov.tint(1) is None and ov.dead_marked() == 0 and not ov.key.isVisible()


@pytest.mark.parametrize(
    ("norm", "ref", "state"),
    [
        (1e-7, 1.0, "vanishing"),
        (5e-3, 1.0, "weak"),
        (0.5, 1.0, "healthy"),
        (500.0, 1.0, "strong"),
        (1e4, 1.0, "exploding"),
        (float("nan"), 1.0, "diverged"),
        (0.0, 1.0, "none"),
    ],
)
def test_gradient_states(norm, ref, state):
    assert gradient_state(norm, ref) == state
