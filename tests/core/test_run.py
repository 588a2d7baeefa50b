"""The core run loop, driven headless with typed commands: play, pause, step,
NaN halt, planned length, undo, reset, the learning rate, errors."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from nnviz.core import run as R
from nnviz.core.engine import TrainConfig
from nnviz.core.scenarios import get_scenario
from nnviz.core.threads import ThreadTuner
from tests.factories import FlakyModel

XOR = get_scenario("xor")  # 200 training points, batches of 10: 20 steps an epoch


class Driven:
    """A Run and every event it produced, sorted by kind."""

    def __init__(self, scenario=XOR, config=None, model=None) -> None:
        self.run = R.Run(threads=ThreadTuner(fixed=1), emit_interval=0.05)
        self.events: list = []
        self.submit(
            R.Configure(scenario, config or TrainConfig.for_scenario(scenario), None, model)
        )

    def submit(self, *commands) -> list:
        n = len(self.events)
        for c in commands:
            self.run.submit(c)
        self.events.extend(self.run.run_until_idle())
        return self.events[n:]

    def of(self, kind) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def losses(self) -> np.ndarray:
        ms = self.of(R.Metrics)
        return np.concatenate([m.losses for m in ms]) if ms else np.empty(0)

    @property
    def step(self) -> int:
        ms = self.of(R.Metrics)
        return ms[-1].step if ms else 0

    @property
    def trainer(self):
        return self.run.trainer


def test_configure_builds_and_shows_the_fresh_model():
    d = Driven()
    info = d.of(R.Built)[-1].info
    assert info.widths == (2, 8, 1) and info.steps_per_epoch == 20
    assert d.of(R.SnapshotReady)[-1].snapshot.step == 0
    assert d.of(R.StateChanged)[-1].playing is False


def test_step_trains_exactly_n_batches_and_shows_the_last():
    d = Driven()
    new = d.submit(R.Step(3))
    assert d.step == 3 and d.trainer.step_count == 3 and len(d.losses) == 3
    snaps = [e.snapshot for e in new if isinstance(e, R.SnapshotReady)]
    assert [s.step for s in snaps] == [2]  # the last step, captured as it trained
    assert isinstance(new[-1], R.StateChanged) and new[-1].playing is False
    d.submit(R.StepEpoch())  # from step 3 to the end of the first epoch
    assert d.trainer.step_count == 20 and d.trainer.epoch == 1
    assert d.of(R.Metrics)[-1].epoch == 1
    assert d.losses.size == 20 and np.array_equal(
        np.concatenate([m.steps for m in d.of(R.Metrics)]), np.arange(20)
    )


def test_play_and_pause_from_another_thread():
    run = R.Run(threads=ThreadTuner(fixed=1))
    run.submit(R.Configure(get_scenario("gauss")))
    events: list = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            events.extend(run.advance(wait=0.01))

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while run.trainer is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        assert run.trainer.step_count == 0  # built, paused: nothing runs
        run.submit(R.Play())
        while run.trainer.step_count < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        run.submit(R.Pause())
        time.sleep(0.1)
        n = run.trainer.step_count
        time.sleep(0.1)
        assert run.trainer.step_count == n >= 20  # paused stays paused
        run.submit(R.Step(1))
        while run.trainer.step_count == n and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        assert run.trainer.step_count == n + 1
    finally:
        stop.set()
        run.wake()
        worker.join(timeout=10)
    assert not worker.is_alive()
    steps = np.concatenate([e.steps for e in events if isinstance(e, R.Metrics)])
    assert np.array_equal(steps, np.arange(n + 1))  # every step reported once, in order
    # pausing after play shows the model as it stopped and evaluates there
    paused = [e for e in events if isinstance(e, R.Metrics) and e.evals]
    assert any(e.evals[-1].step == n for e in paused)


def test_a_nan_loss_halts_and_says_what_to_do():
    digits = get_scenario("digits-mlp")
    cfg = TrainConfig.for_scenario(digits, optimizer="sgd", lr=1e30)  # blows up in 2 steps
    d = Driven(digits, cfg)
    d.run.submit(R.Play())
    for _ in range(200):
        d.events.extend(d.run.advance(wait=0))
        if d.of(R.Halted):
            break
    halt = d.of(R.Halted)[-1]
    assert halt.reason == R.HALT_NONFINITE and "Lower the learning rate" in halt.message
    assert not d.run.playing and not d.run.busy
    halted_at = d.trainer.step_count
    d.events.extend(d.run.advance(wait=0))
    assert d.trainer.step_count == halted_at  # paused, not racing on NaNs
    assert d.losses.size == halted_at and not np.isfinite(d.losses[-1])


def test_play_halts_at_the_planned_length_and_goes_on_when_asked():
    d = Driven()
    planned = XOR.epochs * d.trainer.steps_per_epoch
    new = d.submit(R.Play())
    halts = [e for e in new if isinstance(e, R.Halted)]
    assert [h.reason for h in halts] == [R.HALT_PLANNED] and f"{planned:,} steps" in halts[
        0
    ].message
    assert d.trainer.step_count == planned and not d.run.playing
    # the views get the final model, and the curves an evaluation where it stopped
    assert [e for e in new if isinstance(e, R.SnapshotReady)][-1].snapshot.step == planned
    assert d.of(R.Metrics)[-1].evals[-1].step == planned
    d.run.submit(R.Play())  # Play again: past the planned length
    for _ in range(30):
        d.events.extend(d.run.advance(wait=0))
    d.submit(R.Pause())
    assert d.trainer.step_count > planned and len(d.of(R.Halted)) == 1


def test_undo_and_redo_bring_back_what_a_reset_or_a_rebuild_replaced():
    d = Driven()
    d.submit(R.Step(25))
    trained = {k: v.clone() for k, v in d.trainer.model.state_dict().items()}
    d.submit(R.Reset())
    assert d.trainer.step_count == 0
    assert d.of(R.HistoryChanged)[-1] == R.HistoryChanged(True, False)
    d.submit(R.Undo())
    assert d.trainer.step_count == 25
    for k, v in d.trainer.model.state_dict().items():
        assert torch.equal(v, trained[k]), k
    assert d.of(R.HistoryChanged)[-1] == R.HistoryChanged(False, True)
    # a settings change rebuilds; undo restores the old settings and weights
    d.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), hidden=(3,))))
    assert d.of(R.Built)[-1].info.widths == (2, 3, 1)
    d.submit(R.Undo())
    assert d.of(R.Built)[-1].info.widths == (2, 8, 1) and d.trainer.step_count == 25
    d.submit(R.Step(1))  # and it trains on from where it was
    assert d.trainer.step_count == 26
    d.submit(R.Redo())
    assert d.of(R.Built)[-1].info.widths == (2, 3, 1)


def test_reset_starts_the_same_model_again():
    d = Driven()
    d.submit(R.Step(10))
    first = d.losses.copy()
    d.submit(R.Reset(), R.Step(10))
    assert np.array_equal(d.losses[10:], first)


def test_the_learning_rate_changes_live_and_bad_ones_are_refused():
    d = Driven()
    d.submit(R.Step(5))
    opt, weights = d.trainer.optimizer, d.trainer.model[0].weight.detach().clone()
    d.submit(R.SetLearningRate(0.125))
    assert opt.param_groups[0]["lr"] == 0.125 and d.trainer.config.lr == 0.125
    assert d.trainer.optimizer is opt and torch.equal(d.trainer.model[0].weight, weights)
    assert len(d.of(R.Built)) == 1  # nothing was rebuilt
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        (failed,) = d.submit(R.SetLearningRate(bad))
        assert isinstance(failed, R.Failed) and "learning rate must be a positive number" in (
            failed.message
        )
    assert opt.param_groups[0]["lr"] == 0.125


def test_a_bad_configuration_is_rejected_and_the_model_kept():
    d = Driven()
    trainer = d.trainer
    new = d.submit(R.Configure(XOR, replace(trainer.config, loss="cross_entropy")))
    (rejected,) = [e for e in new if isinstance(e, R.Rejected)]
    assert "cross-entropy needs one output per class" in rejected.message
    assert d.trainer is trainer and len(d.of(R.Built)) == 1
    d.submit(R.Step(1))  # and it still trains
    assert d.trainer.step_count == 1


def test_an_exception_in_training_halts_with_the_traceback_and_training_can_go_on():
    model = FlakyModel()
    d = Driven(model=model)
    d.submit(R.Step(5))
    model.fail = True
    new = d.submit(R.Play())
    (halt,) = [e for e in new if isinstance(e, R.Halted)]
    assert (
        halt.reason == R.HALT_ERROR and "RuntimeError: boom in the user's forward" in halt.message
    )
    assert "Training stopped at step 6" in halt.message and "Traceback" in halt.details
    assert not d.run.busy
    model.fail = False
    d.submit(R.Reset(), R.Step(5))
    assert d.trainer.step_count == 5


def test_each_step_shows_the_next_sample_of_the_batch():
    """The OR gate trains on its whole truth table at once: stepping shows each
    of its four inputs in turn, not always the first one, (0, 0)."""
    d = Driven(get_scenario("or-gate"))
    assert tuple(d.of(R.SnapshotReady)[-1].snapshot.input) == (0.0, 0.0)
    shown = []
    for _ in range(4):
        d.submit(R.Step(1))
        shown.append(tuple(float(v) for v in d.of(R.SnapshotReady)[-1].snapshot.input))
    assert shown == [(0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]


def test_unload_and_an_expression_scenario_stop_training():
    d = Driven()
    d.run.submit(R.Play())
    for _ in range(10):
        d.events.extend(d.run.advance(wait=0))
    new = d.submit(R.Configure(get_scenario("chain-rule")))
    assert any(isinstance(e, R.Unloaded) for e in new)
    assert d.trainer is None and not d.run.busy
    assert d.submit(R.Play(), R.Step(3)) == []  # nothing to train: nothing happens
    (graph,) = d.submit(R.CaptureGraph())  # but its graph can be captured
    assert isinstance(graph, R.GraphReady)
    assert graph.trace.by_name("a").grad.item() == pytest.approx(3.0)


def test_a_settings_change_keeps_the_data_and_a_new_seed_loads_it_anew():
    d = Driven()
    first = d.trainer
    d.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), hidden=(4,))))
    assert d.trainer.dataset is first.dataset  # not loaded again
    d.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), seed=3)))
    assert d.trainer.dataset is not first.dataset


def test_the_teaching_pace_waits_between_steps_and_captures_each():
    d = Driven()
    d.submit(R.SetPace(0.05, True))
    d.run.submit(R.Play())
    t0 = time.perf_counter()
    while d.trainer.step_count < 3:
        d.events.extend(d.run.advance(wait=0.01))
    took = time.perf_counter() - t0
    d.submit(R.Pause())
    assert took >= 0.09  # three steps, two waits of 50 ms between them at least
    steps = [e.snapshot.step for e in d.of(R.SnapshotReady)]
    assert {0, 1, 2} <= set(steps)  # every step was captured


def test_evaluate_and_request_snapshot_when_paused():
    d = Driven()
    d.submit(R.Step(4))
    (metrics,) = d.submit(R.Evaluate())
    assert metrics.evals[-1].step == 4 and metrics.losses.size == 0
    (snap,) = d.submit(R.RequestSnapshot())
    assert snap.snapshot.step == 4


def test_drive_raises_a_rejected_configuration_as_one_clear_error():
    from nnviz.core.errors import NnvizError

    run = R.Run(threads=ThreadTuner(fixed=1))
    run.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), loss="cross_entropy")))
    with pytest.raises(NnvizError, match="cross-entropy needs one output per class"):
        run.drive()
