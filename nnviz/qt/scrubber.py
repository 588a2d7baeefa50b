"""Time travel: a timeline under the views, and its wiring into the window.

:class:`Scrubber` draws the run's steps as a bar, a tick where each kept
snapshot is, and a handle at the step the views show (at the right end, and
the Live button lit, while they follow training). Clicking or dragging
chooses a step; every view then draws the snapshot of that step
(``Session.view_step``), the loss view marks it, and the status line says
so. ``,`` / ``.`` (or Alt+←/→) step through the kept snapshots and End goes
back to live.

:class:`TimeTravel` is the one place the main window creates for all of it
(the scrubber, the time-travel keys, saving and opening sessions and run
folders, the recorded-run mode).
"""

from __future__ import annotations

import bisect
import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.errors import NnvizError
from nnviz.qt.theme import Theme, font_pt

TRAINING_ACTIONS = ("play", "step", "step_epoch", "reset", "undo", "redo", "save_session")


class Timeline(QtWidgets.QWidget):
    """The bar itself: steps 0..last, snapshot ticks, the viewed step's handle."""

    stepChosen = QtCore.Signal(int)
    liveRequested = QtCore.Signal()

    PAD = 8

    def __init__(self, theme: Theme, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.steps = np.zeros(0, dtype=np.int64)
        self.last = 0
        self.viewing: int | None = None
        self.setMinimumHeight(22)
        self.setMouseTracking(False)
        self.setCursor(QtCore.Qt.PointingHandCursor)
        self.setToolTip("Drag to travel back through the run; End returns to live")

    def set_state(self, steps, last: int, viewing: int | None) -> None:
        self.steps = np.asarray(steps, dtype=np.int64)
        self.last = max(int(last), int(self.steps[-1]) if self.steps.size else 0)
        self.viewing = viewing
        self.update()

    # --- geometry ------------------------------------------------------------------------

    def _span(self) -> tuple[float, float]:
        return self.PAD, max(self.PAD + 1.0, self.width() - self.PAD)

    def x_of(self, step: float) -> float:
        x0, x1 = self._span()
        return x0 + (x1 - x0) * (step / self.last if self.last > 0 else 1.0)

    def step_at(self, x: float) -> int:
        x0, x1 = self._span()
        f = min(max((x - x0) / (x1 - x0), 0.0), 1.0)
        return round(f * self.last)

    # --- mouse ---------------------------------------------------------------------------

    def _choose(self, x: float) -> None:
        x1 = self._span()[1]
        if x >= x1 - 1 and self.steps.size and self.last > self.steps[-1]:
            self.liveRequested.emit()  # dragged past the newest snapshot: live
        else:
            self.stepChosen.emit(self.step_at(x))

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.LeftButton:
            self._choose(event.position().x())

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.buttons() & QtCore.Qt.LeftButton:
            self._choose(event.position().x())

    # --- drawing ---------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        t = self.theme
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        h = self.height()
        x0, x1 = self._span()
        mid = h / 2
        p.setPen(QtCore.Qt.NoPen)
        p.setBrush(QtGui.QColor(t.grid))
        p.drawRoundedRect(QtCore.QRectF(x0, mid - 3, x1 - x0, 6), 3, 3)
        if self.steps.size:
            # where there are snapshots to travel to
            pen = QtGui.QPen(QtGui.QColor(t.muted), 1)
            p.setPen(pen)
            f = self.steps / self.last if self.last > 0 else np.ones(self.steps.size)
            xs = np.unique(np.round(x0 + (x1 - x0) * f))  # one tick a pixel column
            p.drawLines([QtCore.QLineF(x, mid - 6, x, mid + 6) for x in xs])
        live = self.viewing is None
        step = self.last if live else self.viewing
        x = self.x_of(step)
        # the part of the run already shown: up to the handle
        p.setPen(QtCore.Qt.NoPen)
        colour = QtGui.QColor(t.accent if not live else t.train)
        p.setBrush(colour)
        p.drawRoundedRect(QtCore.QRectF(x0, mid - 3, max(0.0, x - x0), 6), 3, 3)
        p.setPen(QtGui.QPen(QtGui.QColor(t.background), 2))
        p.drawEllipse(QtCore.QPointF(x, mid), 7, 7)
        p.end()


class Scrubber(QtWidgets.QWidget):
    """The timeline, the viewed step and a Live button, in one row."""

    stepChosen = QtCore.Signal(int)
    liveRequested = QtCore.Signal()

    def __init__(self, theme: Theme, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("scrubber")
        self.timeline = Timeline(theme)
        self.label = QtWidgets.QLabel()
        self.label.setMinimumWidth(150)
        self.label.setAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        self.live = QtWidgets.QPushButton("Live")
        self.live.setCheckable(True)
        self.live.setChecked(True)
        self.live.setToolTip("Follow training as it happens (End)")
        self.live.setFocusPolicy(QtCore.Qt.NoFocus)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.timeline, 1)
        row.addWidget(self.label)
        row.addWidget(self.live)
        self.timeline.stepChosen.connect(self.stepChosen)
        self.timeline.liveRequested.connect(self.liveRequested)
        self.live.clicked.connect(self._live_clicked)
        self._state: tuple | None = None
        self.set_theme(theme)
        self.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Fixed)

    def _live_clicked(self) -> None:
        self.live.setChecked(self.timeline.viewing is None)  # the session says when it is live
        self.liveRequested.emit()

    def set_theme(self, theme: Theme) -> None:
        self.timeline.theme = theme
        font = self.label.font()
        font.setPointSizeF(font_pt(theme, 9))
        self.label.setFont(font)
        self.label.setStyleSheet(f"color: {theme.muted};")
        self.timeline.update()

    def sync(self, steps, last: int, viewing: int | None, version: int = 0) -> None:
        """Show the timeline (cheap when nothing changed)."""
        state = (version, last, viewing, len(steps))
        if state == self._state:
            return
        self._state = state
        self.timeline.set_state(steps, last, viewing)
        self.live.setChecked(viewing is None)
        n = len(steps)
        if viewing is None:
            self.label.setText(f"live · {n:,} snapshot{'s' if n != 1 else ''}")
        else:
            i = bisect.bisect_right(list(steps), viewing)
            self.label.setText(f"step {viewing:,} of {last:,} · {i}/{n}")


class TimeTravel(QtCore.QObject):
    """Everything of issue 10 the main window shows, created in one place:
    the scrubber under the views, the time-travel keys, Ctrl+S (save the
    session), opening run folders and sessions, the recorded-run mode."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        s, a = win.session, win.actions_
        self._theme = win.theme
        self.scrubber = Scrubber(win.theme)
        split = win.centralWidget()
        split.addWidget(self.scrubber)
        split.setCollapsible(split.indexOf(self.scrubber), False)
        self.scrubber.stepChosen.connect(s.view_step)
        for view in win.views.values():  # a click on a step in a health view jumps there
            if hasattr(view, "stepClicked"):
                view.stepClicked.connect(s.view_step)
        self.scrubber.liveRequested.connect(s.go_live)
        a.back_in_time.triggered.connect(s.step_back)
        a.forward_in_time.triggered.connect(s.step_forward)
        a.live.triggered.connect(s.go_live)
        a.save_session.triggered.connect(self.save_session_dialog)
        a.open_run.triggered.connect(self.open_dialog)
        s.viewingChanged.connect(self.show_step)
        s.modeChanged.connect(self.set_recorded_mode)
        s.sessionSaved.connect(
            lambda path: win.statusBar().showMessage(f"Session saved to {path}", 10000)
        )
        s.frame.connect(self.sync)
        s.built.connect(self._built)
        self._title = ""
        self._synced = 0.0
        bar = win.findChild(QtWidgets.QToolBar, "mainToolbar")
        if bar is not None:  # beside the scenario and data buttons
            bar.insertAction(a.undo, a.open_run)
            bar.insertAction(a.undo, a.save_session)

    def _built(self, _info) -> None:
        s = self.win.session
        if s.recording is not None:  # the model built under a recording: keep saying so
            self.win.setWindowTitle(self._title)
            self.set_recorded_mode(True)

    SYNC_RACING_S = 0.25  # while training races, the timeline moves 4 times a second

    def sync(self) -> None:
        s = self.win.session
        now = time.monotonic()
        if s.pacer.racing and s.viewing is None and now - self._synced < self.SYNC_RACING_S:
            return
        self._synced = now
        if self.win.theme is not self._theme:  # the window has no theme signal: follow it here
            self._theme = self.win.theme
            self.scrubber.set_theme(self._theme)
        self.scrubber.sync(s.timeline_steps(), s.last_step(), s.viewing, s.timeline_version)

    def set_theme(self, theme: Theme) -> None:
        self.scrubber.set_theme(theme)

    # --- the views ---------------------------------------------------------------------------

    def show_step(self, step: int | None) -> None:
        """Every view draws the snapshot of ``step`` (None: the newest)."""
        s, win = self.win.session, self.win
        snap = s.snapshot_at(step) if step is not None else s.newest_snapshot()
        if snap is not None:
            win.feed.show(snap, racing=False)
            win.feed.refresh(racing=False)
        win.loss.set_marker(step)
        self.sync()

    def set_recorded_mode(self, recorded: bool) -> None:
        """A recorded run: nothing to train, so no training controls."""
        a = self.win.actions_
        for name in TRAINING_ACTIONS:
            getattr(a, name).setEnabled(not recorded)
        controls = self.win.controls
        controls.setEnabled(not recorded)
        if recorded:  # the theme's style sheet draws disabled buttons as enabled ones: dim it
            effect = QtWidgets.QGraphicsOpacityEffect(controls)
            effect.setOpacity(0.4)
            controls.setGraphicsEffect(effect)
        else:
            controls.setGraphicsEffect(None)
        if not recorded:
            self.win.session.historyChanged.emit(False, False)
        self.win.statusBar().showMessage(
            "Viewing a recorded run: the scrubber and , / . travel through it" if recorded else "",
            10000,
        )

    # --- files -------------------------------------------------------------------------------

    def save_session_dialog(self) -> None:
        from nnviz.qt.recording import default_runs_dir, run_folder_name

        s = self.win.session
        if s.info is None:
            self.win.on_error("Nothing to save yet: open a scenario to train first.", "")
            return
        suggested = default_runs_dir().parent / "sessions" / run_folder_name(s.info.scenario.id)
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.win, "Save session (a folder)", str(suggested), "nnviz session (folder) (*)"
        )
        if path:
            self.save_session(Path(path))

    def save_session(self, path: Path) -> None:
        try:
            self.win.session.save_session(Path(path))
        except NnvizError as exc:
            self.win.on_error(str(exc), "")
            return
        self.win.statusBar().showMessage(f"Saving the session to {path}…", 5000)

    def open_dialog(self) -> None:
        from nnviz.qt.recording import default_runs_dir

        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self.win,
            "Open a run folder, TensorBoard logdir or saved session",
            str(default_runs_dir()),
        )
        if folder:
            self.open_path(Path(folder))

    def open_path(self, path: Path) -> None:
        """A saved session resumes training; any other run folder (or
        TensorBoard logdir) is shown as a recording."""
        from nnviz.core.checkpoint import checkpoint_path

        s = self.win.session
        try:
            if checkpoint_path(path).is_file():
                s.load_session(path)
            else:
                s.open_recording(path)
                self._title = f"nnviz — {Path(path).name} (recorded run)"
                self.win.setWindowTitle(self._title)
        except NnvizError as exc:
            self.win.on_error(str(exc), "")
