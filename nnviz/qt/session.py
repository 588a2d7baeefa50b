"""GUI-side state of one training session.

Owns the worker thread, the run's :class:`~nnviz.core.history.History` (every
metric, and snapshots within a byte budget) and the frame clock (about 30 Hz)
that hands the newest snapshot to the views. Snapshots are asked for at most
one at a time and at most once a frame, so watching costs training little.
Commands go to the core run loop as typed commands; its typed events come
back here, and here only, to be turned into history and signals.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from nnviz.core import run as R
from nnviz.core.engine import TrainConfig
from nnviz.core.history import History
from nnviz.core.numfmt import DASH, fmt
from nnviz.core.run_process import RunProcess
from nnviz.core.scenarios import Scenario, get_scenario
from nnviz.qt.frame_pacer import CHILD_GUI_BUDGET, CHILD_MAX_FRAME_MS, FRAME_MS, FramePacer
from nnviz.qt.pass_animator import PassAnimator
from nnviz.qt.worker import WorkerThread


class Session(QObject):
    frame = Signal()  # every frame, after the newest state was handed out
    snapshotReady = Signal(object)  # the newest Snapshot, at most once a frame
    metricsArrived = Signal(object)  # run.Metrics (already in the history)
    built = Signal(object)  # run.ModelInfo
    playingChanged = Signal(bool)
    errorRaised = Signal(str, str)
    configRejected = Signal(object)  # ModelInfo still in use (None: none built yet)
    halted = Signal(str)  # a NaN/Inf loss or an error paused training
    finished = Signal(str)  # paused at the scenario's planned length
    historyChanged = Signal(bool, bool)  # something to undo, something to redo
    graphReady = Signal(object)
    gradcheckReady = Signal(object)

    def __init__(
        self,
        parent: QObject | None = None,
        history: History | None = None,
        in_process: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history if history is not None else History()
        self.scenario: Scenario | None = None
        self.config: TrainConfig | None = None
        self.data_dir: Path | None = None
        self.info: R.ModelInfo | None = None
        self.playing = False
        self.step = 0
        self.epoch = 0
        self.rate = 0.0
        self.last_loss = math.nan  # the newest step's loss, NaN/Inf included
        self.animator = PassAnimator()
        self._full_speed = True
        self._newest = None
        self._in_flight = False
        if in_process is None:  # tests reach into the trainer: they train in this process
            in_process = os.environ.get("NNVIZ_IN_PROCESS", "") not in ("", "0")
        self.in_process = in_process
        self.pacer = (
            FramePacer()
            if in_process
            else FramePacer(budget=CHILD_GUI_BUDGET, max_ms=CHILD_MAX_FRAME_MS)
        )
        self._threads = WorkerThread(None if in_process else RunProcess(reserve=1))
        self._threads.worker.event.connect(self._on_event, Qt.QueuedConnection)
        self._threads.start()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @property
    def worker(self):
        return self._threads.worker

    def submit(self, command) -> None:
        self.worker.submit(command)

    # --- commands ----------------------------------------------------------------------

    def open_scenario(
        self,
        scenario_id: str,
        data_dir: Path | None = None,
        config: TrainConfig | None = None,
        model=None,
    ) -> None:
        sc = get_scenario(scenario_id)
        self.scenario = sc
        self.data_dir = data_dir
        self.config = config or TrainConfig.for_scenario(sc)
        if not sc.trainable:  # nothing to train: the previous scenario must not go on
            self.info = None
            self.step, self.epoch, self.rate, self.last_loss = 0, 0, 0.0, math.nan
            self.history.clear()
        self.submit(R.Configure(sc, self.config, data_dir, model))

    def apply_config(self, config: TrainConfig) -> None:
        if self.scenario is not None and self.scenario.trainable:
            self.config = config
            self.submit(R.Configure(self.scenario, config, self.data_dir))

    def set_lr(self, lr: float) -> None:
        """Applied live: the model and its training so far are kept."""
        if self.config is not None:
            self.config = replace(self.config, lr=float(lr))
        self.submit(R.SetLearningRate(lr))

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        self.submit(R.Play())

    def pause(self) -> None:
        self.submit(R.Pause())

    def step_once(self) -> None:
        if self.info is not None:
            self.animator.start()
            self.submit(R.Step(1))

    def step_epoch(self) -> None:
        self.submit(R.StepEpoch())

    def reset(self) -> None:
        self.submit(R.Reset())

    def undo(self) -> None:
        self.submit(R.Undo())

    def redo(self) -> None:
        self.submit(R.Redo())

    def set_threads(self, n: int | None) -> None:
        self.submit(R.SetThreads(n))

    def set_speed(self, seconds_per_step: float, animate: bool) -> None:
        self._full_speed = seconds_per_step <= 0
        self._set_racing(self.playing and self._full_speed)
        self.animator.configure(seconds_per_step, animate)
        self.submit(R.SetPace(seconds_per_step, animate))

    def request_snapshot(self) -> None:
        self.submit(R.RequestSnapshot())

    def request_graph(self, scalar: bool = False) -> None:
        self.submit(R.CaptureGraph(bool(scalar)))

    def request_gradcheck(self, names: list[str]) -> None:
        self.submit(R.GradCheck(tuple(names)))

    def shutdown(self) -> bool:
        self.timer.stop()
        return self._threads.shutdown()

    # --- from the run ---------------------------------------------------------------------

    def _on_event(self, ev) -> None:
        match ev:
            case R.Metrics():
                self.history.metrics.append_metrics(ev)
                self.step, self.epoch, self.rate = ev.step, ev.epoch, ev.rate
                if len(ev.losses):
                    self.last_loss = float(ev.losses[-1])
                self.metricsArrived.emit(ev)
            case R.SnapshotReady(snap):
                self.history.snapshots.add(snap)
                self._newest = snap
                self._in_flight = False
                if self.animator.enabled and self.playing:
                    self.animator.start()
            case R.StateChanged(playing):
                if playing != self.playing:
                    self.playing = playing
                    self._set_racing(playing and self._full_speed)
                    self.playingChanged.emit(playing)
            case R.Built(info):
                if not self.in_process and isinstance(self.worker.run_loop, R.Run):
                    # the child could not start and the worker trains here: pace for the GIL
                    self.in_process, self.pacer = True, FramePacer()
                self.info = info
                self.scenario, self.config = info.scenario, info.config
                self.step, self.epoch, self.rate, self.last_loss = 0, 0, 0.0, math.nan
                self.history.clear()
                self.history.metrics.set_steps_per_epoch(info.steps_per_epoch)
                self._newest, self._in_flight = None, False  # a snapshot of the old model is stale
                self.built.emit(info)
            case R.Unloaded():
                self.info = None
                self._newest, self._in_flight = None, False
                if self.scenario is not None and self.scenario.trainable:
                    # the training process died (a crash in a model): build it afresh
                    self.submit(R.Configure(self.scenario, self.config, self.data_dir))
            case R.Rejected(message, details):
                self._on_rejected(message, details)
            case R.Halted(reason, message, details):
                if reason == R.HALT_PLANNED:
                    self.finished.emit(message)
                elif reason == R.HALT_ERROR:
                    self.errorRaised.emit(message, details)
                else:
                    self.halted.emit(message)
            case R.Failed(message, details):
                self._in_flight = False
                self.errorRaised.emit(message, details)
            case R.HistoryChanged(can_undo, can_redo):
                self.historyChanged.emit(can_undo, can_redo)
            case R.GraphReady(trace):
                self.graphReady.emit(trace)
            case R.GradCheckReady(result):
                self.gradcheckReady.emit(result)

    def _on_rejected(self, message: str, details: str) -> None:
        # the run kept the model it had: so do we
        if self.info is not None:
            self.scenario, self.config = self.info.scenario, self.info.config
        else:  # nothing was built: there is no scenario to train
            self.scenario = None
        self.configRejected.emit(self.info)
        self.errorRaised.emit(message, details)

    def _set_racing(self, racing: bool) -> None:
        self.pacer.set_racing(racing)
        if not racing:  # back to the full frame rate now, not after a stretched frame
            self.timer.setInterval(round(self.pacer.interval_ms))

    def _tick(self) -> None:
        if self._newest is not None:
            snap, self._newest = self._newest, None
            self.snapshotReady.emit(snap)
        if self.playing and not self._in_flight and not self.animator.enabled:
            self._in_flight = True
            self.request_snapshot()
        self.frame.emit()
        interval = round(self.pacer.tick())
        if interval != self.timer.interval():
            self.timer.setInterval(interval)

    def status_text(self) -> str:
        """The status line: one source of truth for step, epoch and loss."""
        loss = self.last_loss
        text = DASH if not math.isfinite(loss) and not self.step else fmt(loss)
        # speed only where it means something: racing (at a set pace the slider says it)
        rate = (
            f" · {self.rate:,.0f} steps/s"
            if self.playing and self.rate and self._full_speed
            else ""
        )
        return f"step {self.step:,} · epoch {self.epoch} · loss {text}{rate}"
