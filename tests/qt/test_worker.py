"""The training worker on its own thread: commands in, signals out, never a widget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6 import QtCore

from nnviz.core import run as R
from nnviz.core.engine import TrainConfig
from nnviz.core.scenarios import get_scenario
from nnviz.qt.worker import WorkerThread
from tests.factories import FlakyModel

XOR = get_scenario("xor")
WAIT_MS = 10_000  # the first trainer of a process imports torch's optimizers (~1 s)


class Recorder(QtCore.QObject):
    """Keeps every event the worker sends, received on the GUI thread."""

    def __init__(self, worker) -> None:
        super().__init__()
        self.chunks, self.snapshots, self.infos = [], [], []
        self.states, self.errors, self.rejections, self.halts = [], [], [], []
        self.finishes, self.history = [], []
        worker.event.connect(self.on_event)

    def on_event(self, ev) -> None:
        match ev:
            case R.Metrics():
                self.chunks.append(ev)
            case R.SnapshotReady(snap):
                self.snapshots.append(snap)
            case R.Built(info):
                self.infos.append(info)
            case R.StateChanged(playing):
                self.states.append("playing" if playing else "paused")
            case R.Rejected(message, details):
                self.rejections.append((message, details))
            case R.Halted(R.HALT_PLANNED, message):
                self.finishes.append(message)
            case R.Halted(R.HALT_NONFINITE, message):
                self.halts.append(message)
            case R.Halted(_, message, details) | R.Failed(message, details):
                self.errors.append((message, details))
            case R.HistoryChanged(u, r):
                self.history.append((u, r))

    @property
    def step(self) -> int:
        return self.chunks[-1].step if self.chunks else 0

    def losses(self) -> np.ndarray:
        return np.concatenate([c.losses for c in self.chunks]) if self.chunks else np.empty(0)


@pytest.fixture
def threaded(qtbot):
    wt = WorkerThread()
    rec = Recorder(wt.worker)
    wt.start()
    yield wt, rec
    assert wt.shutdown(), "the worker thread did not end within 2 s"
    assert not wt.thread.isRunning()


def configure(qtbot, wt, rec, scenario=XOR, config=None, model=None) -> None:
    n = len(rec.snapshots)
    wt.worker.submit(
        R.Configure(scenario, config or TrainConfig.for_scenario(scenario), None, model)
    )
    qtbot.waitUntil(lambda: len(rec.snapshots) > n, timeout=WAIT_MS)


def paused_at(qtbot, rec, step: int) -> None:
    qtbot.waitUntil(lambda: rec.step == step and rec.states[-1] == "paused", timeout=WAIT_MS)


def test_step_trains_one_batch_and_the_last_step_of_an_epoch_is_shown(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    info = rec.infos[-1]
    assert info.widths == (2, 8, 1) and info.steps_per_epoch == 20  # 200 points, batches of 10
    assert rec.snapshots[-1].step == 0  # the fresh model is shown before any step

    wt.worker.submit(R.Step(1))
    paused_at(qtbot, rec, 1)
    assert len(rec.losses()) == 1
    qtbot.waitUntil(lambda: rec.snapshots[-1].step == 0 and len(rec.snapshots) == 2)

    wt.worker.submit(R.StepEpoch())  # from step 1 to the end of the first epoch
    paused_at(qtbot, rec, 20)
    assert rec.chunks[-1].epoch == 1 and len(rec.losses()) == 20
    # the network view gets the epoch's last step, not the state before the epoch
    qtbot.waitUntil(lambda: rec.snapshots[-1].step == 19)
    qtbot.wait(100)
    assert rec.step == 20  # and nothing ran past it


def test_pause_shows_the_model_as_it_stopped(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: rec.step >= 50, timeout=WAIT_MS)
    wt.worker.submit(R.Pause())
    qtbot.waitUntil(lambda: rec.states[-1] == "paused")
    qtbot.waitUntil(lambda: rec.snapshots[-1].step == rec.step)
    stopped = rec.step
    qtbot.wait(150)
    assert rec.step == stopped == wt.worker.trainer.step_count


def test_learning_rate_changes_live_without_a_reset(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    wt.worker.submit(R.Step(5))
    paused_at(qtbot, rec, 5)
    weights = wt.worker.trainer.model[0].weight.detach().clone()
    wt.worker.submit(R.SetLearningRate(0.125))
    opt = wt.worker.trainer.optimizer
    qtbot.waitUntil(lambda: opt.param_groups[0]["lr"] == 0.125)
    assert wt.worker.trainer.step_count == 5  # same model, same optimizer state
    assert wt.worker.trainer.optimizer is opt
    assert torch.equal(wt.worker.trainer.model[0].weight, weights)
    assert len(rec.infos) == 1  # nothing was rebuilt


def test_a_bad_configuration_is_rejected_and_the_model_kept(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    trainer = wt.worker.trainer
    wt.worker.submit(R.Configure(XOR, replace(trainer.config, loss="cross_entropy")))
    qtbot.waitUntil(lambda: bool(rec.rejections), timeout=WAIT_MS)
    message, details = rec.rejections[-1]
    assert "cross-entropy needs one output per class" in message and details == ""
    assert wt.worker.trainer is trainer and len(rec.infos) == 1
    wt.worker.submit(R.Step(1))  # and it still trains
    paused_at(qtbot, rec, 1)


def test_an_exception_in_training_is_reported_and_training_can_go_on(qtbot, threaded):
    wt, rec = threaded
    model = FlakyModel()
    configure(qtbot, wt, rec, model=model)
    assert rec.infos[-1].widths == (2, 4, 1)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: rec.step >= 10, timeout=WAIT_MS)
    model.fail = True
    qtbot.waitUntil(lambda: bool(rec.errors), timeout=WAIT_MS)
    message, details = rec.errors[-1]
    assert "RuntimeError: boom in the user's forward" in message
    assert "Training stopped at step" in message
    assert "Traceback" in details
    qtbot.waitUntil(lambda: rec.states[-1] == "paused")
    assert wt.thread.isRunning()  # the worker survived

    model.fail = False
    wt.worker.submit(R.Reset())
    qtbot.waitUntil(lambda: len(rec.infos) == 2)
    assert wt.worker.trainer.step_count == 0
    n = len(rec.chunks)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: len(rec.chunks) > n and rec.step >= 5, timeout=WAIT_MS)


def test_a_nan_loss_pauses_training_and_says_what_to_do(qtbot, threaded):
    wt, rec = threaded
    digits = get_scenario("digits-mlp")
    cfg = TrainConfig.for_scenario(digits, optimizer="sgd", lr=1e30)  # blows up in 2 steps
    configure(qtbot, wt, rec, scenario=digits, config=cfg)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: bool(rec.halts), timeout=WAIT_MS)
    assert "nan" in rec.halts[-1].lower() and "Lower the learning rate" in rec.halts[-1]
    qtbot.waitUntil(lambda: rec.states[-1] == "paused")
    halted_at = wt.worker.trainer.step_count
    qtbot.wait(150)
    assert wt.worker.trainer.step_count == halted_at  # paused, not racing on NaNs
    assert rec.losses().size == halted_at and not np.isfinite(rec.losses()[-1])


def test_speed_change_and_stop_take_effect_in_the_middle_of_a_slow_step(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    wt.worker.submit(R.SetPace(60.0, True))  # one step a minute
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: rec.step == 1, timeout=WAIT_MS)  # each step is shown at once
    wt.worker.submit(R.SetPace(0.0, False))  # back to full speed: no minute's wait
    qtbot.waitUntil(lambda: rec.step >= 20, timeout=WAIT_MS)
    wt.worker.submit(R.SetPace(60.0, True))
    qtbot.wait(100)
    n = rec.step
    qtbot.wait(200)
    assert rec.step == n  # asleep for a minute: the fixture's shutdown must still join in 2 s


def test_unload_stops_the_old_model_training(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: rec.step >= 10, timeout=WAIT_MS)
    wt.worker.submit(R.Unload())  # an expression scenario was opened
    qtbot.waitUntil(lambda: rec.states[-1] == "paused")
    qtbot.wait(50)
    n = len(rec.chunks)
    qtbot.wait(150)
    assert len(rec.chunks) == n and wt.worker.trainer is None


def test_each_step_shows_the_next_sample_of_the_batch(qtbot, threaded):
    """The OR gate trains on its whole truth table at once: stepping shows each
    of its four inputs in turn, not always the first one, (0, 0)."""
    wt, rec = threaded
    or_gate = get_scenario("or-gate")
    configure(qtbot, wt, rec, or_gate)
    assert tuple(rec.snapshots[-1].input) == (0.0, 0.0)
    shown = []
    for _ in range(4):
        n = len(rec.snapshots)
        wt.worker.submit(R.Step(1))
        qtbot.waitUntil(lambda n=n: len(rec.snapshots) > n, timeout=WAIT_MS)
        shown.append(tuple(float(v) for v in rec.snapshots[-1].input))
    assert shown == [(0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]


def test_play_pauses_at_the_scenarios_length_and_goes_on_when_asked(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)  # xor: 30 epochs of 20 batches
    planned = XOR.epochs * rec.infos[-1].steps_per_epoch
    wt.worker.submit(R.Play())
    paused_at(qtbot, rec, planned)
    qtbot.waitUntil(lambda: bool(rec.finishes), timeout=WAIT_MS)  # it follows the pause
    assert f"{planned:,} steps" in rec.finishes[-1]
    qtbot.waitUntil(lambda: rec.snapshots[-1].step == planned, timeout=WAIT_MS)  # the final model
    wt.worker.submit(R.Play())  # Play again: past the planned length
    qtbot.waitUntil(lambda: rec.step > planned + 20, timeout=WAIT_MS)
    wt.worker.submit(R.Pause())
    assert len(rec.finishes) == 1


def test_undo_brings_back_the_trained_model_a_reset_or_a_rebuild_replaced(qtbot, threaded):
    wt, rec = threaded
    history = rec.history
    configure(qtbot, wt, rec)
    wt.worker.submit(R.Step(25))
    paused_at(qtbot, rec, 25)
    trained = {k: v.clone() for k, v in wt.worker.trainer.model.state_dict().items()}

    wt.worker.submit(R.Reset())  # a stray R
    qtbot.waitUntil(lambda: rec.infos[-1] and wt.worker.trainer.step_count == 0)
    qtbot.waitUntil(lambda: bool(history) and history[-1] == (True, False))
    wt.worker.submit(R.Undo())
    qtbot.waitUntil(lambda: wt.worker.trainer.step_count == 25, timeout=WAIT_MS)
    for k, v in wt.worker.trainer.model.state_dict().items():
        assert torch.equal(v, trained[k]), k
    qtbot.waitUntil(lambda: history[-1] == (False, True))

    # a settings change rebuilds; undo restores the old settings and weights
    wt.worker.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), hidden=(3,))))
    qtbot.waitUntil(lambda: rec.infos[-1].widths == (2, 3, 1), timeout=WAIT_MS)
    wt.worker.submit(R.Undo())
    qtbot.waitUntil(lambda: rec.infos[-1].widths == (2, 8, 1), timeout=WAIT_MS)
    assert rec.infos[-1].config.hidden != (3,)
    assert wt.worker.trainer.step_count == 25
    wt.worker.submit(R.Step(1))  # and it trains on from where it was
    qtbot.waitUntil(lambda: wt.worker.trainer.step_count == 26, timeout=WAIT_MS)

    wt.worker.submit(R.Redo())  # back to the rebuilt one
    qtbot.waitUntil(lambda: rec.infos[-1].widths == (2, 3, 1), timeout=WAIT_MS)


def test_the_validation_curve_ends_where_training_stopped(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    wt.worker.submit(R.Play())
    qtbot.waitUntil(lambda: rec.step > 30, timeout=WAIT_MS)
    wt.worker.submit(R.Pause())
    # the last chunk of the run carries an evaluation at the step training stopped at
    qtbot.waitUntil(
        lambda: bool(rec.chunks[-1].evals) and rec.chunks[-1].evals[-1].step == rec.step,
        timeout=WAIT_MS,
    )
    assert rec.step == wt.worker.trainer.step_count


def test_a_settings_change_keeps_the_data_and_shares_it_with_the_undo_copy(qtbot, threaded):
    wt, rec = threaded
    configure(qtbot, wt, rec)
    first = wt.worker.trainer
    wt.worker.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), hidden=(4,))))
    qtbot.waitUntil(lambda: rec.infos[-1].widths == (2, 4, 1), timeout=WAIT_MS)
    assert wt.worker.trainer.dataset is first.dataset  # not loaded again
    # a new seed draws a new split of the data: loaded anew
    wt.worker.submit(R.Configure(XOR, replace(TrainConfig.for_scenario(XOR), seed=3)))
    qtbot.waitUntil(lambda: rec.infos[-1].config.seed == 3, timeout=WAIT_MS)
    assert wt.worker.trainer.dataset is not first.dataset
