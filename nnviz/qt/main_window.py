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
from nnviz.qt.preferences import save_window
from nnviz.qt.session import Session
from nnviz.qt.theme import DARK, LIGHT, Theme, apply_theme
from nnviz.qt.view_links import LayerModuleLink
from nnviz.qt.views import VIEWS, ViewFeed, make_views

PRESENTER_SCALE = 1.6


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
        self.feed = ViewFeed(self.views)
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
        split = QSplitter(Qt.Vertical)
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
        self.addToolBar(bar)
        buttons = []
        for name in ("play", "step", "step_epoch", "reset"):
            b = QToolButton()
            b.setDefaultAction(getattr(a, name))
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            buttons.append(b)
        self.controls.add_playback(*buttons)
        self.status_step = QLabel()
        self.status_note = QLabel()
        self.statusBar().addWidget(self.status_step, 1)
        self.statusBar().addPermanentWidget(self.status_note)

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
        a.save_image.triggered.connect(self.save_image)
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
        s.finished.connect(lambda msg: self.statusBar().showMessage(msg, 30000))
        s.frame.connect(self.on_frame)
        s.graphReady.connect(self.graph.set_trace)
        s.gradcheckReady.connect(self.graph.show_gradcheck)
        self.graph.captureRequested.connect(s.request_graph)
        self.graph.gradCheckRequested.connect(s.request_gradcheck)
        self.graph.stepInspected.connect(self.loss.set_marker)
        self.network.neuronSelected.connect(self.on_neuron_selected)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.on_playing(False)
        self.open_scenario(scenario_id, data_dir, overrides)

    # --- scenario and data -----------------------------------------------------------------------

    def open_scenario(
        self, scenario_id: str, data_dir: Path | None = None, overrides: dict | None = None
    ) -> None:
        s = self.session
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

    def _show_scenario(self, sc) -> None:
        was_trainable = self._shown is None or self._shown.trainable
        self._shown = sc
        self.setWindowTitle(f"nnviz — {sc.title}")
        self.graph.set_scenario(sc)
        trainable = sc.trainable
        self.tabs.setTabEnabled(0, trainable)
        self.loss.setVisible(trainable)
        if not trainable:
            self.controls.show_config(sc, self.session.config)
            self.tabs.setCurrentIndex(1)
            self.graph.show_expression(sc)
            self.status_note.setText("")
        elif not was_trainable:
            self.tabs.setCurrentIndex(0)
        self.status_step.setText("" if trainable else "Step through the graph: N next, B back")

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
        self.status_note.setText(
            f"{info.device.upper()} · {info.param_count:,} parameters"
            + (f" · {info.data_note}" if info.data_note else "")
        )
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
            self.status_step.setText("Nothing could be built: choose a scenario (Ctrl+O)")

    def on_frame(self) -> None:
        s = self.session
        phase = s.animator.phase()
        if phase != self._phase:  # the edges are redrawn only while the passes animate
            self._phase = phase
            self.network.set_phase(*phase)
        self.feed.refresh(s.pacer.racing)
        if s.scenario is not None and s.scenario.trainable and s.info is None:
            self.status_step.setText(f"Building {s.scenario.title}…")
        elif s.scenario is not None and s.scenario.trainable:
            self.status_step.setText(s.status_text())

    def on_neuron_selected(self, layer: int, index: int) -> None:
        if layer >= 1:
            self.formulas.select(layer, index)
            self.formula_dock.show()

    def on_playing(self, playing: bool) -> None:
        self.actions_.play.setText("Pause" if playing else "Play")

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
        self.statusBar().showMessage(message, 15000)
        self.on_error(message, "")

    def _tab_changed(self, index: int) -> None:
        if index == 1 and self.session.scenario is not None and self.session.scenario.trainable:
            self.session.request_graph()

    # --- look ------------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        theme = theme.scaled(self.theme.scale)
        self.theme = theme
        apply_theme(QApplication.instance(), theme)
        for view in (*self.views.values(), self.help):
            view.set_theme(theme)
        # the settings grow with the font (else presenter mode hides them behind a scroll bar),
        # once the window has its new size
        QTimer.singleShot(0, self, self._fit_settings)

    def _fit_settings(self) -> None:
        scroll = self.settings_dock.widget()
        width = self.controls.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        self.resizeDocks([self.settings_dock], [width + 2 * scroll.frameWidth()], Qt.Horizontal)

    def set_presenter(self, on: bool) -> None:
        base = LIGHT if self.actions_.theme.isChecked() else DARK
        self.theme = base.scaled(PRESENTER_SCALE if on else 1.0)
        self.set_theme(self.theme)
        self.showFullScreen() if on else self.showNormal()

    def toggle_help(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        else:
            self.help.setGeometry(self.rect())
            self.help.show()
            self.help.raise_()

    def save_image(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save image", "nnviz.png", "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if path:
            from nnviz.qt.export import save_widget

            try:
                save_widget(self.centralWidget(), Path(path))
            except NnvizError as exc:
                self.on_error(str(exc), "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())

    def closeEvent(self, event) -> None:
        if self.actions_.presenter.isChecked():  # remember the desk layout, not full screen
            self.actions_.presenter.setChecked(False)
        save_window(self, "light" if self.actions_.theme.isChecked() else "dark")
        self.session.shutdown()
        if self._error_box is not None:
            self._error_box.close()
        super().closeEvent(event)
