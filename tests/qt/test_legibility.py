"""The lecture hall (issue 11): presenter mode legible from the back row.

The main window is drawn offscreen in presenter mode at a projector's
1280×720 and at 1920×1080, and at the desk (normal mode), and measured: no
text cut or elided, no two widgets over each other, and the smallest text's
line height at least 18 px / 24 px (presenter) or 12 px (desk) — in every
view, the autograd graph's boxes and the help overlay included.
"""

from __future__ import annotations

import math
import re
import time

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.autograd_graph import capture_scenario_graph
from nnviz.core.numfmt import fmt
from nnviz.core.scenarios import SCENARIOS, get_scenario
from nnviz.qt.backprop_stepper import chain_rule_lines
from nnviz.qt.graph_items import op_symbol
from nnviz.qt.layout_modes import LayoutModes
from nnviz.qt.main_window import MainWindow
from nnviz.qt.plot_axes import GridAxis
from nnviz.qt.preferences import save_window
from nnviz.qt.status_line import FIRST_OPEN_HINT, pass_caption
from nnviz.qt.theme import DARK, LIGHT, presenter_line_px
from tests.qt.legibility import (
    cut_widgets,
    graph_node_texts,
    overlaps,
    scene_texts,
    widget_texts,
)

WAIT_MS = 30_000
# one window for the module (building its model is the slow part); the `win` fixture
# closes it and its training thread when the module ends
pytestmark = pytest.mark.allow_leaks("the module's one window lives across its tests")
DESK_MIN_LINE_PX = 12.0


class _Screen:
    """The screen presenter mode is told it is on (offscreen there is one 800×800
    screen): the window is given that size when it goes full screen."""

    size: tuple[int, int] = (1280, 720)


def _wait_until(predicate, timeout_ms: int = WAIT_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.AllEvents, 50)
        time.sleep(0.01)


def _settle(ms: int = 300) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.AllEvents, 20)


@pytest.fixture(scope="module")
def win(qapp):
    """One window for the module (building a model is the slow part): the xor
    scenario, trained a few steps, its graph captured."""
    mp = pytest.MonkeyPatch()
    mp.setattr(LayoutModes, "screen_height", lambda self: _Screen.size[1])
    w = MainWindow("xor")
    mp.setattr(w, "showFullScreen", lambda: w.resize(*_Screen.size))
    w.resize(1600, 900)
    w.show()
    _wait_until(lambda: w.session.info is not None)
    for _ in range(3):
        w.actions_.step.trigger()
    _wait_until(lambda: w.network.snapshot is not None and w.session.step >= 3)
    yield w
    w.close()
    w.deleteLater()
    mp.undo()


def _present(w, size) -> None:
    """Presenter mode on a screen of ``size`` (None: back at the desk)."""
    w.help.hide()
    w.actions_.show_network.trigger()
    w.actions_.presenter.setChecked(False)
    _settle(100)
    if size is not None:
        _Screen.size = size
        w.actions_.presenter.setChecked(True)
        w.resize(*size)
    else:
        w.resize(1600, 900)
    _settle()


def _min_line(size) -> float:
    return DESK_MIN_LINE_PX if size is None else presenter_line_px(size[1])


def _too_small(texts, need: float) -> list[str]:
    return [f"{t.where} {t.text[:40]!r}: {t.line_px:.1f}px" for t in texts if t.line_px < need]


def _check_all(w: QtWidgets.QWidget, need: float) -> None:
    for _ in range(3):  # a label's new text lays out on the next turn of the event loop
        QtCore.QCoreApplication.sendPostedEvents()
        QtCore.QCoreApplication.processEvents()
    assert cut_widgets(w) == []
    assert overlaps(w) == []
    drawn, outside = scene_texts(w)
    assert outside == []
    texts = widget_texts(w) + drawn
    assert len(texts) > 20  # the walk sees the window's text
    assert _too_small(texts, need) == []


SIZES = [(1280, 720), (1920, 1080), None]


@pytest.mark.parametrize("size", SIZES, ids=["1280x720", "1920x1080", "desk"])
def test_every_view_is_legible(win, size):
    w = win
    _present(w, size)
    if size is not None:
        assert w.size() == QtCore.QSize(*size)
        assert not w.settings_dock.isVisible()  # the views get the room
        assert w.network.graphics.height() >= 0.35 * size[1]
        assert w.loss.acc_plot.height() >= 0.15 * size[1]
    need = _min_line(size)
    _check_all(w, need)
    # the autograd graph, its boxes and the chain-rule panel
    w.actions_.show_graph.trigger()
    _wait_until(lambda: bool(w.graph.view.items))
    w.graph.view.fit()
    _settle(100)
    nodes = graph_node_texts(w.graph)
    assert len(nodes) == 3 and _too_small(nodes, need) == []
    # every line of a box fits its box: "grad" is never cut to "arad"
    view = w.graph.view
    assert view.node_h >= sum(t.line_px for t in nodes) / view.transform().m22()
    _check_all(w, need)
    # the help overlay
    w.actions_.help.trigger()
    _settle(50)
    assert w.help.isVisible()
    assert w.rect().contains(w.help.card.geometry())
    help_texts = widget_texts(w.help)
    assert len(help_texts) > 20 and _too_small(help_texts, need) == []
    assert cut_widgets(w.help) == [] and overlaps(w.help.card) == []
    w.help.hide()


def test_the_settings_come_back_with_a_key_and_leaving_restores_the_desk(win):
    w = win
    _present(w, (1280, 720))
    assert not w.settings_dock.isVisible()
    w.actions_.settings.trigger()  # F9
    _settle(50)
    assert w.settings_dock.isVisible()
    w.actions_.presenter.setChecked(False)
    _settle(50)
    assert w.theme.scale == 1.0 and w.settings_dock.isVisible()


# --- one status line (item 2) -----------------------------------------------------------------


def test_the_status_line_is_one_message_from_one_source(win):
    w = win
    _present(w, None)
    w.actions_.step.trigger()
    _wait_until(lambda: w.session.step >= 4 and w.session.history.metrics.last_step >= 4)
    _settle(100)
    m = w.session.history.metrics
    text = w.status_step.text()
    assert text.startswith(f"step {m.last_step:,} · epoch ")
    assert f"loss {fmt(m.last_loss)}" in text
    assert "steps/s" not in text  # paused: no speed
    # the network view no longer keeps a step/loss caption of its own
    caption = w.network.legend.caption.text()
    assert "step" not in caption and "loss" not in caption
    # a run that ends: its message alone, until the user acts
    w.session.finished.emit("Done: 4 steps. Press Play to go on")
    _settle(100)
    assert w.status_step.text() == "Done: 4 steps. Press Play to go on"
    shown_text = [
        lab.text()
        for lab in w.statusBar().findChildren(QtWidgets.QLabel)
        if lab.isVisible() and lab is not w.status_note
    ]
    assert shown_text == [w.status_step.text()]
    w.actions_.step.trigger()
    _wait_until(lambda: w.status_step.text().startswith("step "))
    # anyone's showMessage goes into the same line, never over it
    w.statusBar().showMessage("Session saved to x.pt", 5000)
    assert w.statusBar().currentMessage() == ""
    assert w.status_step.text() == "Session saved to x.pt"
    w.status_step.clear_message()


def test_speed_is_shown_only_when_racing(win):
    s = win.session
    saved = (s.playing, s.rate, s._full_speed)
    try:
        s.playing, s.rate, s._full_speed = True, 49.0, False  # a teaching pace
        assert "steps/s" not in s.status_text()
        s._full_speed = True
        assert "49 steps/s" in s.status_text()
    finally:
        s.playing, s.rate, s._full_speed = saved


def test_the_teaching_pace_says_which_sweep_is_shown(win):
    assert pass_caption("forward", 0.5, 4) == "forward: layer 2 of 3"
    assert pass_caption("backward", 0.7, 4) == "backward: dL/dz at hidden 1"
    assert pass_caption("backward", 0.0, 4) == "backward: dL/dz at output"
    assert pass_caption(None, 0.0, 4) == ""
    w = win
    w._phase = ("forward", 1.0)
    try:
        n = len(w.network.snapshot.layers)
        assert w.status_text().endswith(f"forward: layer {n} of {n}")
    finally:
        w._phase = (None, 0.0)


def test_the_first_open_hint_comes_back_with_a_fresh_model(win):
    w = win
    w.actions_.reset.trigger()
    _wait_until(lambda: w.session.step == 0 and len(w.session.history.metrics) == 0)
    _settle(100)
    assert w.status_step.text() == FIRST_OPEN_HINT == "Space to train, → to step, ? for keys"


# --- plain names (item 3) ---------------------------------------------------------------------


def test_ops_have_plain_names_never_internal_ids():
    tr = capture_scenario_graph("xor")
    names = {op_symbol(n, tr) for n in tr.nodes.values()}
    assert {"Linear (layer 1)", "Tanh (layer 2)", "Sigmoid (layer 4)", "BCELoss"} <= names
    assert "transpose in Linear (layer 1)" in names
    assert not any("#" in name for name in names), names
    lines = [ln for step in tr.steps for ln in chain_rule_lines(tr, step)]
    assert lines and not any("#" in ln for ln in lines)
    assert any("dL/dTanh (layer 2)" in ln for ln in lines)


def test_scenarios_name_their_sources_and_their_figures_add_up():
    for sc in SCENARIOS.values():
        for text in (sc.title, sc.source, sc.description, sc.figure):
            assert not re.search(r"seed 0\d\d", text), (sc.id, text)
    assert get_scenario("or-gate").source == "the OR-gate notebook"
    spiral = get_scenario("spiral")
    steps, epochs = map(
        int, re.search(r"about (\d+) steps \((\d+) epochs\)", spiral.figure).groups()
    )
    per_epoch = math.ceil(spiral.data(0, None).n_train / spiral.batch_size)
    assert epochs == steps // per_epoch


def test_text_colours_reach_seven_to_one():
    def lum(hex_colour: str) -> float:
        c = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    for t in (DARK, LIGHT):
        for role in ("foreground", "muted", "accent", "forward", "backward"):
            for back in (t.background, t.panel):
                hi, lo = sorted((lum(getattr(t, role)), lum(back)), reverse=True)
                assert (hi + 0.05) / (lo + 0.05) >= 7.0, (t.name, role, back)


# --- plots (item 4) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-0.3, 3.2), (0.0, 0.0001), (0.0, 12_000.0)])
def test_step_axes_tick_whole_numbers_only(qapp, lo, hi):
    ax = GridAxis("bottom")
    values = [v for _spacing, vs in ax.tickValues(lo, hi, 600) for v in vs]
    assert all(float(v).is_integer() for v in values), values
    assert values or hi - lo < 1  # an empty or tiny range shows no fractional steps


# --- settings (item 5) ------------------------------------------------------------------------


def test_presenter_geometry_never_reaches_the_saved_layout(win):
    w = win
    _present(w, None)
    desk_state = w.saveState()
    _present(w, (1280, 720))
    geometry, state = w.layouts.normal_layout()
    assert state == desk_state and state != w.saveState()
    save_window(w, "dark", geometry, state)
    assert QtCore.QSettings().value("window/state") == desk_state
    _present(w, None)
    assert w.theme.scale == 1.0


def test_the_theme_is_remembered_at_once_and_reset_layout_restores(win):
    w = win
    _present(w, None)
    w.actions_.theme.setChecked(True)
    assert QtCore.QSettings().value("window/theme") == "light"
    w.actions_.theme.setChecked(False)
    assert QtCore.QSettings().value("window/theme") == "dark"
    w.actions_.settings.setChecked(False)
    w.formula_dock.show()
    QtCore.QSettings().setValue("window/state", w.saveState())
    w.actions_.reset_layout.trigger()
    _settle(50)
    assert w.settings_dock.isVisible() and w.actions_.settings.isChecked()
    assert w.formula_dock.isHidden()
    assert QtCore.QSettings().value("window/state") is None


# --- export (item 6) --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_the_menu_exports_the_window_and_each_view(win, tmp_path, monkeypatch, suffix):
    w = win
    _present(w, None)
    target = {}

    def ask(*_args, **_kw):
        return str(tmp_path / f"{target['name']}{suffix}"), ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", ask)
    target["name"] = "window"
    w.actions_.save_image.trigger()
    menu = w.menu_button.menu()
    assert w.actions_.save_image in menu.actions() and w.actions_.reset_layout in menu.actions()
    target["name"] = "network"
    (act,) = [a for a in menu.findChildren(QtGui.QAction) if a.objectName() == "export_network"]
    act.trigger()
    for name, widget in (("window", w), ("network", w.network)):
        data = (tmp_path / f"{name}{suffix}").read_bytes()
        if suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            image = QtGui.QImage(str(tmp_path / f"{name}{suffix}"))
            assert (image.width(), image.height()) == (widget.width(), widget.height())
        else:
            assert b"<svg" in data and data.rstrip().endswith(b"</svg>")
