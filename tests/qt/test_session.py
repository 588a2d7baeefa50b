"""The GUI side of a training session: the frame clock, snapshot requests,
the teaching-pace animation, scenario switches and shutdown."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nnviz.core import run as R
from nnviz.qt.frame_pacer import FRAME_MS
from nnviz.qt.pass_animator import PassAnimator
from nnviz.qt.session import Session

WAIT_MS = 10_000


@pytest.fixture
def session(qtbot):
    s = Session()
    yield s
    assert s.shutdown(), "the worker thread did not end within 2 s"
    assert not s._threads.thread.isRunning()


def built(qtbot, s: Session, scenario_id: str = "xor") -> None:
    with qtbot.waitSignal(s.built, timeout=WAIT_MS):
        s.open_scenario(scenario_id)
    qtbot.waitUntil(lambda: s.step == 0 and not s.playing)


def test_pass_animator_runs_forward_then_backward_over_one_step_period():
    a = PassAnimator()
    a.configure(2.0, False)
    a.start(now=0.0)
    assert a.phase(now=0.1) == (None, 0.0)  # full speed: nothing to animate
    a.configure(2.0, True)
    a.start(now=10.0)
    phase, p = a.phase(now=10.45)
    assert phase == "forward" and p == pytest.approx(0.5)
    phase, p = a.phase(now=11.35)
    assert phase == "backward" and p == pytest.approx(0.5)
    assert a.phase(now=11.9) == (None, 0.0)  # the rest of the period shows the update
    assert a.phase(now=10.1) == (None, 0.0)  # and it is over until the next step starts


def test_at_full_speed_snapshots_are_asked_for_at_most_once_a_frame(qtbot, session, monkeypatch):
    # about pacing, not about xor's planned length (600 steps: under half a second)
    monkeypatch.setattr(R, "planned_steps", lambda t: None)
    built(qtbot, session)
    frames, requests, shown = [], [], []
    ask = session.request_snapshot
    session.request_snapshot = lambda: (requests.append(len(frames)), ask())
    session.frame.connect(lambda: frames.append(1))
    session.snapshotReady.connect(shown.append)
    session.play()
    qtbot.waitUntil(lambda: session.playing and len(frames) >= 12, timeout=WAIT_MS)
    session.pause()
    qtbot.waitUntil(lambda: not session.playing)
    assert session.step > len(frames)  # training ran many steps per frame...
    assert 2 <= len(requests) <= len(frames)  # ...and asked for one snapshot a frame at most
    assert len(set(requests)) == len(requests)  # never two in the same frame
    assert len(shown) <= len(frames)
    steps = [snap.step for snap in shown]
    assert steps == sorted(steps)  # only ever newer ones


def test_teaching_pace_animates_forward_then_backward_and_keeps_the_full_frame_rate(qtbot, session):
    built(qtbot, session)
    session.set_speed(0.5, True)  # the slider's slowest non-teaching pace animates too
    assert session.timer.interval() == FRAME_MS
    phases = []
    session.frame.connect(lambda: phases.append(session.animator.phase()))
    session.step_once()
    qtbot.waitUntil(lambda: session.step == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(phases) > 5 and phases[-1][0] is None)
    names = [p for p, _ in phases]
    fwd = [p for name, p in phases if name == "forward"]
    bwd = [p for name, p in phases if name == "backward"]
    assert len(fwd) >= 3 and len(bwd) >= 3  # several frames of each pass
    assert names.index("backward") > max(i for i, n in enumerate(names) if n == "forward")
    assert fwd == sorted(fwd) and bwd == sorted(bwd)
    assert session.step == 1  # one step, animated; nothing else ran


def test_opening_an_expression_stops_the_model_that_was_training(qtbot, session):
    built(qtbot, session)
    session.play()
    qtbot.waitUntil(lambda: session.playing and session.step > 10, timeout=WAIT_MS)
    session.open_scenario("chain-rule")
    qtbot.waitUntil(lambda: not session.playing)
    assert session.info is None and session.worker.trainer is None
    qtbot.wait(100)
    assert session.step == 0 and not session.playing


def test_a_rejected_setting_restores_the_one_in_use(qtbot, session):
    built(qtbot, session)
    good = session.config
    errors, rejected = [], []
    session.errorRaised.connect(lambda m, d: errors.append(m))
    session.configRejected.connect(rejected.append)
    session.apply_config(replace(good, optimizer="sparseadam"))
    qtbot.waitUntil(lambda: bool(rejected), timeout=WAIT_MS)
    assert session.config == good and rejected[0].config == good
    assert "SparseAdam" in errors[0] and "choose Adam or AdamW" in errors[0]


def test_shutdown_joins_the_worker_while_it_trains(qtbot):
    s = Session()
    with qtbot.waitSignal(s.built, timeout=WAIT_MS):
        s.open_scenario("or-gate")
    s.play()
    qtbot.waitUntil(lambda: s.step > 100, timeout=WAIT_MS)
    assert s.shutdown()  # joined (within 2 s, or False)
    assert not s._threads.thread.isRunning() and not s.timer.isActive()
