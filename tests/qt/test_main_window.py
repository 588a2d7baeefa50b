"""The main window as a user drives it: keys, settings, training, errors, closing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6 import QtCore, QtGui, QtWidgets
from torch import nn

from nnviz.cli import build_parser
from nnviz.core import run as R
from nnviz.core.devices import DeviceChoice, list_devices
from nnviz.core.scenarios import DEFAULT_SCENARIO, SCENARIOS, get_scenario
from nnviz.qt import controls as controls_module
from nnviz.qt.bootstrap import open_window
from nnviz.qt.controls import SPEEDS, ControlsPanel
from nnviz.qt.main_window import MainWindow
from nnviz.qt.status_line import FIRST_OPEN_HINT  # issue 11: the first-open hint
from nnviz.qt.theme import DARK, LIGHT, presenter_scale
from tests.factories import FlakyModel

WAIT_MS = 10_000
Key = QtCore.Qt.Key


def ready(qtbot, w: MainWindow) -> MainWindow:
    """Shown, active (shortcuts need it), built, and its first snapshot drawn."""
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.network.snapshot is not None)
    return w


@pytest.fixture
def open_app(qtbot, app):
    windows = []

    def make(scenario_id: str = "xor", **kw) -> MainWindow:
        w = ready(qtbot, MainWindow(scenario_id, **kw))
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.session._threads.thread.isRunning()


def press(qtbot, w, key, modifier=QtCore.Qt.NoModifier) -> None:
    qtbot.keyClick(w, key, modifier)


def settle(qtbot, w) -> int:
    """Wait until training has stopped and the newest numbers arrived."""
    qtbot.waitUntil(lambda: not w.session.playing, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.session.step == w.session.worker.trainer.step_count)
    return w.session.step


def losses(w) -> np.ndarray:
    return np.array(w.session.history.metrics.train_loss.view)


def choose(combo: QtWidgets.QComboBox, data) -> None:
    """Pick an item as a user does (activated is what a click emits)."""
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def rebuilt(qtbot, w, change) -> None:
    """Make a change that rebuilds the model; return once the views show the new one."""
    events = []
    on_built, on_snap = (lambda info: events.append("built")), events.append
    w.session.built.connect(on_built)
    w.session.snapshotReady.connect(on_snap)
    try:
        change()
        # the first frame after the rebuild (older snapshots are dropped when it is built)
        qtbot.waitUntil(lambda: "built" in events and events[-1] != "built", timeout=WAIT_MS)
    finally:
        w.session.built.disconnect(on_built)
        w.session.snapshotReady.disconnect(on_snap)
    first = events[events.index("built") + 1]
    assert first.step == 0 and w.network.snapshot is events[-1]


def button(w, action: str) -> QtWidgets.QToolButton:
    act = getattr(w.actions_, action)
    (b,) = [b for b in w.findChildren(QtWidgets.QToolButton) if b.defaultAction() is act]
    return b


def params(w) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in w.network.snapshot.params.items()}


# --- opening -----------------------------------------------------------------------------


def test_open_flags_set_the_threads_and_the_history_budget(qtbot, app):
    args = build_parser().parse_args(["open", "xor", "--threads", "1", "--history-mb", "3"])
    w = ready(qtbot, open_window(args))
    try:
        assert w.session.history.snapshots.budget == 3 * 2**20
        assert w.controls.threads.value() == 1  # shown in the settings, sent to the run
        qtbot.waitUntil(lambda: w.session.worker.run_loop.tuner.fixed == 1, timeout=WAIT_MS)
    finally:
        w.close()


def test_nnviz_opens_the_default_scenario_ready_to_play_and_open_id_another(qtbot, app):
    w = ready(qtbot, open_window(build_parser().parse_args(["open"])))
    try:
        assert DEFAULT_SCENARIO == "spiral"
        assert w.windowTitle() == "nnviz — Spiral"
        assert w.actions_.play.isEnabled() and w.actions_.play.text() == "Play"
        assert not w.session.playing and w.session.step == 0
        assert w.network.snapshot.widths == (2, 32, 32, 1)
        assert w.controls.scenario.currentData() == "spiral"
        qtbot.waitUntil(lambda: w.status_step.text() == FIRST_OPEN_HINT)  # issue 11
    finally:
        w.close()
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate"])))
    try:
        assert w.windowTitle() == "nnviz — OR gate perceptron"
        assert w.network.snapshot.widths == (2, 1)
        assert w.controls.lr.value() == pytest.approx(0.05)
    finally:
        w.close()


def test_the_window_remembers_its_layout_and_theme_but_not_full_screen(qtbot, app):
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate"])))
    assert w.formula_dock.isHidden()
    w.formula_dock.show()  # the dock layout (the offscreen screen is too small for sizes)
    w.actions_.theme.setChecked(True)  # the light theme, for a bright lecture hall
    w.actions_.presenter.setChecked(True)
    w.close()
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate"])))
    try:
        assert w.actions_.theme.isChecked() and w.theme.name == "light"
        assert not w.isFullScreen() and not w.actions_.presenter.isChecked()
        assert not w.formula_dock.isHidden()
    finally:
        w.close()
    # asked for on the command line, the theme wins over what was saved
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate", "--theme", "dark"])))
    try:
        assert w.theme.name == "dark" and not w.actions_.theme.isChecked()
    finally:
        w.close()


def test_a_window_remembered_from_a_larger_screen_reopens_on_this_one(qtbot, app):
    # saved on a 1920x1080 desk monitor, opened on a smaller screen (offscreen's):
    # it must fit and be on it, not run off the projector
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate"])))
    room = w.screen().availableGeometry()
    w.setGeometry(room.x() + 300, room.y() + 200, room.width() + 640, room.height() + 360)
    w.close()
    w = ready(qtbot, open_window(build_parser().parse_args(["open", "or-gate"])))
    try:
        least = w.minimumSizeHint()  # (offscreen's 800x800 is narrower than the window can be)
        assert w.width() <= max(room.width(), least.width())
        assert w.height() <= max(room.height(), least.height())
        assert w.x() >= room.left() and w.y() >= room.top()  # its title bar is on screen
        assert w.x() < room.left() + 300 and w.y() < room.top() + 200  # moved onto it
    finally:
        w.close()


def test_the_picker_lists_every_scenario_with_title_and_source(open_app, qtbot):
    w = open_app("xor")
    combo = w.controls.scenario
    assert [combo.itemData(i) for i in range(combo.count())] == list(SCENARIOS)
    for i, sc in enumerate(SCENARIOS.values()):
        assert combo.itemText(i) == sc.title
        assert sc.source in combo.itemData(i, QtCore.Qt.ToolTipRole)
    rebuilt(qtbot, w, lambda: choose(combo, "circle"))
    assert w.windowTitle() == "nnviz — Circle"
    assert w.controls.source.text().startswith(get_scenario("circle").source)


def test_an_expression_stops_training_and_shows_its_graph_then_back(open_app, qtbot):
    w = open_app("xor")
    press(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.step > 10, timeout=WAIT_MS)
    choose(w.controls.scenario, "chain-rule")
    qtbot.waitUntil(lambda: not w.session.playing)
    assert w.session.worker.trainer is None  # nothing goes on training behind it
    assert w.tabs.currentIndex() == 1 and not w.tabs.isTabEnabled(0)
    assert not w.controls.form_box.isVisibleTo(w) and not w.controls.playback.isVisibleTo(w)
    assert "N next" in w.status_step.text()
    rebuilt(qtbot, w, lambda: choose(w.controls.scenario, "xor"))
    assert w.tabs.currentIndex() == 0 and w.controls.form_box.isVisibleTo(w)


# --- playback ------------------------------------------------------------------------------


def test_play_pause_step_epoch_and_reset_from_the_keyboard(open_app, qtbot):
    w = open_app("xor")
    start = params(w)
    press(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.playing and w.session.step > 20, timeout=WAIT_MS)
    assert w.actions_.play.text() == "Pause"
    press(qtbot, w, Key.Key_Space)
    n = settle(qtbot, w)
    assert w.actions_.play.text() == "Play"
    qtbot.wait(100)
    assert w.session.step == n  # paused means paused
    qtbot.waitUntil(lambda: w.network.snapshot.step == n)  # the view shows where it stopped

    press(qtbot, w, Key.Key_Right)  # one batch
    qtbot.waitUntil(lambda: w.session.step == n + 1, timeout=WAIT_MS)
    qtbot.wait(100)
    assert w.session.step == n + 1 and len(losses(w)) == n + 1
    qtbot.waitUntil(lambda: w.status_step.text().startswith(f"step {n + 1} "))

    press(qtbot, w, Key.Key_Right, QtCore.Qt.ShiftModifier)  # to the end of this epoch
    spe = w.session.info.steps_per_epoch
    end = (n + 1 + spe - 1) // spe * spe
    qtbot.waitUntil(lambda: w.session.step == end, timeout=WAIT_MS)
    assert w.session.epoch == end // spe
    qtbot.waitUntil(lambda: w.network.snapshot.step == end - 1)  # its last batch is shown

    press(qtbot, w, Key.Key_R)
    qtbot.waitUntil(lambda: w.session.step == 0 and len(losses(w)) == 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.network.snapshot.step == 0)
    after = params(w)
    assert after.keys() == start.keys()
    for k in start:  # the same seed gives the same start
        np.testing.assert_array_equal(after[k], start[k])


def test_the_loss_falls_on_xor(open_app, qtbot):
    w = open_app("xor")
    w.session.play()
    qtbot.waitUntil(lambda: w.session.step >= 400, timeout=20_000)
    w.session.pause()
    settle(qtbot, w)
    qtbot.waitUntil(lambda: len(losses(w)) == w.session.step)
    held = losses(w)
    early, late = held[:40].mean(), held[-40:].mean()
    assert early > 0.5  # about ln 2: a coin flip
    assert late < 0.5 * early and late < 0.3
    assert w.session.last_loss == pytest.approx(held[-1])


# --- settings ------------------------------------------------------------------------------


def test_editing_the_hidden_layers_rebuilds_and_shows_the_new_widths(open_app, qtbot):
    w = open_app("xor")
    assert w.network.snapshot.widths == (2, 8, 1)
    w.session.step_once()
    qtbot.waitUntil(lambda: w.session.step == 1, timeout=WAIT_MS)

    def edit(text):
        w.controls.hidden.setText(text)
        w.controls.hidden.editingFinished.emit()

    rebuilt(qtbot, w, lambda: edit("5, 3"))
    assert w.network.snapshot.widths == (2, 5, 3, 1)
    assert len(w.network.geoms) == 4  # drawn at once, four columns
    assert w.controls.params.text() == "37 learnable parameters"  # 2·5+5 + 5·3+3 + 3+1
    assert w.session.step == 0 and len(losses(w)) == 0

    builds = []
    w.session.built.connect(builds.append)
    edit("8, x")
    assert w.controls.problem.isVisibleTo(w)
    assert "'x' is not a number of neurons" in w.controls.problem.text()
    assert "8, 8" in w.controls.problem.text()  # says how to write it
    qtbot.wait(200)
    assert builds == [] and w.session.config.hidden == (5, 3)
    assert w.network.snapshot.widths == (2, 5, 3, 1)
    rebuilt(qtbot, w, lambda: edit("4"))
    assert not w.controls.problem.isVisibleTo(w)
    assert w.network.snapshot.widths == (2, 4, 1)


def test_optimizer_loss_batch_activation_and_seed_rebuild_and_lr_applies_live(open_app, qtbot):
    w = open_app("xor")
    c = w.controls
    trainer = lambda: w.session.worker.trainer  # noqa: E731
    seed0 = params(w)

    rebuilt(qtbot, w, lambda: choose(c.optimizer, "sgd"))
    assert isinstance(trainer().optimizer, torch.optim.SGD)
    rebuilt(qtbot, w, lambda: choose(c.loss, "mse"))
    assert isinstance(trainer().loss_fn, nn.MSELoss) and w.session.config.loss == "mse"
    rebuilt(qtbot, w, lambda: c.batch.setValue(0))
    assert w.session.info.steps_per_epoch == 1 and c.batch.text() == "full batch"
    rebuilt(qtbot, w, lambda: choose(c.activation, "relu"))
    assert w.network.snapshot.layers[0].activation == "relu"
    rebuilt(qtbot, w, lambda: c.seed.setValue(1))
    seed1 = params(w)
    assert not np.array_equal(seed1["0.weight"], seed0["0.weight"])
    rebuilt(qtbot, w, lambda: c.seed.setValue(0))
    np.testing.assert_array_equal(params(w)["0.weight"], seed0["0.weight"])

    w.session.submit(R.Step(5))
    qtbot.waitUntil(lambda: w.session.step == 5, timeout=WAIT_MS)
    builds = []
    w.session.built.connect(builds.append)
    c.lr.setValue(0.125)  # what committing a typed value does
    opt = trainer().optimizer
    qtbot.waitUntil(lambda: opt.param_groups[0]["lr"] == 0.125)
    assert trainer().step_count == 5 and trainer().optimizer is opt and builds == []
    w.session.submit(R.Step(1))
    qtbot.waitUntil(lambda: w.session.step == 6, timeout=WAIT_MS)  # trains on from there


def test_a_loss_that_does_not_fit_is_refused_and_the_menu_shows_the_one_in_use(open_app, qtbot):
    w = open_app("xor")
    choose(w.controls.loss, "cross_entropy")  # xor has one probability output
    qtbot.waitUntil(lambda: w._error_box is not None and w._error_box.isVisible())
    assert "cross-entropy needs one output per class" in w._error_box.text()
    qtbot.waitUntil(lambda: w.controls.loss.currentData() == "bce")
    assert w.session.config.loss == "bce"


def test_devices_cpu_present_and_cuda_greyed_with_the_reason(open_app, qtbot, monkeypatch):
    devices = list_devices()
    assert devices[0] == DeviceChoice("cpu", "CPU", True)
    w = open_app("xor")
    combo = w.controls.device
    model = combo.model()
    assert [combo.itemData(i) for i in range(combo.count())] == [d.id for d in devices]
    assert combo.currentData() == "cpu"
    for i, d in enumerate(devices):
        assert model.item(i).isEnabled() == d.available
        if not d.available:
            assert combo.itemData(i, QtCore.Qt.ToolTipRole) == d.reason != ""

    reason = "no CUDA device was found (no NVIDIA GPU or driver visible to torch)"
    fake = [DeviceChoice("cpu", "CPU", True), DeviceChoice("cuda", "CUDA", False, reason)]
    monkeypatch.setattr(controls_module, "list_devices", lambda: fake)
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    assert panel.device.count() == 2
    assert panel.device.model().item(0).isEnabled()
    assert not panel.device.model().item(1).isEnabled()
    assert panel.device.itemText(1) == "CUDA (unavailable)"
    assert panel.device.itemData(1, QtCore.Qt.ToolTipRole) == reason


# --- speed and the passes -----------------------------------------------------------------


def test_teaching_pace_animates_forward_then_backward_in_the_network_view(open_app, qtbot):
    w = open_app("xor")
    calls = []
    set_phase = w.network.set_phase
    w.network.set_phase = lambda phase, p=1.0: (calls.append((phase, p)), set_phase(phase, p))

    w.session.play()  # full speed: the view is not re-phased frame after frame
    qtbot.waitUntil(lambda: w.session.step > 50, timeout=WAIT_MS)
    w.session.pause()
    settle(qtbot, w)
    assert calls == []

    teaching = next(i for i, (_, s, animate) in enumerate(SPEEDS) if animate and s <= 1.0)
    w.controls.speed.setValue(teaching)
    press(qtbot, w, Key.Key_Right)
    qtbot.waitUntil(lambda: len(calls) > 4 and calls[-1][0] is None, timeout=WAIT_MS)
    names = [name for name, _ in calls]
    fwd = [p for name, p in calls if name == "forward"]
    bwd = [p for name, p in calls if name == "backward"]
    assert len(fwd) >= 2 and len(bwd) >= 2
    last_fwd = max(i for i, n in enumerate(names) if n == "forward")
    assert last_fwd < names.index("backward")  # input→output, then output→input
    assert fwd == sorted(fwd) and bwd == sorted(bwd)
    assert w.network.phase is None  # and then the whole network shows the update


def test_faster_and_slower_keys_move_the_speed(open_app, qtbot):
    w = open_app("xor")
    full = w.controls.speed.value()
    assert SPEEDS[full][1] == 0.0 and w.controls.speed_label.text() == "full speed"
    for _ in range(len(SPEEDS)):
        press(qtbot, w, Key.Key_BracketLeft)
    assert w.controls.speed.value() == 0 and w.session.animator.enabled
    assert w.controls.speed_label.text().endswith("(teaching)")
    press(qtbot, w, Key.Key_BracketRight)
    assert w.controls.speed.value() == 1


# --- robustness ---------------------------------------------------------------------------


def test_an_error_in_training_shows_a_dialog_and_the_app_stays_usable(open_app, qtbot):
    w = open_app("xor")
    model = FlakyModel()
    rebuilt(
        qtbot,
        w,
        lambda: w.session.submit(R.Configure(get_scenario("xor"), w.session.config, None, model)),
    )
    assert w.network.snapshot.widths == (2, 4, 1)
    press(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.step > 10, timeout=WAIT_MS)
    model.fail = True
    qtbot.waitUntil(lambda: w._error_box is not None and w._error_box.isVisible(), timeout=WAIT_MS)
    box = w._error_box
    assert "boom in the user's forward" in box.text() and "Training stopped" in box.text()
    assert "Traceback" in box.detailedText()
    assert box.windowModality() == QtCore.Qt.NonModal and not box.isModal()
    qtbot.waitUntil(lambda: not w.session.playing)
    assert w.actions_.play.text() == "Play"

    model.fail = False  # the user fixed it; with the dialog still open, clicks Reset, Play
    assert box.isVisible()
    qtbot.mouseClick(button(w, "reset"), QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: w.session.step == 0, timeout=WAIT_MS)
    qtbot.mouseClick(button(w, "play"), QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: w.session.playing and w.session.step > 10, timeout=WAIT_MS)
    w.session.pause()


def test_a_nan_loss_pauses_and_says_so(open_app, qtbot):
    w = open_app("digits-mlp")
    rebuilt(
        qtbot,
        w,
        lambda: w.session.apply_config(replace(w.session.config, optimizer="sgd", lr=1e30)),
    )
    press(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w._error_box is not None and w._error_box.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.session.playing)
    message = w.status_step.text()  # issue 11: the one status line
    assert "The loss became nan" in message and "training paused" in message
    assert "Lower the learning rate" in w._error_box.text()
    assert w.actions_.play.text() == "Play"
    assert w.session.history.metrics.nonfinite_count >= 1


def test_a_data_folder_without_data_says_so_and_another_scenario_still_opens(qtbot, app, tmp_path):
    w = MainWindow("mnist-mlp", data_dir=tmp_path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w._error_box is not None and w._error_box.isVisible(), timeout=WAIT_MS)
    assert "no data found in" in w._error_box.text() and "train.csv" in w._error_box.text()
    assert "Nothing could be built" in w.status_step.text()
    qtbot.wait(100)  # and it does not claim to be building forever
    assert "Nothing could be built" in w.status_step.text()
    rebuilt(qtbot, w, lambda: choose(w.controls.scenario, "xor"))
    assert w.windowTitle() == "nnviz — Exclusive or"
    w.close()


def test_closing_mid_training_joins_the_worker_without_qt_warnings(open_app, qtbot, qtlog):
    w = open_app("xor")
    press(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.playing and w.session.step > 50, timeout=WAIT_MS)
    thread = w.session._threads.thread
    w.close()  # shutdown waits at most 2 s for the thread
    assert not thread.isRunning()
    assert not w.session.timer.isActive()
    noise = ("propagateSizeHints",)  # the offscreen platform's own note
    messages = [r.message for r in qtlog.records if not any(n in r.message for n in noise)]
    assert messages == []


# --- lecture mode --------------------------------------------------------------------------


def test_every_action_has_a_shortcut_listed_in_the_help_overlay(open_app, qtbot):
    w = open_app("xor")
    press(qtbot, w, Key.Key_Question)  # what typing ? sends
    qtbot.waitUntil(lambda: w.help.isVisible())
    listed = {k for label in w.help.key_labels for k in label.text().split(" / ")}
    seen = set()
    for name, act in w.actions_.by_name.items():
        keys = [s.toString() for s in act.shortcuts()]
        assert keys, f"{name} has no shortcut"
        for k in keys:
            assert k in listed, f"{name}: {k} missing from the help overlay"
            assert k not in seen, f"{k} is bound twice"
            seen.add(k)
    stepper = w.graph.stepper.buttons
    for widget_key in (
        stepper["next"].shortcut(),
        stepper["back"].shortcut(),
        w.graph.capture.shortcut(),
    ):
        assert widget_key.toString() in listed
    press(qtbot, w.help, Key.Key_Escape)
    assert not w.help.isVisible()


def test_presenter_mode_scales_fonts_and_the_light_theme_toggles(open_app, qtbot, app):
    w = open_app("xor")
    base = app.font().pointSizeF()
    net_font = w.network._font.pointSizeF()
    press(qtbot, w, Key.Key_F11)
    # issue 11: the scale follows the screen (see tests/qt/test_legibility.py)
    PRESENTER_SCALE = presenter_scale(w.screen().geometry().height())
    assert PRESENTER_SCALE > 1.2
    assert w.theme.scale == PRESENTER_SCALE and w.isFullScreen()
    assert app.font().pointSizeF() == pytest.approx(base * PRESENTER_SCALE)
    assert w.network._font.pointSizeF() == pytest.approx(net_font * PRESENTER_SCALE)
    assert w.help.theme.scale == PRESENTER_SCALE
    assert f"font-size: {10.5 * PRESENTER_SCALE:.1f}pt" in w.help.card.styleSheet()
    press(qtbot, w, Key.Key_T, QtCore.Qt.ControlModifier)  # light, still presenter-sized
    assert w.theme.name == "light" and w.theme.scale == PRESENTER_SCALE
    assert w.network.theme.name == w.loss.theme.name == w.help.theme.name == "light"
    assert LIGHT.panel in w.help.card.styleSheet()  # the overlay is redrawn in the new colours
    assert app.palette().color(QtGui.QPalette.Window).name() == LIGHT.panel
    press(qtbot, w, Key.Key_F11)
    assert w.theme.scale == 1.0 and not w.isFullScreen()
    assert app.font().pointSizeF() == pytest.approx(base)
    press(qtbot, w, Key.Key_T, QtCore.Qt.ControlModifier)
    assert w.theme == DARK
