"""The run loop: typed commands in, typed events out (Qt-free).

A :class:`Run` is the one place that trains. The app's worker thread, ``nnviz
train``, ``nnviz render`` and the benchmarks all drive it the same way::

    run = Run()
    run.submit(Configure(scenario, config))
    run.submit(Step(100))
    while run.busy or run.pending:
        for event in run.advance():
            ...  # Built, Metrics, SnapshotReady, Halted, ...

:meth:`Run.submit` is thread-safe; :meth:`Run.advance` belongs to one thread
(the worker's): it handles the queued commands, trains at most one step and
returns what happened. Every training rule lives here once: the planned
length, halting on a NaN/Inf loss, which sample the views show, the learning
rate, undo and redo, the thread count.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections import deque
from pathlib import Path

import numpy as np

from nnviz.core import checkpoint  # sessions (issue 10)
from nnviz.core.devices import explain_failure
from nnviz.core.engine import EvalMetrics, TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.features import same_data as same_toy_data  # playground (issue 11)
from nnviz.core.run_messages import (
    HALT_ERROR,
    HALT_NONFINITE,
    HALT_PLANNED,
    Built,
    CaptureGraph,
    Configure,
    Evaluate,
    Failed,
    GradCheck,
    GradCheckReady,
    GraphReady,
    Halted,
    HistoryChanged,
    LoadSession,  # sessions (issue 10)
    Metrics,
    ModelInfo,
    Pause,
    Play,
    Redo,
    Rejected,
    RequestSnapshot,
    Reset,
    SaveSession,  # sessions (issue 10)
    SessionLoaded,  # sessions (issue 10)
    SessionSaved,  # sessions (issue 10)
    SetLearningRate,
    SetPace,
    SetThreads,
    SetWeight,  # playground (issue 11)
    SnapshotReady,
    StateChanged,
    Step,
    StepEpoch,
    Undo,
    Unload,
    Unloaded,
)
from nnviz.core.scenarios import Scenario
from nnviz.core.snapshot_budget import PeriodicSnapshots, SnapshotBudget
from nnviz.core.threads import ThreadTuner
from nnviz.core.user_code import full_text

__all__ = [
    "Built",
    "CaptureGraph",
    "Configure",
    "Failed",
    "GradCheck",
    "GradCheckReady",
    "GraphReady",
    "Halted",
    "HistoryChanged",
    "Metrics",
    "ModelInfo",
    "Pause",
    "Play",
    "Redo",
    "Rejected",
    "RequestSnapshot",
    "Reset",
    "Run",
    "SetLearningRate",
    "SetPace",
    "SetThreads",
    "SnapshotReady",
    "StateChanged",
    "Step",
    "StepEpoch",
    "Undo",
    "Unload",
    "Unloaded",
    "HALT_ERROR",
    "HALT_NONFINITE",
    "HALT_PLANNED",
    "model_info",
    "planned_steps",
    "SetWeight",  # playground (issue 11)
]

EMIT_INTERVAL_S = 0.1  # metrics at most 10 times a second while racing
UNDO_DEPTH = 3  # trainers kept for undo (each holds its model and optimizer state)
SAMPLE_PERIOD_S = 2.0  # at full speed, the sample the views show changes this often

# --- the run --------------------------------------------------------------------------------


def planned_steps(t: Trainer) -> int | None:
    """The scenario's length in steps (its steps, or its epochs), if it has one."""
    sc = t.scenario
    if sc.steps:
        return sc.steps
    return sc.epochs * t.steps_per_epoch if sc.epochs else None


class Run:
    """One trainer at a time, driven by commands; see the module docstring."""

    def __init__(
        self,
        trainer: Trainer | None = None,
        *,
        threads: ThreadTuner | None = None,
        emit_interval: float = EMIT_INTERVAL_S,
        sample_period: float = SAMPLE_PERIOD_S,
    ) -> None:
        self._commands: deque = deque()  # append/popleft are atomic: no lock per step
        self._wake = threading.Event()
        self.trainer = trainer
        self.expression: Scenario | None = None
        self.tuner = threads if threads is not None else ThreadTuner()
        self.emit_interval = emit_interval
        self.sample_period = sample_period
        self.playing = False
        self.budget = 0  # steps to run while paused (Step, StepEpoch)
        self.delay = 0.0  # seconds per step while playing
        self.snapshot_every_step = False
        self.snapshots = SnapshotBudget()  # racing: snapshots cost at most a share of the time
        self.periodic = PeriodicSnapshots()  # asked for by step count (nnviz train)
        self._snap_wanted = False
        self._loaded = None  # the model file last configured (nnviz.core.model_file)
        self._undo: list[Trainer] = []
        self._redo: list[Trainer] = []
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._evals: list[EvalMetrics] = []
        self._chunk_start = self._last_emit = time.perf_counter()
        self._sample_since = 0.0
        self._next_step_at = 0.0  # playing at a pace: when the next step may start

    # --- any thread ---------------------------------------------------------------------

    def submit(self, command) -> None:
        self._commands.append(command)
        self._wake.set()

    @property
    def pending(self) -> bool:
        return bool(self._commands)

    @property
    def busy(self) -> bool:
        """A step would run now (playing, or steps left to take)."""
        return self.trainer is not None and (self.playing or self.budget > 0)

    def due_in(self) -> float:
        """Seconds until :meth:`advance` has work: 0 now, inf when idle."""
        if self._commands:
            return 0.0
        if not self.busy:
            return math.inf
        if self.playing and self.delay > 0:
            return max(0.0, self._next_step_at - time.perf_counter())
        return 0.0

    def wake(self) -> None:
        """End an :meth:`advance` waiting for a command (to stop its thread)."""
        self._wake.set()

    def close(self, timeout: float = 2.0) -> bool:
        """Nothing to release (a :class:`~nnviz.core.run_process.RunProcess` ends its child)."""
        return True

    # --- the driving thread ------------------------------------------------------------------

    def advance(self, wait: float = 0.1) -> list:
        """Handle queued commands, then train one step if one is due; when
        idle (or waiting for the next step at a slow pace), wait up to
        ``wait`` seconds for a command. Returns the events, oldest first."""
        events: list = []
        if self._commands:
            self._drain(events)
        if not self.busy:
            self._flush(events)
            self._wait(wait)
            return events
        if self.playing and self.delay > 0:
            left = self._next_step_at - time.perf_counter()
            if left > 0:
                self._wait(min(left, wait))
                return events
            self._next_step_at = time.perf_counter() + self.delay
        self._train_one(self.trainer, events)
        return events

    def run_until_idle(self, wait: float = 0.0):
        """Advance until nothing is queued and nothing is due; yields events
        (the headless commands' loop)."""
        while self._commands or self.busy:
            yield from self.advance(wait)
        events: list = []
        self._flush(events)
        yield from events

    def drive(self, on_event=None) -> list:
        """Run until idle (headless): every event to ``on_event``; a rejected
        configuration, a failed command or an error halt raises NnvizError."""
        out = []
        for ev in self.run_until_idle():
            if isinstance(ev, Rejected | Failed) or (
                isinstance(ev, Halted) and ev.reason == HALT_ERROR
            ):
                raise NnvizError(ev.message)
            if on_event is not None:
                on_event(ev)
            out.append(ev)
        return out

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and not self._commands:
            self._wake.wait(seconds)
        self._wake.clear()

    def _drain(self, events: list) -> None:
        while self._commands:
            cmd = self._commands.popleft()
            try:
                self._handle(cmd, events)
            except NnvizError as exc:
                events.append(Failed(str(exc)))
            except Exception as exc:  # a user model may raise anything
                events.append(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))

    def _train_one(self, t: Trainer, events: list) -> None:
        stepping = self.budget > 0
        now = time.perf_counter()
        if stepping or self.snapshot_every_step or now - self._sample_since >= self.sample_period:
            # a step shown on its own (Step, teaching pace): the next sample each time
            t.sample_row += 1
            self._sample_since = now
        if stepping:
            self.budget -= 1
            if self.budget == 0:  # the last step of Step / StepEpoch: show it
                t.request_snapshot()
        if self.periodic.wanted(t):  # nnviz train: --record's and the health reports'
            t.request_snapshot()
        racing = self.playing and self.delay == 0 and not stepping
        if self._snap_wanted and self.snapshots.allow(racing):
            self._snap_wanted = False
            t.request_snapshot()
        tuner = self.tuner
        tuner.before_step()
        try:
            m = t.step(snapshot=self.snapshot_every_step)
        except Exception as exc:
            self.playing, self.budget = False, 0
            msg = str(exc) if isinstance(exc, NnvizError) else f"{type(exc).__name__}: {exc}"
            self._flush(events)
            events.append(StateChanged(False))
            events.append(
                Halted(
                    HALT_ERROR,
                    explain_failure(f"Training stopped at step {t.step_count + 1}: {msg}"),
                    traceback.format_exc(),
                )
            )
            return
        end = time.perf_counter()
        tuner.after_step(end - now)
        self.snapshots.step_done(end - now, m.snapshot is not None)
        self.periodic.step_done(end - now, m.snapshot is not None, m.loss)
        self._steps.append(m.step - 1)
        self._losses.append(m.loss)
        if m.eval is not None:
            self._evals.append(m.eval)
        if m.snapshot is not None:
            events.append(SnapshotReady(m.snapshot))
        if not math.isfinite(m.loss):
            self.playing, self.budget = False, 0
            self._flush(events)
            events.append(StateChanged(False))
            events.append(
                Halted(
                    HALT_NONFINITE,
                    f"The loss became {m.loss} at step {m.step}: training paused. "
                    "Lower the learning rate, or press Reset.",
                )
            )
            return
        if self.playing and m.step == planned_steps(t):
            self.playing = False
            if m.eval is None and t.eval_every >= 0:
                self._evals.append(t.evaluate_now())  # the curves end where training did
            self._flush(events)
            events.append(StateChanged(False))
            events.append(SnapshotReady(t.snapshot()))  # the views show the final model
            events.append(
                Halted(
                    HALT_PLANNED,
                    f"Done: {m.step:,} steps ({t.scenario.title}'s planned length). "
                    "Press Play to go on, R to start again.",
                )
            )
            return
        slow = self.delay >= self.emit_interval and self.playing
        if not self.busy:  # the last of the steps asked for
            self._flush(events)
            events.append(StateChanged(False))
        elif slow or end - self._last_emit >= self.emit_interval:
            self._flush(events)

    def _flush(self, events: list) -> None:
        t = self.trainer
        now = time.perf_counter()
        if (self._steps or self._evals) and t is not None:
            dt = now - self._chunk_start
            events.append(
                Metrics(
                    np.asarray(self._steps, dtype=np.int64),
                    np.asarray(self._losses, dtype=np.float64),
                    tuple(self._evals),
                    t.step_count,
                    t.epoch,
                    t.steps_per_epoch,
                    len(self._steps) / dt if dt > 0 else 0.0,
                )
            )
        self._steps, self._losses, self._evals = [], [], []
        self._chunk_start = self._last_emit = now

    def _discard_pending_metrics(self) -> None:
        self._steps, self._losses, self._evals = [], [], []

    # --- commands ---------------------------------------------------------------------------------

    def _handle(self, cmd, events: list) -> None:
        t = self.trainer
        match cmd:
            case Configure():
                self._configure(cmd, events)
            case Unload():
                self._set_trainer(None, events)
                self._forget_history(events)
                events.append(Unloaded())
            case SetPace(seconds, every):
                self.delay = max(0.0, float(seconds))
                self.snapshot_every_step = bool(every)
                self._next_step_at = 0.0
            case SetThreads(n):
                self.tuner = ThreadTuner(fixed=n, reserve=self.tuner.reserve)
            case CaptureGraph(scalar):
                events.append(GraphReady(self._capture_graph(scalar)))
            case GradCheck(names):
                events.append(GradCheckReady(self._gradcheck(names)))
            # --- sessions (issue 10) ---
            case SaveSession(path):
                if t is None:
                    raise NnvizError("nothing to save: open a scenario to train first")
                saved = checkpoint.save_checkpoint(t, path)
                self._flush(events)  # the metrics of every step saved come before
                events.append(SessionSaved(saved, t.step_count))
            case LoadSession(path, data_dir):
                state = checkpoint.load_checkpoint(path)  # a bad file: Failed, nothing changes
                trainer = checkpoint.restore_trainer(state, data_dir=data_dir)
                self._forget_history(events)
                self.expression = None
                self._set_trainer(trainer, events)
                self.tuner.retune()
                events.append(Built(model_info(trainer)))
                events.append(SessionLoaded(Path(path), trainer.step_count, trainer.epoch))
                events.append(SnapshotReady(trainer.snapshot()))
            # --- end sessions (issue 10) ---
            case _ if t is None:
                return  # nothing to train: playback commands do nothing
            case Play():
                self.playing, self.budget = True, 0
                self._next_step_at = 0.0
                events.append(StateChanged(True))
            case Pause():
                was_playing = self.playing
                self.playing, self.budget = False, 0
                if was_playing and t.eval_every >= 0 and t.step_count:
                    self._evals.append(t.evaluate_now())  # the curves show where it stopped
                self._flush(events)
                events.append(StateChanged(False))
                if was_playing:  # the views show the model as it stopped, not a frame earlier
                    events.append(SnapshotReady(t.snapshot()))
            case Step(n):
                self.playing = False
                self.budget += max(1, int(n))
                events.append(StateChanged(False))
            case StepEpoch():
                self.playing = False
                self.budget += t.steps_per_epoch - (t.step_count % t.steps_per_epoch)
                events.append(StateChanged(False))
            case Evaluate():
                self._evals.append(t.evaluate_now())
                self._flush(events)
            case Reset():
                self._remember(t.fork(), events)
                t.reset()
                self._rebuilt(t, events)
            case Undo() | Redo():
                src, dst = (
                    (self._undo, self._redo)
                    if isinstance(cmd, Undo)
                    else (
                        self._redo,
                        self._undo,
                    )
                )
                if not src:
                    return
                dst.append(t)
                self.trainer = src.pop()
                self._rebuilt(self.trainer, events)
                events.append(HistoryChanged(bool(self._undo), bool(self._redo)))
            # --- playground (issue 11): a weight edited by hand; undo brings it back ---
            case SetWeight(layer, row, col, value):
                from nnviz.core.weight_edit import kept_copy, set_weight

                old = kept_copy(t)
                set_weight(t.model, layer, row, col, value)  # a bad edit raises: nothing kept
                self._remember(old, events)
                if self.busy:
                    t.request_snapshot()
                else:
                    events.append(SnapshotReady(t.snapshot()))
            # --- end playground (issue 11) ---
            case SetLearningRate(lr):
                t.set_lr(lr)
            case RequestSnapshot():
                if self.busy:  # taken at the next step the snapshot budget allows
                    self._snap_wanted = True
                else:
                    events.append(SnapshotReady(t.snapshot()))
            case _:
                raise NnvizError(f"unknown command {cmd!r}")

    def _rebuilt(self, t: Trainer, events: list) -> None:
        self._discard_pending_metrics()
        self.playing, self.budget = False, 0
        self.tuner.retune()
        events.append(StateChanged(False))
        events.append(Built(model_info(t)))
        events.append(SnapshotReady(t.snapshot()))

    def _set_trainer(self, t: Trainer | None, events: list) -> None:
        self.trainer = t
        self._discard_pending_metrics()
        self.playing, self.budget = False, 0
        events.append(StateChanged(False))

    def _configure(self, cmd: Configure, events: list) -> None:
        sc = cmd.scenario
        model_file = None
        if cmd.model_file is not None or getattr(sc, "model_file", ""):
            from nnviz.core.model_file import model_file_for

            try:  # a user's file: import it here (the training process), keep it for settings
                model_file = self._loaded = model_file_for(cmd.model_file, sc, self._loaded)
            except NnvizError as exc:
                events.append(Rejected(full_text(exc)))
                return
            sc = model_file.scenario
        if sc is None:
            raise NnvizError("nothing to configure: give a scenario or a model file")
        if not sc.trainable:
            self.expression = sc
            self._set_trainer(None, events)
            self._forget_history(events)
            events.append(Unloaded())
            return
        old = self.trainer
        data_dir = Path(cmd.data_dir) if cmd.data_dir is not None else None
        # A settings change keeps the data: no reloading (seconds for MNIST), and
        # the trainers kept for undo share one copy of it.
        config = cmd.config or TrainConfig.for_scenario(sc, **dict(cmd.overrides))
        same_data = (
            old is not None
            and old.scenario.id == sc.id
            and old.data_dir == data_dir
            and old.config.seed == config.seed
            and same_toy_data(old.config, config)  # playground (issue 11): noise, test ratio
        )
        try:
            model = cmd.model
            if cmd.weights is not None:
                from nnviz.core.weights import model_with_weights

                model = model_with_weights(sc, config, cmd.weights, model_file, model)
            if model_file is not None:
                trainer = model_file.trainer(config, model=model)
            else:
                trainer = Trainer(
                    sc,
                    config,
                    data_dir=data_dir,
                    model=model,
                    dataset=getattr(old, "raw_dataset", old.dataset) if same_data else None,
                )
            info = model_info(trainer)
        except NnvizError as exc:
            events.append(Rejected(full_text(exc)))
            return
        except Exception as exc:
            events.append(Rejected(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            return
        if old is not None and old.scenario.id == sc.id:
            self._remember(old, events)  # a settings change: the trained model can come back
        else:
            self._forget_history(events)  # another scenario: undo is about this one
        self.expression = None
        self._set_trainer(trainer, events)
        self.tuner.retune()
        events.append(Built(info))
        events.append(SnapshotReady(trainer.snapshot()))  # may raise (a user's model): Failed

    def _remember(self, old: Trainer, events: list) -> None:
        self._undo = [*self._undo, old][-UNDO_DEPTH:]
        self._redo.clear()
        events.append(HistoryChanged(True, False))

    def _forget_history(self, events: list) -> None:
        if self._undo or self._redo:
            self._undo, self._redo = [], []
            events.append(HistoryChanged(False, False))

    def _capture_graph(self, scalar: bool):
        from nnviz.core import autograd_graph

        if self.trainer is not None:
            return autograd_graph.capture_trainer_graph(self.trainer, scalar=scalar)
        if self.expression is not None:
            return autograd_graph.capture_expression_graph(self.expression)
        raise NnvizError("nothing to capture: open a scenario first")

    def _gradcheck(self, names: tuple[str, ...]):
        from nnviz.core import gradcheck

        if self.trainer is not None:
            return gradcheck.gradcheck_trainer(self.trainer, list(names) or None)
        if self.expression is not None:
            return gradcheck.gradcheck_scenario_expression(self.expression)
        raise NnvizError("nothing to check: open a scenario first")


def model_info(t: Trainer) -> ModelInfo:
    ds = getattr(t, "raw_dataset", t.dataset)  # playground (issue 11): the 2-D points
    points = labels = mask = None
    if t.scenario.two_d:
        points = np.concatenate([ds.x_train, ds.x_val]).astype(np.float64)
        labels = np.concatenate([ds.y_train.reshape(-1), ds.y_val.reshape(-1)])
        mask = np.r_[np.zeros(len(ds.x_train), bool), np.ones(len(ds.x_val), bool)]
    widths = (int(np.prod(t.dataset.input_shape)), *(layer.width for layer in t.layers))
    return ModelInfo(
        scenario=t.scenario,
        config=t.config,
        device=str(t.device),
        param_count=t.param_count,
        widths=widths,
        steps_per_epoch=t.steps_per_epoch,
        data_note=ds.note,
        points=points,
        labels=labels,
        test_mask=mask,
        data_name=ds.name,
        layer_modules=tuple((layer.linear, layer.act) for layer in t.layers),
    )
