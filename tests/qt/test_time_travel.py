"""Time travel: the scrubber and its keys make every view show a past
snapshot of the app's own run, the loss view marks it, End returns to live."""

from __future__ import annotations

import pytest
from PySide6 import QtCore

from nnviz.qt.main_window import MainWindow

WAIT_MS = 120_000  # building a model takes seconds on a busy machine
Key = QtCore.Qt.Key


@pytest.fixture
def window(qtbot, app, monkeypatch, tmp_path):
    monkeypatch.setenv("NNVIZ_RECORD", str(tmp_path / "runs"))
    w = MainWindow("xor")
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
    s = w.session
    for n in range(1, 6):  # five steps shown one by one: each one kept
        s.step_once()
        qtbot.waitUntil(lambda n=n: s.step == n and len(s.timeline_steps()) >= n, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.network.snapshot is s.history.snapshots.latest, timeout=WAIT_MS)
    yield w
    w.close()
    # a loaded machine can take seconds to stop the worker: the window goes once it has
    qtbot.waitUntil(lambda: w.session._threads.shutdown(200), timeout=WAIT_MS)
    w.deleteLater()  # its menus are top-level widgets too


def click_step(qtbot, w, step: int) -> None:
    tl = w.time_travel.scrubber.timeline
    w.time_travel.sync()
    pos = QtCore.QPoint(round(tl.x_of(step)), tl.height() // 2)
    qtbot.mouseClick(tl, QtCore.Qt.LeftButton, pos=pos)


def test_scrubbing_shows_the_chosen_steps_snapshot_in_every_view(qtbot, window):
    w, s = window, window.session
    steps = s.timeline_steps()
    assert len(steps) >= 5
    target = steps[2]
    click_step(qtbot, w, target)
    assert s.viewing == target
    snap = s.history.snapshots.at(target)
    assert snap.step == target
    assert w.network.snapshot is snap  # the network draws that step's numbers
    assert w.loss.marker_x() == pytest.approx(target)  # x axis in steps by default
    assert f"viewing step {target}" in s.status_text()
    assert "End returns to live" in s.status_text()
    assert w.time_travel.scrubber.live.isChecked() is False


def test_keys_step_through_the_snapshots_and_end_returns_to_live(qtbot, window):
    w, s = window, window.session
    steps = s.timeline_steps()
    qtbot.keyClick(w, Key.Key_Comma)
    assert s.viewing == steps[-2]
    qtbot.keyClick(w, Key.Key_Comma)
    assert s.viewing == steps[-3]
    assert w.network.snapshot.step == steps[-3]
    qtbot.keyClick(w, Key.Key_Period)
    assert s.viewing == steps[-2]
    assert w.network.snapshot.step == steps[-2]
    qtbot.keyClick(w, Key.Key_Left, QtCore.Qt.AltModifier)
    assert s.viewing == steps[-3]
    qtbot.keyClick(w, Key.Key_End)
    assert s.viewing is None
    qtbot.waitUntil(lambda: w.network.snapshot is s.history.snapshots.latest)
    assert w.loss.marker_x() is None
    assert w.time_travel.scrubber.live.isChecked()


def test_training_goes_on_while_the_past_is_shown(qtbot, window):
    w, s = window, window.session
    steps = s.timeline_steps()
    s.view_step(steps[1])
    shown = w.network.snapshot
    before = s.step
    for n in range(1, 4):
        s.step_once()
        qtbot.waitUntil(lambda n=n: s.step == before + n, timeout=WAIT_MS)
    qtbot.wait(100)  # a few frames
    assert w.network.snapshot is shown  # still the past
    assert s.viewing == steps[1]
    assert f"of {s.step}" in s.status_text()
    qtbot.keyClick(w, Key.Key_End)
    qtbot.waitUntil(lambda: w.network.snapshot is s.history.snapshots.latest)
    assert w.network.snapshot.step > shown.step


def test_the_help_lists_the_time_travel_keys(window):
    rows = window.actions_.shortcut_table()
    groups = {group for _keys, _desc, group in rows}
    assert "Time travel" in groups
    keys = " ".join(k for k, _d, g in rows if g == "Time travel")
    assert "," in keys and "." in keys and "End" in keys
