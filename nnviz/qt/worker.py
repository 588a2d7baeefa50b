"""The training worker: drives a core Trainer in a QThread.

It never touches a widget. It emits metrics (batched, a few times a second
faster than the eye needs), snapshots (when the GUI asked for one) and
errors; commands come back through a queue and thread-safe flags, so the GUI
thread never blocks on training and training never waits for drawing.
"""

from __future__ import annotations

import atexit
import math
import queue
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from nnviz.core.devices import lower_thread_priority
from nnviz.core.engine import EvalMetrics, TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import Scenario

EMIT_INTERVAL_S = 0.1  # metrics batches at most 10 times a second (each wakes the GUI)
UNDO_DEPTH = 3  # trainers kept for undo (each holds its model and optimizer state)
SAMPLE_PERIOD_S = 2.0  # at full speed, the sample the views show changes this often
FULL_SPEED = 0.0


@dataclass(frozen=True)
class MetricsChunk:
    """Steps trained since the last chunk (numpy arrays, not lists)."""

    steps: np.ndarray  # step index of each loss (0-based: the step that computed it)
    losses: np.ndarray
    evals: tuple[EvalMetrics, ...]
    step: int
    epoch: int
    steps_per_epoch: int
    rate: float  # steps per second over the chunk


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI needs to know about a freshly built trainer."""

    scenario: Scenario
    config: TrainConfig
    device: str
    param_count: int
    widths: tuple[int, ...]
    steps_per_epoch: int
    data_note: str
    points: np.ndarray | None = None  # 2-D scenarios: all points (N, 2)
    labels: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    data_name: str = ""
    layer_modules: tuple[tuple[str, str | None], ...] = ()  # per drawn layer ≥ 1: (linear, act)


class TrainingWorker(QObject):
    built = Signal(object)  # ModelInfo, after (re)building the trainer
    metrics = Signal(object)  # MetricsChunk
    snapshot = Signal(object)  # Snapshot
    graph = Signal(object)  # AutogradTrace, on request
    gradcheck = Signal(object)  # GradCheckResult, on request
    state = Signal(str)  # "playing" / "paused"
    error = Signal(str, str)  # (message, details)
    rejected = Signal(str, str)  # a configuration could not be built: (message, details)
    halted = Signal(str)  # training paused by itself: a NaN/Inf loss
    finished = Signal(str)  # paused at the scenario's length (Play goes on past it)
    history = Signal(bool, bool)  # something to undo, something to redo

    def __init__(self) -> None:
        super().__init__()
        self._commands: queue.Queue = queue.Queue()
        self._wake = threading.Event()
        self._stop = False
        self._playing = False
        self._budget = 0  # steps to run while paused (Step, Step epoch)
        self._delay = FULL_SPEED  # seconds per step; 0: full speed
        self._snapshot_every_step = False
        self.trainer: Trainer | None = None
        self._sample_since = 0.0  # when the shown sample last changed
        # Trainers a rebuild or a reset replaced, newest last (and those undone):
        # a trained model is never lost to a settings change or a stray R.
        self._undo: list[Trainer] = []
        self._redo: list[Trainer] = []

    # --- called from the GUI thread (thread-safe) ---------------------------------

    def _send(self, *cmd) -> None:
        self._commands.put(cmd)
        self._wake.set()

    def configure(self, scenario: Scenario, config: TrainConfig, data_dir=None, model=None) -> None:
        """Build a trainer (on the worker thread); ``model``: a user's nn.Module
        instead of the scenario's. On failure the old trainer stays and
        ``rejected`` says why."""
        self._send("configure", scenario, config, data_dir, model)

    def unload(self) -> None:
        """Drop the trainer (an expression scenario has none): nothing trains."""
        self._send("unload")

    def play(self) -> None:
        self._send("play")

    def pause(self) -> None:
        self._send("pause")

    def step(self, n: int = 1) -> None:
        self._send("step", n)

    def step_epoch(self) -> None:
        self._send("step_epoch")

    def reset(self) -> None:
        self._send("reset")

    def undo(self) -> None:
        """Back to the model a settings change or Reset replaced."""
        self._send("undo")

    def redo(self) -> None:
        self._send("redo")

    def set_delay(self, seconds_per_step: float, every_step_snapshot: bool) -> None:
        self._delay = max(0.0, float(seconds_per_step))
        self._snapshot_every_step = every_step_snapshot
        self._wake.set()

    def set_lr(self, lr: float) -> None:
        """Change the learning rate without resetting the model."""
        self._send("lr", lr)

    def request_snapshot(self) -> None:
        t = self.trainer
        if t is not None:
            t.request_snapshot()
            if not self._playing and self._budget == 0:
                self._send("snapshot")

    def request_graph(self, scalar: bool = False) -> None:
        self._send("graph", scalar)

    def request_gradcheck(self, names: list[str]) -> None:
        """Finite differences against autograd for these parameters (all if empty)."""
        self._send("gradcheck", list(names))

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    # --- the loop (worker thread) ---------------------------------------------------

    @Slot()
    def run(self) -> None:
        lower_thread_priority()  # the GUI thread wins the CPU when it needs it
        steps: list[int] = []
        losses: list[float] = []
        evals: list[EvalMetrics] = []
        last_emit = time.perf_counter()
        chunk_start, chunk_steps = last_emit, 0
        while not self._stop:
            self._drain_commands(steps, losses, evals)
            t = self.trainer
            if self._stop:
                break
            if t is None or not (self._playing or self._budget > 0):
                self._flush(steps, losses, evals, chunk_start, chunk_steps)
                chunk_start, chunk_steps = time.perf_counter(), 0
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            if self._budget > 0 or self._snapshot_every_step:
                # a step shown on its own (Step, teaching pace): the next sample each time
                self._next_sample(t)
            elif time.perf_counter() - self._sample_since >= SAMPLE_PERIOD_S:
                self._next_sample(t)
            if self._budget > 0:
                self._budget -= 1
                if self._budget == 0:  # the last step of Step / Step epoch: show it
                    t.request_snapshot()
            try:
                m = t.step(snapshot=self._snapshot_every_step)
            except Exception as exc:  # a user model may raise anything
                self._playing, self._budget = False, 0
                self.state.emit("paused")
                msg = str(exc) if isinstance(exc, NnvizError) else f"{type(exc).__name__}: {exc}"
                self.error.emit(
                    f"Training stopped at step {t.step_count + 1}: {msg}", traceback.format_exc()
                )
                continue
            steps.append(m.step - 1)
            losses.append(m.loss)
            chunk_steps += 1
            if m.eval is not None:
                evals.append(m.eval)
            if m.snapshot is not None:
                self.snapshot.emit(m.snapshot)
            if self._playing and m.step == self._planned_steps(t):
                self._playing = False
                if m.eval is None and t.eval_every >= 0:
                    evals.append(t.evaluate_now())  # the curves end where training did
                self.state.emit("paused")
                self.snapshot.emit(t.snapshot())  # and the network shows the final model
                self.finished.emit(
                    f"Done: {m.step:,} steps ({t.scenario.title}'s planned length). "
                    "Press Play to go on, R to start again."
                )
            if not math.isfinite(m.loss):
                self._playing, self._budget = False, 0
                self.state.emit("paused")
                self.halted.emit(
                    f"The loss became {m.loss} at step {m.step}: training paused. "
                    "Lower the learning rate, or press Reset."
                )
            now = time.perf_counter()
            # a slow pace: show each step now, not after the sleep that follows it
            slow = self._delay >= EMIT_INTERVAL_S and self._playing
            if now - last_emit >= EMIT_INTERVAL_S or not self._playing or slow:
                self._flush(steps, losses, evals, chunk_start, chunk_steps)
                last_emit, chunk_start, chunk_steps = now, now, 0
                if not self._playing and self._budget == 0:
                    self.state.emit("paused")
            if self._delay > 0 and self._playing:
                self._sleep(self._delay)
        self._flush(steps, losses, evals, chunk_start, chunk_steps)
        QThread.currentThread().quit()  # let the thread's event loop end at once

    def _remember(self, old: Trainer) -> None:
        self._undo = [*self._undo, old][-UNDO_DEPTH:]
        self._redo.clear()
        self.history.emit(True, False)

    def _forget_history(self) -> None:
        if self._undo or self._redo:
            self._undo, self._redo = [], []
            self.history.emit(False, False)

    @staticmethod
    def _planned_steps(t: Trainer) -> int | None:
        """The scenario's length in steps (its steps, or its epochs), if it has one."""
        sc = t.scenario
        if sc.steps:
            return sc.steps
        return sc.epochs * t.steps_per_epoch if sc.epochs else None

    def _next_sample(self, t: Trainer) -> None:
        """Views show one row of the batch; move on to the next (it wraps)."""
        t.sample_row += 1
        self._sample_since = time.perf_counter()

    def _sleep(self, seconds: float) -> None:
        start = time.perf_counter()
        while not self._stop and self._commands.empty():
            # the delay is re-read: moving the speed slider takes effect at once
            left = start + min(seconds, self._delay) - time.perf_counter()
            if left <= 0:
                return
            self._wake.wait(min(left, 0.05))
            self._wake.clear()

    def _flush(self, steps, losses, evals, t0, n) -> None:
        t = self.trainer
        if not steps or t is None:
            return
        dt = time.perf_counter() - t0
        self.metrics.emit(
            MetricsChunk(
                np.asarray(steps, dtype=np.int64),
                np.asarray(losses, dtype=np.float64),
                tuple(evals),
                t.step_count,
                t.epoch,
                t.steps_per_epoch,
                n / dt if dt > 0 else 0.0,
            )
        )
        steps.clear()
        losses.clear()
        evals.clear()

    def _drain_commands(self, steps, losses, evals) -> None:
        while True:
            try:
                cmd, *args = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._handle(cmd, args, steps, losses, evals)
            except NnvizError as exc:
                self.error.emit(str(exc), "")
            except Exception as exc:
                self.error.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def _handle(self, cmd: str, args, steps, losses, evals) -> None:
        if cmd == "configure":
            self._configure(*args, steps=steps, losses=losses, evals=evals)
        elif cmd == "unload":
            self.trainer = None
            self._forget_history()
            steps.clear(), losses.clear(), evals.clear()
            self._playing, self._budget = False, 0
            self.state.emit("paused")
        elif self.trainer is None:
            return
        elif cmd == "play":
            self._playing, self._budget = True, 0
            self.state.emit("playing")
        elif cmd == "pause":
            was_playing = self._playing
            self._playing, self._budget = False, 0
            if was_playing and self.trainer.eval_every >= 0 and self.trainer.step_count:
                evals.append(self.trainer.evaluate_now())  # the curves show where it stopped
            self._flush(steps, losses, evals, time.perf_counter(), 0)
            self.state.emit("paused")
            if was_playing:  # the views show the model as it stopped, not a frame earlier
                self.snapshot.emit(self.trainer.snapshot())
        elif cmd == "step":
            self._playing = False
            self._budget += int(args[0])
            self.state.emit("paused")
        elif cmd == "step_epoch":
            self._playing = False
            t = self.trainer
            self._budget += t.steps_per_epoch - (t.step_count % t.steps_per_epoch)
            self.state.emit("paused")
        elif cmd == "reset":
            self._remember(self.trainer.fork())
            self.trainer.reset()
            steps.clear(), losses.clear(), evals.clear()
            self._playing, self._budget = False, 0
            self.state.emit("paused")
            self.built.emit(_model_info(self.trainer))
            self.snapshot.emit(self.trainer.snapshot())
        elif cmd in ("undo", "redo"):
            src, dst = (self._undo, self._redo) if cmd == "undo" else (self._redo, self._undo)
            if not src:
                return
            dst.append(self.trainer)
            self.trainer = src.pop()
            steps.clear(), losses.clear(), evals.clear()
            self._playing, self._budget = False, 0
            self.state.emit("paused")
            self.built.emit(_model_info(self.trainer))
            self.snapshot.emit(self.trainer.snapshot())
            self.history.emit(bool(self._undo), bool(self._redo))
        elif cmd == "lr":
            if not (math.isfinite(float(args[0])) and float(args[0]) > 0):
                raise NnvizError(f"the learning rate must be a positive number, got {args[0]!r}")
            for group in self.trainer.optimizer.param_groups:
                group["lr"] = float(args[0])
            self.trainer.config = replace(self.trainer.config, lr=float(args[0]))
        elif cmd == "snapshot":
            self.snapshot.emit(self.trainer.snapshot())
        elif cmd == "graph":
            from nnviz.core.autograd_graph import capture_trainer_graph

            self.graph.emit(capture_trainer_graph(self.trainer, scalar=bool(args[0])))
        elif cmd == "gradcheck":
            from nnviz.core.gradcheck import gradcheck_trainer

            self.gradcheck.emit(gradcheck_trainer(self.trainer, args[0] or None))

    def _configure(self, scenario, config, data_dir, model, *, steps, losses, evals) -> None:
        old = self.trainer
        # A settings change keeps the data: no reloading (seconds for MNIST), and
        # the trainers kept for undo share one copy of it.
        same_data = (
            old is not None
            and old.scenario.id == scenario.id
            and old.data_dir == (Path(data_dir) if data_dir is not None else None)
            and old.config.seed == config.seed
        )
        try:
            trainer = Trainer(
                scenario,
                config,
                data_dir=data_dir,
                model=model,
                dataset=old.dataset if same_data else None,
            )
            info = _model_info(trainer)
        except NnvizError as exc:  # keep the old trainer; the GUI shows its settings again
            self.rejected.emit(str(exc), "")
            return
        except Exception as exc:
            self.rejected.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        steps.clear(), losses.clear(), evals.clear()
        if old is not None and old.scenario.id == scenario.id:
            self._remember(old)  # a settings change: the trained model can come back
        else:
            self._forget_history()  # another scenario: undo is about this one
        self.trainer = trainer
        self._playing, self._budget = False, 0
        self.state.emit("paused")
        self.built.emit(info)
        self.snapshot.emit(trainer.snapshot())  # may raise (a user's model): the error dialog


def _model_info(t: Trainer) -> ModelInfo:
    ds = t.dataset
    points = labels = mask = None
    if t.scenario.two_d:
        points = np.concatenate([ds.x_train, ds.x_val]).astype(np.float64)
        labels = np.concatenate([ds.y_train.reshape(-1), ds.y_val.reshape(-1)])
        mask = np.r_[np.zeros(len(ds.x_train), bool), np.ones(len(ds.x_val), bool)]
    widths = (int(np.prod(ds.input_shape)), *(layer.width for layer in t.layers))
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


_LIVE: weakref.WeakSet[WorkerThread] = weakref.WeakSet()


@atexit.register
def _join_all() -> None:
    """A script or test that never closed its window: stop the threads before
    Python tears down, instead of Qt aborting on a running QThread."""
    for wt in list(_LIVE):
        wt.shutdown()


class WorkerThread:
    """Owns the QThread and the worker; joins on close."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("nnviz-training")
        self.worker = TrainingWorker()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)

    def start(self) -> None:
        self.thread.start()
        _LIVE.add(self)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the loop and join the thread; False if it did not end in time
        (a long graph capture or gradient check still running)."""
        self.worker.stop()
        self.thread.quit()
        done = self.thread.wait(timeout_ms)
        if done:
            _LIVE.discard(self)
        return done
