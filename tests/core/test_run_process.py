"""The run loop in a child process: the same commands and events across a
pipe, snapshots arriving write-protected, and a crash in the child reported
without taking the parent down."""

from __future__ import annotations

import time
from types import MappingProxyType

import numpy as np
import pytest

from nnviz.core import run as R
from nnviz.core.engine import TrainConfig
from nnviz.core.run_process import RunProcess
from nnviz.core.scenarios import get_scenario
from tests.factories import ExitingModel

XOR = get_scenario("xor")
TIMEOUT_S = 60  # the first child of a test run starts the fork server (imports torch)


@pytest.fixture
def child():
    rp = RunProcess()
    yield rp
    assert rp.close(), "the child did not end when asked"


def events_until(rp: RunProcess, done, timeout: float = TIMEOUT_S) -> list:
    got: list = []
    end = time.monotonic() + timeout
    while not done(got):
        assert time.monotonic() < end, f"timed out; events so far: {got}"
        got += rp.advance(0.05)
    return got


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_a_child_trains_what_it_is_told_and_reports_every_step(child):
    child.submit(R.Configure(XOR, TrainConfig.for_scenario(XOR)))
    got = events_until(child, lambda ev: bool(of(ev, R.SnapshotReady)))
    info = of(got, R.Built)[0].info
    assert info.scenario is XOR and info.widths == (2, 8, 1)  # the scenario came back by id
    snap = of(got, R.SnapshotReady)[0].snapshot
    assert snap.step == 0 and isinstance(snap.params, MappingProxyType)
    assert not snap.input.flags.writeable and not snap.params["0.weight"].flags.writeable
    assert snap.layers[0].weight is snap.params["0.weight"]  # shared, as in the child

    child.submit(R.Step(7))
    got = events_until(
        child, lambda ev: any(isinstance(e, R.StateChanged) and not e.playing for e in ev[1:])
    )
    steps = np.concatenate([m.steps for m in of(got, R.Metrics)])
    assert np.array_equal(steps, np.arange(7)) and of(got, R.Metrics)[-1].step == 7
    assert [s.snapshot.step for s in of(got, R.SnapshotReady)] == [6]


def test_an_expression_is_captured_in_the_child(child):
    child.submit(R.Configure(get_scenario("chain-rule")))
    child.submit(R.CaptureGraph())
    got = events_until(child, lambda ev: bool(of(ev, R.GraphReady)))
    trace = of(got, R.GraphReady)[0].trace
    grads = {n: float(trace.by_name(n).grad) for n in "abc"}
    assert grads == pytest.approx({"a": 3.0, "b": 6.0, "c": 9.0})


def test_a_crash_in_the_child_is_reported_and_a_fresh_child_trains_on(child):
    child.submit(
        R.Configure(XOR, TrainConfig.for_scenario(XOR), None, ExitingModel(exit_code=3, calls=1))
    )
    events_until(child, lambda ev: bool(of(ev, R.Built)))
    first = child.pid
    child.submit(R.Step(1))  # after the first snapshot's, the model's forward ends the process
    got = events_until(child, lambda ev: bool(of(ev, R.Halted)))
    (halt,) = of(got, R.Halted)
    assert halt.reason == R.HALT_ERROR and "exit code 3" in halt.message
    assert "the window is fine" in halt.message and of(got, R.Unloaded)
    assert child.pid != first and child.restarts == 1
    child.submit(R.Configure(XOR, TrainConfig.for_scenario(XOR)))
    child.submit(R.Step(3))
    got = events_until(child, lambda ev: any(isinstance(e, R.Metrics) and e.step == 3 for e in ev))
    assert of(got, R.Built)


def test_a_child_that_cannot_start_is_reported_once_and_not_restarted(monkeypatch):
    monkeypatch.setattr(RunProcess, "child_module", "nnviz.core.no_such_module")
    rp = RunProcess()
    try:
        got = events_until(rp, lambda ev: bool(of(ev, R.Halted)))
        (halt,) = of(got, R.Halted)
        assert "could not start (exit code 1)" in halt.message and of(got, R.Unloaded)
        assert rp.dead and rp.restarts == 0
        assert rp.advance(0.01) == []  # quiet from then on: no restart loop
    finally:
        rp.close()
