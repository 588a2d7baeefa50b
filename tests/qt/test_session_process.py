"""The app's default: training in a child process, relayed by the worker.
The window's session gets the same events, keeps the same history, and
survives the child's crash."""

from __future__ import annotations

import os
import signal

import pytest

from nnviz.qt.frame_pacer import CHILD_GUI_BUDGET
from nnviz.qt.session import Session

WAIT_MS = 60_000  # the first child of a test run starts the fork server (imports torch)


@pytest.fixture
def session(qtbot):
    s = Session(in_process=False)
    yield s
    child = s.worker.run_loop._proc
    assert s.shutdown(), "the worker thread did not end within 2 s"
    assert child.wait(5) is not None, "the training process outlived the window"


def test_the_session_trains_in_a_child_and_keeps_the_history(qtbot, session):
    assert not session.in_process and session.worker.trainer is None
    with qtbot.waitSignal(session.built, timeout=WAIT_MS):
        session.open_scenario("xor")
    # xor's planned 600 steps can be over in a fraction of a second: train past
    # them first, so that the race below has no end to stop it
    with qtbot.waitSignal(session.finished, timeout=WAIT_MS):
        session.play()
    qtbot.waitUntil(lambda: not session.playing, timeout=WAIT_MS)
    shown = []
    session.snapshotReady.connect(shown.append)
    session.play()
    qtbot.waitUntil(lambda: session.playing and session.step >= 700, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(shown) >= 3, timeout=WAIT_MS)  # pictures while racing
    assert session.playing  # they came while it raced, not from its end
    session.pause()
    qtbot.waitUntil(lambda: not session.playing, timeout=WAIT_MS)
    qtbot.wait(200)
    m = session.history.metrics
    assert m.last_step == session.step and len(m) == session.step  # every step's loss
    assert [s.step for s in shown] == sorted(s.step for s in shown)
    assert all(not s.input.flags.writeable for s in shown)
    assert len(session.history.snapshots) >= 1


def test_a_killed_training_process_is_reported_and_the_window_goes_on(qtbot, session):
    with qtbot.waitSignal(session.built, timeout=WAIT_MS):
        session.open_scenario("xor")
    errors = []
    session.errorRaised.connect(lambda msg, _d: errors.append(msg))
    os.kill(session.worker.run_loop.pid, signal.SIGKILL)
    session.play()
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert "stopped unexpectedly (signal 9)" in errors[-1]
    assert not session.playing
    qtbot.waitUntil(lambda: session.info is not None, timeout=WAIT_MS)  # built afresh
    session.step_once()
    qtbot.waitUntil(lambda: session.step == 1, timeout=WAIT_MS)


def test_when_the_child_cannot_start_the_window_trains_in_its_own_process(qtbot, monkeypatch):
    from nnviz.core.run_process import RunProcess

    monkeypatch.setattr(RunProcess, "child_module", "nnviz.core.no_such_module")
    s = Session(in_process=False)
    try:
        errors = []
        s.errorRaised.connect(lambda msg, _d: errors.append(msg))
        s.open_scenario("xor")
        qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
        assert "could not start" in errors[-1]
        qtbot.waitUntil(lambda: s.info is not None, timeout=WAIT_MS)  # built here instead
        assert s.worker.trainer is not None
        assert s.in_process and s.pacer.budget < CHILD_GUI_BUDGET  # frames paced for the GIL
        s.step_once()
        qtbot.waitUntil(lambda: s.step == 1, timeout=WAIT_MS)
    finally:
        assert s.shutdown()
