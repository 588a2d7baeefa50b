"""The main window: layout and wiring only.

Views, state and the worker live in their own modules; this file places them
and connects their signals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
)

from nnviz.core.autograd_graph import MAX_SCALAR_WEIGHTS
from nnviz.core.errors import NnvizError
from nnviz.core.history import History
from nnviz.qt.actions import make_actions
from nnviz.qt.controls import ControlsPanel
from nnviz.qt.help_overlay import HelpOverlay
from nnviz.qt.layout_modes import LayoutModes
from nnviz.qt.preferences import save_theme, save_window
from nnviz.qt.session import Session
from nnviz.qt.status_line import FIRST_OPEN_HINT, StatusLine, pass_caption
from nnviz.qt.theme import DARK, LIGHT, Theme, apply_theme
from nnviz.qt.view_links import LayerModuleLink
from nnviz.qt.views import VIEWS, ViewFeed, make_views


class MainWindow(QMainWindow):
    def __init__(
        self,
        scenario_id: str,
        data_dir: Path | None = None,
        theme: Theme = DARK,
        overrides: dict | None = None,
        history: History | None = None,
    ):
        super().__init__()
        self.setWindowTitle("nnviz")
        self.resize(1600, 900)
        self.theme = theme
        self._phase: tuple = (None, 0.0)
        self._error_box: QMessageBox | None = None
        self._shown = None  # the scenario the window shows
        self.session = Session(self, history=history)
        self.actions_ = make_actions(self)

        # --- views (one list: nnviz.qt.views) ------------------------------------------------
        self.views = make_views(theme, self.session.history)
        self.feed = ViewFeed(self.views, visible=lambda view: view.isVisibleTo(self))
        v = self.views
        self.network, self.boundary, self.loss = v["network"], v["boundary"], v["loss"]
        self.graph, self.formulas = v["graph"], v["formulas"]
        net_split = QSplitter(Qt.Horizontal)
        for spec in VIEWS:
            if spec.place == "network":
                net_split.addWidget(v[spec.name])
        net_split.setStretchFactor(0, 3)
        net_split.setStretchFactor(1, 2)
        self.tabs = QTabWidget()
        self.tabs.addTab(net_split, "Network")
        for spec in VIEWS:
            if spec.place == "tab":
                self.tabs.addTab(v[spec.name], spec.title)
        self.net_split = net_split
        self.split = split = QSplitter(Qt.Vertical)
        split.setChildrenCollapsible(False)
        net_split.setChildrenCollapsible(False)
        split.addWidget(self.tabs)
        for spec in VIEWS:
            if spec.place == "below":
                split.addWidget(v[spec.name])
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([620, 260])
        self.setCentralWidget(split)

        self.controls = ControlsPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        self.settings_dock = dock = QDockWidget("Settings", self)
        dock.setObjectName("settingsDock")
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.docks = {}
        for spec in VIEWS:
            if spec.place == "dock":
                d = QDockWidget(spec.title, self)
                d.setObjectName(f"{spec.name}Dock")
                d.setToolTip(spec.tooltip)
                d.setWidget(v[spec.name])
                self.addDockWidget(Qt.RightDockWidgetArea, d)
                d.hide()
                self.docks[spec.name] = d
        self.formula_dock = self.docks["formulas"]
        self.link = LayerModuleLink(self.network, self.graph, self)
        self.help = HelpOverlay(self.actions_.shortcut_table(), parent=self)
        self.help.hide()

        # --- toolbar and status bar -------------------------------------------------------------
        a = self.actions_
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        for name in ("open", "data"):
            bar.addAction(getattr(a, name))
        bar.addSeparator()
        for name in ("undo", "redo"):
            bar.addAction(getattr(a, name))
        bar.addSeparator()
        for name in ("log_scale", "theme", "presenter", "help"):
            bar.addAction(getattr(a, name))
        self.menu_button = QToolButton()  # exports, the settings and the layout (issue 11)
        self.menu_button.setObjectName("moreButton")
        self.menu_button.setText("More")
        self.menu_button.setToolTip("Save images, show the settings, reset the layout")
        self.menu_button.setPopupMode(QToolButton.InstantPopup)
        self.menu_button.setMenu(self._make_menu())
        bar.addWidget(self.menu_button)
        self.toolbar = bar
        self.addToolBar(bar)
        buttons = []
        for name in ("play", "step", "step_epoch", "reset"):
            b = QToolButton()
            b.setDefaultAction(getattr(a, name))
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            buttons.append(b)
        self.controls.add_playback(*buttons)
        self.status_step = StatusLine()  # the one status line (issue 11)
        self.status_note = QLabel()
        self.status_note.setObjectName("statusNote")
        self.statusBar().addWidget(self.status_step, 1)
        self.statusBar().addPermanentWidget(self.status_note)
        self.statusBar().setSizeGripEnabled(False)
        # anyone's showMessage lands in the one status line, never over it
        self.statusBar().messageChanged.connect(self._from_status_bar)
        self.layouts = LayoutModes(self)

        # --- wiring ----------------------------------------------------------------------------
        s = self.session
        a.play.triggered.connect(s.toggle)
        a.step.triggered.connect(s.step_once)
        a.step_epoch.triggered.connect(s.step_epoch)
        a.reset.triggered.connect(s.reset)
        a.undo.triggered.connect(s.undo)
        a.redo.triggered.connect(s.redo)
        a.undo.setEnabled(False)
        a.redo.setEnabled(False)
        s.historyChanged.connect(lambda u, r: (a.undo.setEnabled(u), a.redo.setEnabled(r)))
        a.faster.triggered.connect(self.controls.faster)
        a.slower.triggered.connect(self.controls.slower)
        a.open.triggered.connect(self.controls.scenario.showPopup)
        a.data.triggered.connect(self.choose_data_folder)
        a.save_image.triggered.connect(lambda: self.save_image())
        a.save_view.triggered.connect(lambda: self.save_image(self.view_under_mouse()))
        a.settings.setChecked(True)
        a.settings.toggled.connect(self.settings_dock.setVisible)
        self.settings_dock.visibilityChanged.connect(self._settings_shown)
        a.reset_layout.triggered.connect(self.layouts.reset)
        a.quit.triggered.connect(self.close)
        a.show_network.triggered.connect(lambda: self.tabs.setCurrentIndex(0))
        a.show_graph.triggered.connect(lambda: self.tabs.setCurrentIndex(1))
        a.log_scale.toggled.connect(self.loss.set_log_scale)
        a.weights.triggered.connect(self.network.show_weight_heatmap)
        a.theme.toggled.connect(lambda on: self.set_theme(LIGHT if on else DARK))
        a.presenter.toggled.connect(self.set_presenter)
        a.help.triggered.connect(self.toggle_help)

        self.controls.scenarioChosen.connect(self.open_scenario)
        self.controls.configChanged.connect(s.apply_config)
        self.controls.lrChanged.connect(s.set_lr)
        self.controls.speedChanged.connect(s.set_speed)
        self.controls.threadsChanged.connect(s.set_threads)
        self.controls.dataFolderRequested.connect(self.choose_data_folder)

        s.built.connect(self.on_built)
        s.snapshotReady.connect(self.on_snapshot)
        s.playingChanged.connect(self.on_playing)
        s.errorRaised.connect(self.on_error)
        s.configRejected.connect(self.on_rejected)
        s.halted.connect(self.on_halted)
        s.finished.connect(lambda msg: self.status_step.show_message(msg, 60))
        for name in ("step", "step_epoch", "reset", "undo", "redo"):  # a message until acted on
            getattr(a, name).triggered.connect(self.status_step.clear_message)
        s.frame.connect(self.on_frame)
        s.graphReady.connect(self.graph.set_trace)
        s.gradcheckReady.connect(self.graph.show_gradcheck)
        self.graph.captureRequested.connect(s.request_graph)
        self.graph.gradCheckRequested.connect(s.request_gradcheck)
        self.graph.stepInspected.connect(self.loss.set_marker)
        self.network.neuronSelected.connect(self.on_neuron_selected)
        self.network.weightEdited.connect(self.session.set_weight)  # playground (issue 11)
        self.tabs.currentChanged.connect(self._tab_changed)

        # --- time travel, sessions, recording (issue 10: nnviz/qt/scrubber.py) ---
        from nnviz.qt.recording import recording_target
        from nnviz.qt.scrubber import TimeTravel

        self.time_travel = TimeTravel(self)  # the scrubber under the views, its keys, Ctrl+S
        s.set_recording(recording_target())
        from nnviz.qt.rank_view import RankPanel
        from nnviz.qt.recording import install_record_toggle

        self.rank_panel = RankPanel(self)  # a distributed run's ranks side by side
        install_record_toggle(self)  # More → Record runs
        # --- end issue 10 ---

        # --- model files (issue 9) ---
        a.open_model_file.triggered.connect(self.choose_model_file)
        bar.insertAction(a.data, a.open_model_file)  # beside Scenario… and Data folder…
        # --- end model files (issue 9) ---

        self.on_playing(False)
        self.open_scenario(scenario_id, data_dir, overrides)

    # --- scenario and data -----------------------------------------------------------------------

    def open_scenario(
        self, scenario_id: str, data_dir: Path | None = None, overrides: dict | None = None
    ) -> None:
        s = self.session
        # --- model files (issue 9): `nnviz open FILE.py` ---
        from nnviz.core.model_file import is_model_file

        if is_model_file(scenario_id):
            self.open_model_file(scenario_id, overrides)
            return
        if overrides and "weights" in overrides:
            overrides = {k: v for k, v in overrides.items() if k != "weights"}
            self.on_error("--weights in the app is for model files (nnviz open FILE.py)", "")
        # --- end model files (issue 9) ---
        try:
            config = None
            if overrides:
                from nnviz.core.engine import TrainConfig
                from nnviz.core.scenarios import get_scenario

                config = TrainConfig.for_scenario(get_scenario(scenario_id), **overrides)
            s.open_scenario(scenario_id, data_dir, config)
        except NnvizError as exc:
            self.on_error(str(exc), "")
            return
        if s.scenario.trainable:  # the rest is shown when built (a failure keeps the old)
            self.controls.show_config(s.scenario, s.config)
        else:
            self._show_scenario(s.scenario)

    # --- model files (issue 9) ---
    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model file", "", "Python model file (*.py);;All files (*)"
        )
        if path:
            self.open_model_file(path)

    def open_model_file(self, spec: str, overrides: dict | None = None) -> None:
        """A user's model file, trained like a scenario; a bad one is reported in the
        error dialog (its file, line and frames) and the model in use stays."""
        overrides = dict(overrides or {})
        weights = overrides.pop("weights", None)
        config = self.session.config
        if not overrides and config is not None:  # the device and seed in use carry over
            overrides = {"device": config.device, "seed": config.seed}
        self.session.open_model_file(spec, overrides, weights)
        self.status_step.show_message(f"Loading {Path(spec).name}…")

    # --- end model files (issue 9) ---

    def _show_scenario(self, sc) -> None:
        was_trainable = self._shown is None or self._shown.trainable
        self._shown = sc
        self.setWindowTitle(f"nnviz — {sc.title}")
        self.graph.set_scenario(sc)
        trainable = sc.trainable
        self.tabs.setTabEnabled(0, trainable)
        self.layouts.fit_tab()
        if not trainable:
            self.controls.show_config(sc, self.session.config)
            self.tabs.setCurrentIndex(1)
            self.graph.show_expression(sc)
            self.status_note.setText("")
        elif not was_trainable:
            self.tabs.setCurrentIndex(0)
        self.status_step.clear_message()
        self.status_step.show_state("" if trainable else "Step through the graph: N next, B back")

    def choose_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with MNIST or apparel files")
        if folder:
            sc = self.session.scenario
            target = sc.id if sc is not None and sc.data_kind else "mnist-mlp"
            self.open_scenario(target, Path(folder))

    # --- from the session ---------------------------------------------------------------------------

    def on_built(self, info) -> None:
        self._show_scenario(info.scenario)
        self.controls.show_config(info.scenario, info.config, info.param_count, info.device)
        self.feed.reset()
        self.link.set_layers(info.layer_modules)
        self.formulas.set_loss(info.config.loss)
        self.graph.set_scalar_allowed(
            info.param_count <= MAX_SCALAR_WEIGHTS,
            f"The scalar graph is for at most {MAX_SCALAR_WEIGHTS} weights; "
            f"this model has {info.param_count:,}",
        )
        two_d = info.points is not None
        self.boundary.setVisible(two_d)
        if two_d:
            self.boundary.set_points(info.points, info.labels, info.test_mask)
        self.status_step.clear_message()
        # short, so the status line keeps its room; the data note is the tooltip
        self.status_note.setText(f"{info.device.upper()} · {info.param_count:,} parameters")
        self.status_note.setToolTip(info.data_note or "")
        self._fit_status_bar()
        if self.tabs.currentIndex() == 1:
            self.session.request_graph()

    def on_snapshot(self, snap) -> None:
        self.feed.show(snap, self.session.pacer.racing)

    def on_rejected(self, info) -> None:
        """A setting could not be built: show again what is in use."""
        if info is not None:
            self.controls.show_config(info.scenario, info.config, info.param_count, info.device)
        elif self._shown is not None:  # back to the expression shown before
            self.open_scenario(self._shown.id)
        else:
            self.status_step.show_message("Nothing could be built: choose a scenario (Ctrl+O)")

    def on_frame(self) -> None:
        s = self.session
        phase = s.animator.phase()
        if phase != self._phase:  # the edges are redrawn only while the passes animate
            self._phase = phase
            self.network.set_phase(*phase)
        self.feed.refresh(s.pacer.racing)
        if s.scenario is not None and s.scenario.trainable and s.info is None:
            self.status_step.show_state(f"Building {s.scenario.title}…")
        elif s.scenario is not None and s.scenario.trainable:
            self.status_step.show_state(self.status_text(), s.step)

    def _from_status_bar(self, message: str) -> None:
        if message:
            self.status_step.show_message(message, 10)
            self.statusBar().clearMessage()

    def status_text(self) -> str:
        """The state line: the hint before anything is trained, else the session's
        step, epoch and loss, with the sweep's caption while a step animates."""
        s = self.session
        if s.step == 0 and not s.playing and len(s.history.metrics) == 0:
            return FIRST_OPEN_HINT
        text = s.status_text()
        phase, progress = self._phase
        snap = self.network.snapshot
        if phase is not None and snap is not None:
            caption = pass_caption(phase, progress, len(snap.layers) + 1)
            text = f"{text} · {caption}" if caption else text
        return text

    def on_neuron_selected(self, layer: int, index: int) -> None:
        if layer >= 1:
            self.formulas.select(layer, index)
            self.formula_dock.show()

    def on_playing(self, playing: bool) -> None:
        self.actions_.play.setText("Pause" if playing else "Play")
        if playing:
            self.status_step.clear_message()

    def on_error(self, message: str, details: str) -> None:
        if self._error_box is not None:  # one box: the newest message replaces the last
            self._error_box.close()
            self._error_box.deleteLater()
        box = QMessageBox(QMessageBox.Warning, "nnviz", message, QMessageBox.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.NonModal)  # not exec(): the window stays usable behind it
        box.show()
        self._error_box = box

    def on_halted(self, message: str) -> None:
        self.status_step.show_message(message, 30)
        self.on_error(message, "")

    def _tab_changed(self, index: int) -> None:
        self.layouts.fit_tab()
        if index == 1 and self.session.scenario is not None and self.session.scenario.trainable:
            self.session.request_graph()

    # --- look ------------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        theme = theme.scaled(self.theme.scale)
        self.theme = theme
        save_theme(theme.name)  # remembered at once, not only at a clean quit
        apply_theme(QApplication.instance(), theme)
        self._fit_status_bar()
        for view in (*self.views.values(), self.help):
            view.set_theme(theme)
        # the settings grow with the font (else presenter mode hides them behind a scroll bar),
        # once the window has its new size
        QTimer.singleShot(0, self, self._fit_settings)

    def _fit_status_bar(self) -> None:
        """The status bar as tall as its (new) font: Qt keeps the old height otherwise."""
        from PySide6.QtGui import QFontMetrics

        line = QFontMetrics(QApplication.font()).height()
        for label in (self.status_step, self.status_note):
            label.setMinimumHeight(line)
        self.status_note.setMinimumWidth(
            QFontMetrics(QApplication.font()).horizontalAdvance(self.status_note.text()) + 4
        )
        self.statusBar().setMinimumHeight(line + 4)

    def _fit_settings(self) -> None:
        if self.layouts.presenter:
            return
        scroll = self.settings_dock.widget()
        width = self.controls.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        self.resizeDocks([self.settings_dock], [width + 2 * scroll.frameWidth()], Qt.Horizontal)

    def set_presenter(self, on: bool) -> None:
        self.layouts.set_presenter(on)

    def fit_settings(self) -> None:
        """The settings dock as wide as its contents (after a restored layout)."""
        self._fit_settings()

    def _settings_shown(self, visible: bool) -> None:
        if self.settings_dock.isHidden() == visible:  # visibilityChanged also fires for tabs
            return
        a = self.actions_.settings
        if a.isChecked() != visible:
            a.blockSignals(True)
            a.setChecked(visible)
            a.blockSignals(False)

    def toggle_help(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        else:
            self.help.setGeometry(self.rect())
            self.help.show()
            self.help.raise_()

    # --- export (issue 11) --------------------------------------------------------------------

    def _make_menu(self) -> QMenu:
        a = self.actions_
        menu = QMenu(self)
        menu.addAction(a.save_image)
        views = menu.addMenu("Save one view")
        for spec in VIEWS:
            act = views.addAction(f"{spec.title}…")
            act.setObjectName(f"export_{spec.name}")
            act.triggered.connect(lambda _=False, n=spec.name: self.save_image(n))
        menu.addAction(a.save_view)
        # --- animated export (issue 11): record the next N seconds of a view ---
        record = menu.addAction("Record a view (GIF/MP4)…")
        record.setObjectName("record_view")
        record.setToolTip("Record the next N seconds of a view or the window as a GIF or MP4")

        def ask_and_record(_=False) -> None:
            from nnviz.qt.recorder import ask_and_record

            ask_and_record(self)

        record.triggered.connect(ask_and_record)
        # --- end animated export (issue 11) ---
        menu.addSeparator()
        menu.addAction(a.settings)
        menu.addAction(a.reset_layout)
        return menu

    def export_target(self, name: str | None):
        """The widget a picture is taken of: a view by name, None for the whole window."""
        if name is None:
            return self
        return self.views[name]

    def view_under_mouse(self) -> str | None:
        from PySide6.QtGui import QCursor

        w = QApplication.widgetAt(QCursor.pos())
        while w is not None:
            for name, view in self.views.items():
                if w is view and view.isVisible():
                    return name
            w = w.parentWidget()
        return "network" if self.tabs.currentIndex() == 0 else "graph"

    def save_image(self, name: str | None = None) -> Path | None:
        """Ask for a file and save the whole window (``name`` None) or one view as PNG/SVG."""
        default = f"nnviz-{name or 'window'}.png"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save image", default, "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if not path:
            return None
        from nnviz.qt.export import save_widget

        try:
            return save_widget(self.export_target(name), Path(path), title=self.windowTitle())
        except NnvizError as exc:
            self.on_error(str(exc), "")
            return None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.layouts.screen_changed()
        if self.help.isVisible():
            self.help.setGeometry(self.rect())

    def closeEvent(self, event) -> None:
        # the desk layout is remembered, never the presenter's (issue 11)
        geometry, state = self.layouts.normal_layout()
        save_window(self, "light" if self.actions_.theme.isChecked() else "dark", geometry, state)
        self.session.shutdown()
        if self._error_box is not None:
            self._error_box.close()
        super().closeEvent(event)
