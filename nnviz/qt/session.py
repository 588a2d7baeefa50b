"""GUI-side state of one training session.

Owns the worker thread, the run's :class:`~nnviz.core.history.History` (every
metric, and snapshots within a byte budget) and the frame clock (about 30 Hz)
that hands the newest snapshot to the views. Snapshots are asked for at most
one at a time and at most once a frame, so watching costs training little.
Commands go to the core run loop as typed commands; its typed events come
back here, and here only, to be turned into history and signals.

Time travel: :meth:`Session.view_step` makes the views show a past snapshot
(``viewing``; None is live) while training goes on. The session also records
its runs (:mod:`nnviz.qt.recording`), saves and resumes sessions (Ctrl+S: a
run folder plus ``checkpoint.pt``), and shows recorded run folders or
TensorBoard logdirs instead of training (``recording``), tailing them live.
"""

from __future__ import annotations

import bisect
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from nnviz.core import run as R
from nnviz.core.checkpoint import checkpoint_path
from nnviz.core.engine import TrainConfig
from nnviz.core.errors import NnvizError
from nnviz.core.history import History
from nnviz.core.numfmt import DASH, fmt
from nnviz.core.run_messages import LoadSession, SaveSession, SessionLoaded, SessionSaved
from nnviz.core.run_process import RunProcess
from nnviz.core.scenarios import Scenario, get_scenario
from nnviz.qt.frame_pacer import CHILD_GUI_BUDGET, CHILD_MAX_FRAME_MS, FRAME_MS, FramePacer
from nnviz.qt.pass_animator import PassAnimator
from nnviz.qt.recording import (
    RecordedRun,
    Recorder,
    fill_history,
    run_meta,
    session_temp_folder,
    swap_into_place,
    write_history,
)
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
    viewingChanged = Signal(object)  # the step the views show (None: live)
    modeChanged = Signal(bool)  # True: a recorded run is shown, nothing trains
    sessionSaved = Signal(str)  # the session folder written

    POLL_MS = 500  # a recorded run is re-read this often (a new step shows within 1 s)

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
        self.viewing: int | None = None  # time travel: the step shown (None: live)
        self.recording: RecordedRun | None = None  # a run shown instead of training
        self.recorder: Recorder | None = None
        self._saving: tuple[Path, Path] | None = None  # (temporary folder, target)
        self._loading: Path | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(self.POLL_MS)
        self._poll.timeout.connect(self._poll_recording)
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
        self._leave_recording()
        self.scenario = sc
        self.data_dir = data_dir
        self.config = config or TrainConfig.for_scenario(sc)
        if not sc.trainable:  # nothing to train: the previous scenario must not go on
            self.info = None
            self.step, self.epoch, self.rate, self.last_loss = 0, 0, 0.0, math.nan
            self.history.clear()
        self.submit(R.Configure(sc, self.config, data_dir, model))

    # --- model files (issue 9) ---
    def open_model_file(
        self, spec: str, overrides: dict | None = None, weights: Path | None = None
    ) -> None:
        """Open a user's model file: the run imports it (in its own process) and
        answers Built, or Rejected naming the file's line (the model in use stays).
        ``overrides`` change the file's defaults (e.g. seed and device)."""
        self._leave_recording()  # issue 10: a recorded run shown goes away
        self.submit(
            R.Configure(
                None,
                model_file=str(spec),
                weights=weights,
                overrides=tuple((overrides or {}).items()),
            )
        )

    # --- end model files (issue 9) ---

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

    # --- playground (issue 11) ---
    def set_weight(self, layer: str, row: int, col: int | None, value: float) -> None:
        """Set one weight (a bias when ``col`` is None) by hand; undoable, shown at once."""
        self.submit(R.SetWeight(layer, int(row), None if col is None else int(col), float(value)))

    # --- end playground (issue 11) ---

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
        self._poll.stop()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None  # events still queued must not reopen it
        return self._threads.shutdown()

    # --- from the run ---------------------------------------------------------------------

    def _on_event(self, ev) -> None:
        if self.recording is not None:  # a recorded run is shown: nothing trains
            if isinstance(ev, R.Built):
                self.info = ev.info
                self.built.emit(ev.info)
                self.viewingChanged.emit(self.viewing)  # the views show the recording again
            elif not isinstance(ev, R.Metrics | R.SnapshotReady | R.StateChanged):
                self._on_training_event(ev)
            return
        self._on_training_event(ev)

    def _on_training_event(self, ev) -> None:
        match ev:
            case R.Metrics():
                self.history.metrics.append_metrics(ev)
                if self.recorder is not None:
                    self._record(self.recorder.metrics, ev)
                self.step, self.epoch, self.rate = ev.step, ev.epoch, ev.rate
                if len(ev.losses):
                    self.last_loss = float(ev.losses[-1])
                self.metricsArrived.emit(ev)
            case R.SnapshotReady(snap):
                self.history.snapshots.add(snap)
                self._newest = snap
                if self.recorder is not None:
                    self._record(self.recorder.snapshot, snap, self.pacer.racing)
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
                if self.viewing is not None:  # the past it showed is gone
                    self.viewing = None
                    self.viewingChanged.emit(None)
                if self.recorder is not None:
                    self.recorder.new_run(info)
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
                self._abandon_save()
                self._loading = None
                self.errorRaised.emit(message, details)
            case SessionSaved(_, step):
                self._finish_save(step)
            case SessionLoaded(_, step, epoch):
                self._finish_load(step, epoch)
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
        if self._newest is not None and self.viewing is None:
            snap, self._newest = self._newest, None
            self.snapshotReady.emit(snap)
        if self.playing and not self._in_flight and not self.animator.enabled:
            self._in_flight = True
            self.request_snapshot()
        self.frame.emit()
        interval = round(self.pacer.tick())
        if interval != self.timer.interval():
            self.timer.setInterval(interval)

    # --- time travel ------------------------------------------------------------------------

    def timeline_steps(self) -> list[int]:
        """The steps there are snapshots of (what the scrubber can show)."""
        if self.recording is not None:
            return self.recording.steps()
        return self.history.snapshots.steps.tolist()

    @property
    def timeline_version(self) -> int:
        """Changes whenever :meth:`timeline_steps` or :meth:`last_step` may have."""
        if self.recording is not None:
            return self.recording.version
        return self.history.snapshots.version * 1_000_003 + self.step

    def last_step(self) -> int:
        """The newest step of the run (trained, or recorded)."""
        if self.recording is None:
            return self.step
        steps = self.timeline_steps()
        m = self.history.metrics
        last = int(m.train_step.view[-1]) if len(m.train_step) else 0
        return max(last, steps[-1] if steps else 0)

    def snapshot_at(self, step: int):
        """The snapshot shown for ``step``: the newest at or before it."""
        if self.recording is not None:
            return self.recording.snapshot_at(step)
        return self.history.snapshots.at(step)

    def newest_snapshot(self):
        if self.recording is not None:
            return self.recording.newest()
        return self.history.snapshots.latest

    def view_step(self, step: int | None) -> None:
        """Show the snapshot at or before ``step`` in every view; past the
        newest snapshot (or None): back to live."""
        steps = self.timeline_steps()
        if step is None or not steps or step > steps[-1]:
            self.go_live()
            return
        s = steps[max(bisect.bisect_right(steps, step) - 1, 0)]
        if s != self.viewing:
            self.viewing = s
            self.viewingChanged.emit(s)

    def step_back(self) -> None:
        """The snapshot before the one shown."""
        steps = self.timeline_steps()
        if not steps:
            return
        cur = self.viewing if self.viewing is not None else steps[-1]
        i = bisect.bisect_left(steps, cur) - 1
        self.view_step(steps[max(i, 0)])

    def step_forward(self) -> None:
        """The snapshot after the one shown; after the newest: live."""
        if self.viewing is None:
            return
        steps = self.timeline_steps()
        i = bisect.bisect_right(steps, self.viewing)
        self.view_step(steps[i] if i < len(steps) else None)

    def go_live(self) -> None:
        if self.viewing is None:
            return
        self.viewing = None
        self._newest = self.newest_snapshot()
        self.viewingChanged.emit(None)

    # --- recording, sessions, recorded runs ----------------------------------------------------

    def set_recording(self, root: Path | None, snapshot_budget_bytes: int | None = None) -> None:
        """Record each run into ``root`` (None: stop recording)."""
        if self.recorder is not None:
            self.recorder.close()
        self.recorder = Recorder(root, snapshot_budget_bytes) if root is not None else None
        if self.recorder is not None and self.info is not None:
            self.recorder.new_run(self.info)

    def _record(self, fn, *args) -> None:
        rec = self.recorder
        fn(*args)
        if rec.error is not None:  # said once; training goes on unrecorded
            self.recorder = None
            rec.close()
            self.errorRaised.emit(rec.error, "")

    def save_session(self, target: Path) -> None:
        """Write ``target`` (a folder): the run so far as a run folder and the
        trainer's checkpoint. Written beside it under a temporary name and
        renamed into place when complete; a failure leaves what was there."""
        if self.recording is not None:
            raise NnvizError(
                "a recorded run has no model to resume; open a scenario to train and save that"
            )
        if self.info is None:
            raise NnvizError("nothing to save yet: open a scenario to train first")
        if self._saving is not None:
            raise NnvizError("a save is already under way; wait for it to finish")
        target = Path(target)
        tmp = session_temp_folder(target)  # beside it: renamed into place when complete
        self._saving = (tmp, target)
        self.submit(SaveSession(tmp))  # the checkpoint is written where the model is

    def _abandon_save(self) -> None:
        if self._saving is not None:
            shutil.rmtree(self._saving[0], ignore_errors=True)
            self._saving = None

    def _finish_save(self, step: int) -> None:
        if self._saving is None:
            return
        tmp, target = self._saving
        try:
            # every step up to the checkpoint is in the history now (events come in order)
            meta = run_meta(self.info) | {"session": True, "step": int(step)}
            write_history(tmp, meta, self.history)
            swap_into_place(tmp, target)
        except (NnvizError, OSError) as exc:
            self._abandon_save()
            msg = str(exc) if isinstance(exc, NnvizError) else (exc.strerror or str(exc))
            self.errorRaised.emit(f"The session was not saved: {msg}", "")
            return
        self._saving = None
        self.sessionSaved.emit(str(target))

    def load_session(self, folder: Path) -> None:
        """Resume a saved session: its model, optimizer and counters, exactly."""
        folder = Path(folder)
        if not checkpoint_path(folder).is_file():
            raise NnvizError(
                f"no session checkpoint in {folder}; choose a folder saved with Ctrl+S"
            )
        self._leave_recording()
        self._loading = folder
        self.submit(LoadSession(folder))

    def _finish_load(self, step: int, epoch: int) -> None:
        folder, self._loading = self._loading, None
        self.step, self.epoch = step, epoch
        if folder is None:
            return
        from nnviz.core.runfolder import RunReader, is_run_folder

        if not is_run_folder(folder):
            return
        try:
            reader = RunReader(folder)
            spe = self.info.steps_per_epoch if self.info is not None else 1
            fill_history(self.history, reader.metrics(), spe)
            steps = reader.snapshot_steps()
            t0 = time.perf_counter() - 10.0 * len(steps)
            for i, s in enumerate(steps):  # kept as the training history (scrubbable)
                self.history.snapshots.add(reader.snapshot(s), now=t0 + 10.0 * i)
        except NnvizError as exc:
            self.errorRaised.emit(f"The session resumed, but its history is unreadable: {exc}", "")
        m = self.history.metrics
        if len(m.train_loss):
            self.last_loss = float(m.train_loss.view[-1])

    def open_recording(self, path: Path) -> None:
        """Show a run folder (or TensorBoard logdir) instead of training; live
        while it grows."""
        from nnviz.core.runfolder import open_run

        recorded = RecordedRun(open_run(path))  # a bad folder: NnvizError, nothing changes
        self.pause()
        if self.recorder is not None:
            self.recorder.close()
        self.recording, self.viewing = recorded, None
        self.history.clear()
        recorded.fill(self.history)
        self._newest = recorded.newest()
        self._poll.start()
        self.modeChanged.emit(True)
        self.viewingChanged.emit(None)

    def _leave_recording(self) -> None:
        if self.recording is None:
            return
        self.recording, self.viewing = None, None
        self._poll.stop()
        self.history.clear()
        self.modeChanged.emit(False)

    def _poll_recording(self) -> None:
        if self.recording is None:
            return
        try:
            changes = self.recording.refresh(self.history)
        except NnvizError as exc:
            self._poll.stop()
            self.errorRaised.emit(f"Stopped following the run: {exc}", "")
            return
        if changes and self.viewing is None and (changes.snapshots or changes.dropped):
            self._newest = self.recording.newest()

    def status_text(self) -> str:
        """The status line: one source of truth for step, epoch and loss."""
        if self.recording is not None:
            last = self.last_step()
            where = (
                f"step {self.viewing:,} of {last:,}"
                if self.viewing is not None
                else (f"step {last:,}")
            )
            growing = "" if self.recording.complete else " (still growing)"
            back = " — End returns to the newest" if self.viewing is not None else ""
            return f"viewing a recorded run{growing} · {where}{back}"
        if self.viewing is not None:
            return f"viewing step {self.viewing:,} of {self.step:,} — End returns to live" + (
                " · training goes on" if self.playing else ""
            )
        loss = self.last_loss
        text = DASH if not math.isfinite(loss) and not self.step else fmt(loss)
        # speed only where it means something: racing (at a set pace the slider says it)
        rate = (
            f" · {self.rate:,.0f} steps/s"
            if self.playing and self.rate and self._full_speed
            else ""
        )
        # --- health (issue 12): the newest health warning, while it holds ---
        report = self.history.health.latest if hasattr(self.history, "health") else None
        if report is not None and report.warnings:
            more = f" (+{len(report.warnings) - 1} more)" if len(report.warnings) > 1 else ""
            rate = f"{rate} · ⚠ {report.warnings[0]}{more}"
        # --- end health (issue 12) ---
        return f"step {self.step:,} · epoch {self.epoch} · loss {text}{rate}"
