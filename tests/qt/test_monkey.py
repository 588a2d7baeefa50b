"""A UI monkey: a seeded random sequence of user actions on the real window.

Every QAction of the main window (menus and shortcuts), key presses, clicks,
drags, wheel turns, resizes, scenario and setting changes, play / pause /
step, the graph tab, undo / redo — on two scenarios. The test fails on any
exception (pytest-qt catches those raised in Qt's virtual methods), any Qt
warning, a raw exception shown to the user, a deadlock (a watchdog dumps every
thread's stack and ends the run) or a leaked top-level widget (the leak check
in tests/qt/conftest.py). ``scripts/monkey.py`` runs it longer.
"""

from __future__ import annotations

import faulthandler
import os
import random
import re
import sys
import time
from pathlib import Path

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

SCENARIOS = ("xor", "digits-mlp")
# actions the monkey does not take: closing the window ends the run (done last),
# and these ask the operating system for a file the monkey has no way to pick
SKIPPED_ACTIONS = {"action_quit"}
KEYS = [
    QtCore.Qt.Key.Key_Space, QtCore.Qt.Key.Key_Right, QtCore.Qt.Key.Key_Left,
    QtCore.Qt.Key.Key_R, QtCore.Qt.Key.Key_L, QtCore.Qt.Key.Key_W, QtCore.Qt.Key.Key_N,
    QtCore.Qt.Key.Key_B, QtCore.Qt.Key.Key_C, QtCore.Qt.Key.Key_F, QtCore.Qt.Key.Key_Plus,
    QtCore.Qt.Key.Key_Minus, QtCore.Qt.Key.Key_Escape, QtCore.Qt.Key.Key_Tab,
    QtCore.Qt.Key.Key_BracketLeft, QtCore.Qt.Key.Key_BracketRight, QtCore.Qt.Key.Key_Comma,
    QtCore.Qt.Key.Key_Period, QtCore.Qt.Key.Key_End, QtCore.Qt.Key.Key_Up,
    QtCore.Qt.Key.Key_Down, QtCore.Qt.Key.Key_Question, QtCore.Qt.Key.Key_Return,
]  # fmt: skip
MODIFIERS = [
    QtCore.Qt.KeyboardModifier.NoModifier,
    QtCore.Qt.KeyboardModifier.ShiftModifier,
    QtCore.Qt.KeyboardModifier.ControlModifier,
    QtCore.Qt.KeyboardModifier.AltModifier,
]
# a message that names a Python exception type is a bug shown to the user
RAW_EXCEPTION = re.compile(r"\b[A-Z]\w*(Error|Exception)\b(?!s)")
# messages that may rightly name an exception: the user's own model failing
ALLOWED_RAW = ("NaN", "Inf")


class Monkey:
    """Drives one MainWindow with ``rng``; ``log`` lists what it did."""

    def __init__(self, qtbot, window, rng: random.Random, out_dir: Path) -> None:
        self.qtbot, self.w, self.rng, self.out_dir = qtbot, window, rng, out_dir
        self.log: list[str] = []
        self.errors: list[str] = []
        self.times: list[tuple[float, str]] = []
        window.session.errorRaised.connect(self._on_error)
        self.kinds = [
            (self.trigger_action, 6),
            (self.press_key, 5),
            (self.click, 4),
            (self.drag, 2),
            (self.wheel, 2),
            (self.resize, 1),
            (self.change_setting, 3),
            (self.change_scenario, 1),
            (self.switch_tab, 2),
            (self.wait, 3),
        ]

    def _on_error(self, message: str, details: str) -> None:
        if RAW_EXCEPTION.search(message) and not any(a in message for a in ALLOWED_RAW):
            self.errors.append(message)

    # --- one action ------------------------------------------------------------------------

    def act(self) -> None:
        fns, weights = zip(*self.kinds, strict=True)
        t0 = time.perf_counter()
        self.rng.choices(fns, weights)[0]()
        self.close_popups()
        self.qtbot.wait(self.rng.choice((0, 1, 5, 20)))
        self.times.append((time.perf_counter() - t0, self.log[-1] if self.log else ""))

    def slowest(self, k: int = 5) -> list[str]:
        return [f"{t:6.2f} s  {what}" for t, what in sorted(self.times, reverse=True)[:k]]

    def run(self, n: int) -> None:
        for _ in range(n):
            self.act()

    def _widgets(self) -> list[QtWidgets.QWidget]:
        return [
            c
            for c in self.w.findChildren(QtWidgets.QWidget)
            if c.isVisible() and c.width() > 4 and c.height() > 4
        ]

    def _point(self, widget) -> QtCore.QPoint:
        return QtCore.QPoint(
            self.rng.randrange(widget.width()), self.rng.randrange(widget.height())
        )

    def trigger_action(self) -> None:
        actions = [
            a
            for a in window_actions(self.w)
            if a.isEnabled() and a.objectName() not in SKIPPED_ACTIONS and not a.isSeparator()
        ]
        if actions:
            a = self.rng.choice(actions)
            self.log.append(f"action {a.objectName() or a.text()!r}")
            a.trigger()

    def press_key(self) -> None:
        key, mod = self.rng.choice(KEYS), self.rng.choice(MODIFIERS)
        target = QtWidgets.QApplication.focusWidget() or self.w
        if target.window() is not self.w:
            target = self.w
        self.log.append(f"key {key.name}+{mod.name}")
        self.qtbot.keyClick(target, key, mod)

    def click(self) -> None:
        widgets = self._widgets()
        if not widgets:
            return
        target = self.rng.choice(widgets)
        button = self.rng.choice(
            [QtCore.Qt.MouseButton.LeftButton] * 4 + [QtCore.Qt.MouseButton.RightButton]
        )
        pos = self._point(target)
        self.log.append(f"click {type(target).__name__} {button.name} {pos.toTuple()}")
        if self.rng.random() < 0.2:
            self.qtbot.mouseDClick(target, button, pos=pos)
        else:
            self.qtbot.mouseClick(target, button, pos=pos)

    def drag(self) -> None:
        widgets = self._widgets()
        if not widgets:
            return
        target = self.rng.choice(widgets)
        a, b = self._point(target), self._point(target)
        self.log.append(f"drag {type(target).__name__} {a.toTuple()}->{b.toTuple()}")
        self.qtbot.mousePress(target, QtCore.Qt.MouseButton.LeftButton, pos=a)
        for k in range(1, 4):
            p = a + (b - a) * (k / 3)
            event = QtGui.QMouseEvent(
                QtCore.QEvent.Type.MouseMove,
                QtCore.QPointF(p),
                QtCore.QPointF(target.mapToGlobal(p)),
                QtCore.Qt.MouseButton.NoButton,
                QtCore.Qt.MouseButton.LeftButton,
                QtCore.Qt.KeyboardModifier.NoModifier,
            )
            QtWidgets.QApplication.sendEvent(target, event)
        self.qtbot.mouseRelease(target, QtCore.Qt.MouseButton.LeftButton, pos=b)

    def wheel(self) -> None:
        widgets = self._widgets()
        if not widgets:
            return
        target = self.rng.choice(widgets)
        pos = QtCore.QPointF(self._point(target))
        delta = self.rng.choice((-360, -120, 120, 360))
        self.log.append(f"wheel {type(target).__name__} {delta}")
        event = QtGui.QWheelEvent(
            pos,
            QtCore.QPointF(target.mapToGlobal(pos)),
            QtCore.QPoint(0, 0),
            QtCore.QPoint(0, delta),
            QtCore.Qt.MouseButton.NoButton,
            QtCore.Qt.KeyboardModifier.NoModifier,
            QtCore.Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QtWidgets.QApplication.sendEvent(target, event)

    def resize(self) -> None:
        size = (self.rng.randint(480, 1800), self.rng.randint(360, 1100))
        self.log.append(f"resize {size}")
        if self.w.isFullScreen():
            self.w.showNormal()
        self.w.resize(*size)

    def change_setting(self) -> None:
        c = self.w.controls
        editors = [
            e
            for e in c.findChildren(QtWidgets.QWidget)
            if isinstance(e, QtWidgets.QAbstractSpinBox | QtWidgets.QComboBox | QtWidgets.QSlider)
            and e.isEnabled()
            and e is not c.scenario
        ]
        if not editors:
            return
        e = self.rng.choice(editors)
        if isinstance(e, QtWidgets.QComboBox):
            if e.count():
                e.setCurrentIndex(self.rng.randrange(e.count()))
            value = e.currentText()
        elif isinstance(e, QtWidgets.QDoubleSpinBox):
            lo, hi = e.minimum(), e.maximum()
            value = self.rng.choice((lo, hi, lo + (hi - lo) * self.rng.random() ** 4))
            e.setValue(value)
        else:
            lo, hi = e.minimum(), e.maximum()
            value = self.rng.choice((lo, hi, self.rng.randint(lo, min(hi, lo + 64))))
            e.setValue(value)
        self.log.append(f"setting {e.objectName() or type(e).__name__} = {value}")

    def change_scenario(self) -> None:
        sid = self.rng.choice(SCENARIOS)
        self.log.append(f"scenario {sid}")
        self.w.open_scenario(sid)

    def switch_tab(self) -> None:
        tabs = self.w.tabs
        i = self.rng.randrange(tabs.count())
        self.log.append(f"tab {tabs.tabText(i)}")
        tabs.setCurrentIndex(i)

    def wait(self) -> None:
        ms = self.rng.choice((10, 50, 150))
        self.log.append(f"wait {ms}")
        self.qtbot.wait(ms)

    def close_popups(self) -> None:
        for _ in range(5):
            popup = QtWidgets.QApplication.activePopupWidget()
            if popup is None:
                break
            popup.close()
        modal = QtWidgets.QApplication.activeModalWidget()
        if modal is not None and modal is not self.w:
            modal.close()


def window_actions(w) -> list[QtGui.QAction]:
    """The window's own actions (its shortcuts) and every action of its menus,
    submenus included: what a user can reach without a context menu open."""
    seen: dict[int, QtGui.QAction] = {}
    todo = list(w.actions()) + (list(w.menuBar().actions()) if w.menuBar() else [])
    while todo:
        a = todo.pop()
        if id(a) in seen:
            continue
        seen[id(a)] = a
        if a.menu() is not None:
            todo.extend(a.menu().actions())
    return list(seen.values())


def patch_dialogs(monkeypatch, out_dir: Path, rng: random.Random) -> None:
    """File dialogs answer at once (cancelled, or a file in ``out_dir``) and
    context menus do not block: the monkey never waits on the operating system."""

    def save_name(*args, **kwargs):
        if rng.random() < 0.5:
            return "", ""
        return str(out_dir / f"m{rng.randrange(10**6)}.{rng.choice(('png', 'svg'))}"), ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", staticmethod(save_name))
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", ""))
    )
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: "")
    )
    monkeypatch.setattr(QtWidgets.QMenu, "exec", lambda self, *a, **k: None)
    monkeypatch.setattr(QtWidgets.QDialog, "exec", lambda self, *a, **k: 0)


def open_monkey_window(qtbot, scenario: str):
    from nnviz.qt.main_window import MainWindow

    w = MainWindow(scenario)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.session.info is not None, timeout=180_000)
    return w


def run_monkey(qtbot, monkeypatch, tmp_path, seed: int, scenario: str, n: int) -> Monkey:
    rng = random.Random(seed)
    patch_dialogs(monkeypatch, tmp_path, rng)
    monkeypatch.setenv("NNVIZ_RECORD", str(tmp_path / "runs"))  # recording on, kept apart
    w = open_monkey_window(qtbot, scenario)
    monkey = Monkey(qtbot, w, rng, tmp_path)
    try:
        monkey.run(n)
    except BaseException:
        sys.stderr.write("monkey's last actions:\n  " + "\n  ".join(monkey.log[-25:]) + "\n")
        raise
    # closing mid-training, as a user does: the worker joins, nothing is left
    w.actions_.play.trigger() if not w.session.playing else None
    qtbot.wait(50)
    w.close()
    # joined at once, or (a graph capture still running) within the close's grace period
    qtbot.waitUntil(lambda: not w.session._threads.thread.isRunning(), timeout=30_000)
    qtbot.wait(100)  # events queued before the close arrive now
    _close_reopened_recorder(w)
    assert not monkey.errors, f"raw exceptions shown to the user: {monkey.errors[:3]}"
    sys.stderr.write("monkey's slowest actions:\n  " + "\n  ".join(monkey.slowest()) + "\n")
    return monkey


def _close_reopened_recorder(w) -> None:
    """Found by the monkey: Metrics queued before the window closed reopen the
    session's recorder after Session.shutdown() closed it, leaving a run-writer
    thread (test_events_after_closing_reopen_no_recording below). Closed here
    so the monkey goes on finding other things; remove once fixed."""
    rec = w.session.recorder
    if rec is not None and rec.writer is not None:
        rec.close()


def test_events_after_closing_reopen_no_recording(qtbot, app, monkeypatch, tmp_path, watchdog):
    monkeypatch.setenv("NNVIZ_RECORD", str(tmp_path / "runs"))
    w = open_monkey_window(qtbot, "xor")
    w.actions_.play.trigger()
    qtbot.waitUntil(lambda: w.session.history.metrics.last_step > 5, timeout=120_000)
    w.close()
    qtbot.waitUntil(lambda: not w.session._threads.thread.isRunning(), timeout=30_000)
    from nnviz.core import run as R

    w.session._on_event(R.Metrics(**_metrics_fields(w)))  # one that was still queued
    rec = w.session.recorder
    leaked = rec is not None and rec.writer is not None
    _close_reopened_recorder(w)
    assert not leaked


def _metrics_fields(w) -> dict:
    import dataclasses

    import numpy as np

    from nnviz.core import run as R

    fields = {f.name for f in dataclasses.fields(R.Metrics)}
    last = w.session.history.metrics.last_step
    values = {
        "step": last + 1, "epoch": 0, "steps": np.array([last]), "losses": np.array([0.5]),
        "evals": (), "rate": 0.0, "steps_per_epoch": 1,
    }  # fmt: skip
    return {k: v for k, v in values.items() if k in fields}


@pytest.fixture
def watchdog():
    """A deadlock ends the run with every thread's stack instead of hanging CI."""
    faulthandler.dump_traceback_later(900, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# scripts/monkey.py runs longer: more actions, more seeds (through these variables)
ACTIONS = int(os.environ.get("NNVIZ_MONKEY_ACTIONS", "150"))
SEEDS = [int(s) for s in os.environ.get("NNVIZ_MONKEY_SEEDS", "1").split(",")]
RUNS = [(sc, seed + k) for seed in SEEDS for k, sc in enumerate(SCENARIOS)]


@pytest.mark.qt_log_level_fail("WARNING")
@pytest.mark.qt_log_ignore("This plugin does not support", "QStandardPaths")
@pytest.mark.parametrize("scenario, seed", RUNS)
def test_monkey(qtbot, app, monkeypatch, tmp_path, watchdog, scenario, seed):
    monkey = run_monkey(qtbot, monkeypatch, tmp_path, seed, scenario, n=ACTIONS)
    assert len(monkey.log) == ACTIONS
