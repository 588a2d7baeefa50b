"""GUI-side state of one training session.

Owns the worker thread, keeps only the newest snapshot, and runs the frame
clock (about 30 Hz) that hands it to the views. Snapshots are asked for at
most one at a time and at most once a frame, so watching costs training little.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from nnviz.core.engine import TrainConfig
from nnviz.core.scenarios import Scenario, get_scenario
from nnviz.qt.frame_pacer import FRAME_MS, FramePacer
from nnviz.qt.pass_animator import PassAnimator
from nnviz.qt.worker import MetricsChunk, ModelInfo, WorkerThread


class Session(QObject):
    frame = Signal()  # every frame, after the newest state was handed out
    snapshotReady = Signal(object)  # the newest Snapshot, at most once a frame
    metricsArrived = Signal(object)  # MetricsChunk
    built = Signal(object)  # ModelInfo
    playingChanged = Signal(bool)
    errorRaised = Signal(str, str)
    configRejected = Signal(object)  # ModelInfo still in use (None: none built yet)
    halted = Signal(str)
    finished = Signal(str)  # paused at the scenario's planned length
    historyChanged = Signal(bool, bool)  # something to undo, something to redo
    graphReady = Signal(object)
    gradcheckReady = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario | None = None
        self.config: TrainConfig | None = None
        self.data_dir: Path | None = None
        self.info: ModelInfo | None = None
        self.playing = False
        self.step = 0
        self.epoch = 0
        self.last_loss = float("nan")
        self.rate = 0.0
        self.animator = PassAnimator()
        self.pacer = FramePacer()
        self._full_speed = True
        self._newest = None
        self._in_flight = False
        self._threads = WorkerThread()
        w = self._threads.worker
        w.snapshot.connect(self._on_snapshot, Qt.QueuedConnection)
        w.metrics.connect(self._on_metrics, Qt.QueuedConnection)
        w.built.connect(self._on_built, Qt.QueuedConnection)
        w.state.connect(self._on_state, Qt.QueuedConnection)
        w.error.connect(self.errorRaised, Qt.QueuedConnection)
        w.rejected.connect(self._on_rejected, Qt.QueuedConnection)
        w.halted.connect(self.halted, Qt.QueuedConnection)
        w.finished.connect(self.finished, Qt.QueuedConnection)
        w.history.connect(self.historyChanged, Qt.QueuedConnection)
        w.graph.connect(self.graphReady, Qt.QueuedConnection)
        w.gradcheck.connect(self.gradcheckReady, Qt.QueuedConnection)
        self._threads.start()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @property
    def worker(self):
        return self._threads.worker

    # --- commands ----------------------------------------------------------------------

    def open_scenario(
        self, scenario_id: str, data_dir: Path | None = None, config: TrainConfig | None = None
    ) -> None:
        sc = get_scenario(scenario_id)
        self.scenario = sc
        self.data_dir = data_dir
        self.config = config or TrainConfig.for_scenario(sc)
        if sc.trainable:
            self.worker.configure(sc, self.config, data_dir)
        else:  # nothing to train: the previous scenario must not go on in the background
            self.info = None
            self.step, self.epoch, self.last_loss, self.rate = 0, 0, float("nan"), 0.0
            self.worker.unload()

    def apply_config(self, config: TrainConfig) -> None:
        if self.scenario is not None and self.scenario.trainable:
            self.config = config
            self.worker.configure(self.scenario, config, self.data_dir)

    def set_lr(self, lr: float) -> None:
        """Applied live: the model and its training so far are kept."""
        if self.config is not None:
            self.config = replace(self.config, lr=float(lr))
        self.worker.set_lr(lr)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        self.worker.play()

    def pause(self) -> None:
        self.worker.pause()

    def step_once(self) -> None:
        if self.info is not None:
            self.animator.start()
            self.worker.step(1)

    def step_epoch(self) -> None:
        self.worker.step_epoch()

    def reset(self) -> None:
        self.worker.reset()

    def undo(self) -> None:
        self.worker.undo()

    def redo(self) -> None:
        self.worker.redo()

    def set_speed(self, seconds_per_step: float, animate: bool) -> None:
        self._full_speed = seconds_per_step <= 0
        self._set_racing(self.playing and self._full_speed)
        self.animator.configure(seconds_per_step, animate)
        self.worker.set_delay(seconds_per_step, every_step_snapshot=animate)

    def request_graph(self, scalar: bool = False) -> None:
        self.worker.request_graph(scalar)

    def request_gradcheck(self, names: list[str]) -> None:
        self.worker.request_gradcheck(names)

    def shutdown(self) -> bool:
        self.timer.stop()
        return self._threads.shutdown()

    # --- from the worker ------------------------------------------------------------------

    def _on_snapshot(self, snap) -> None:
        self._newest = snap
        self._in_flight = False
        if self.animator.enabled and self.playing:
            self.animator.start()

    def _on_metrics(self, chunk: MetricsChunk) -> None:
        self.step, self.epoch, self.rate = chunk.step, chunk.epoch, chunk.rate
        if len(chunk.losses):
            self.last_loss = float(chunk.losses[-1])
        self.metricsArrived.emit(chunk)

    def _on_built(self, info: ModelInfo) -> None:
        self.info = info
        self.scenario, self.config = info.scenario, info.config
        self.step, self.epoch, self.last_loss, self.rate = 0, 0, float("nan"), 0.0
        self._newest, self._in_flight = None, False  # a snapshot of the old model is stale
        self.built.emit(info)

    def _on_rejected(self, message: str, details: str) -> None:
        # the worker kept the model it had: so do we
        if self.info is not None:
            self.scenario, self.config = self.info.scenario, self.info.config
        else:  # nothing was built: there is no scenario to train
            self.scenario = None
        self.configRejected.emit(self.info)
        self.errorRaised.emit(message, details)

    def _on_state(self, state: str) -> None:
        playing = state == "playing"
        if playing != self.playing:
            self.playing = playing
            self._set_racing(playing and self._full_speed)
            self.playingChanged.emit(playing)

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
            self.worker.request_snapshot()
        self.frame.emit()
        interval = round(self.pacer.tick())
        if interval != self.timer.interval():
            self.timer.setInterval(interval)
