"""The settings panel: scenario, playback speed, device and hyper-parameters.

It shows a TrainConfig and emits a new one when the user changes something;
it never talks to the worker itself (the main window wires that).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nnviz.core.activations import ACTIVATIONS
from nnviz.core.devices import list_devices
from nnviz.core.engine import TrainConfig
from nnviz.core.scenarios import SCENARIOS, Scenario
from nnviz.core.threads import available_cores
from nnviz.core.training_parts import LOSSES, OPTIMIZER_LABELS

#: (label, seconds per step, animate the passes) from full speed down to teaching pace
SPEEDS: tuple[tuple[str, float, bool], ...] = (
    ("1 step / 4 s (teaching)", 4.0, True),
    ("1 step / 2 s (teaching)", 2.0, True),
    ("1 step / s (teaching)", 1.0, True),
    ("2 steps / s", 0.5, True),
    ("5 steps / s", 0.2, False),
    ("20 steps / s", 0.05, False),
    ("100 steps / s", 0.01, False),
    ("full speed", 0.0, False),
)
DEFAULT_SPEED = len(SPEEDS) - 1


MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 2048
HIDDEN_HELP = "Hidden layer sizes, comma separated, e.g. 8, 8 (empty: no hidden layer)"


def hidden_problem(text: str) -> str | None:
    """What is wrong with a hidden-layers text, or None when it is fine."""
    parts = [t for t in text.replace(";", ",").replace(" ", ",").split(",") if t]
    bad = [t for t in parts if not t.isdigit()]
    if bad:
        return f"Hidden layers: {bad[0]!r} is not a number of neurons. Write sizes like 8, 8"
    if len(parts) > MAX_HIDDEN_LAYERS:
        return f"Hidden layers: at most {MAX_HIDDEN_LAYERS} layers, got {len(parts)}"
    if any(not 1 <= int(t) <= MAX_WIDTH for t in parts):
        return f"Hidden layers: each layer needs 1 to {MAX_WIDTH} neurons"
    return None


def parse_hidden(text: str) -> tuple[int, ...] | None:
    """ "8, 8" → (8, 8); "" → () (no hidden layer); None when malformed."""
    if hidden_problem(text) is not None:
        return None
    return tuple(int(t) for t in text.replace(";", ",").replace(" ", ",").split(",") if t)


class ControlsPanel(QWidget):
    scenarioChosen = Signal(str)
    configChanged = Signal(object)  # TrainConfig: rebuild (resets the model)
    lrChanged = Signal(float)  # applied live, no reset
    speedChanged = Signal(float, bool)  # seconds per step, animate passes
    threadsChanged = Signal(object)  # torch threads: an int, or None to choose by timing
    dataFolderRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config: TrainConfig | None = None
        self._scenario: Scenario | None = None
        self._updating = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        self.scenario = QComboBox()
        for sc in SCENARIOS.values():
            self.scenario.addItem(sc.title, sc.id)
            i = self.scenario.count() - 1
            self.scenario.setItemData(
                i, f"<b>{sc.title}</b><br>{sc.source}<br><i>{sc.figure}</i>", Qt.ToolTipRole
            )
        self.scenario.setToolTip("The built-in scenarios, from the source material (Ctrl+O)")
        self.scenario.activated.connect(
            lambda i: self.scenarioChosen.emit(self.scenario.itemData(i))
        )
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.source.setObjectName("scenarioSource")
        self.data_button = QPushButton("Data folder…")
        self.data_button.setToolTip(
            "Choose a folder with MNIST IDX files or train.csv + <id>.png images"
        )
        self.data_button.clicked.connect(self.dataFolderRequested)
        box = QGroupBox("Scenario")
        lay = QVBoxLayout(box)
        lay.addWidget(self.scenario)
        lay.addWidget(self.source)
        lay.addWidget(self.data_button)
        outer.addWidget(box)

        # playback: the buttons are the main window's actions, added by add_playback()
        self.playback = QGroupBox("Training")
        self.playback_row = QHBoxLayout()
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(DEFAULT_SPEED)
        self.speed.setToolTip(
            "Speed, from full speed down to a teaching pace at which each step's "
            "forward and backward passes are animated layer by layer ([ and ])"
        )
        self.speed_label = QLabel(SPEEDS[DEFAULT_SPEED][0])
        self.speed.valueChanged.connect(self._speed_moved)
        play_lay = QVBoxLayout(self.playback)
        play_lay.addLayout(self.playback_row)
        play_lay.addWidget(self.speed)
        play_lay.addWidget(self.speed_label)
        outer.addWidget(self.playback)

        self.form_box = form_box = QGroupBox("Model and optimizer")
        form = QFormLayout(form_box)
        self.device = QComboBox()
        self.device.setToolTip("Where torch trains: the CPU or a CUDA device")
        self._fill_devices()
        self.optimizer = QComboBox()
        for key, label in OPTIMIZER_LABELS.items():
            self.optimizer.addItem(label, key)
        self.optimizer.setToolTip("torch.optim optimizer (changing it resets the model)")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(1e-5, 10.0)
        self.lr.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
        self.lr.setKeyboardTracking(False)
        self.lr.setToolTip("Learning rate; applied at once, without resetting the model")
        self.batch = QSpinBox()
        self.batch.setRange(0, 65536)
        self.batch.setSpecialValueText("full batch")
        self.batch.setKeyboardTracking(False)
        self.batch.setToolTip("Samples per step (0: the whole training set)")
        self.loss = QComboBox()
        for key, info in LOSSES.items():
            self.loss.addItem(info.label, key)
        self.loss.setToolTip("Loss function (changing it resets the model)")
        self.activation = QComboBox()
        for key in ACTIVATIONS:
            self.activation.addItem(key, key)
        self.activation.setToolTip("Activation of the hidden layers")
        self.hidden = QLineEdit()
        self.hidden.setPlaceholderText("e.g. 8, 8")
        self.hidden.setToolTip(HIDDEN_HELP + ". Changing the architecture resets the model.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Random seed: the same seed gives the same start")
        form.addRow("Device", self.device)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch)
        form.addRow("Loss", self.loss)
        form.addRow("Hidden layers", self.hidden)
        form.addRow("Activation", self.activation)
        form.addRow("Seed", self.seed)
        self.threads = QSpinBox()
        self.threads.setRange(0, max(1, available_cores()))
        self.threads.setSpecialValueText("auto")
        self.threads.setKeyboardTracking(False)
        self.threads.setToolTip(
            "CPU threads torch trains with. auto: chosen by timing a few steps at each "
            "count (one core is left to the window), and again when steps slow down"
        )
        self.threads.valueChanged.connect(lambda n: self.threadsChanged.emit(n or None))
        form.addRow("Threads", self.threads)
        # what is wrong with an edit, said where the user looks (not only a red border)
        self.problem = QLabel()
        self.problem.setObjectName("settingsProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #e5484d; font-weight: bold;")
        self.problem.hide()
        form.addRow(self.problem)
        outer.addWidget(form_box)
        # --- playground (issue 11): noise, test ratio, features, L1/L2 (2-D sets only) ---
        from nnviz.qt.playground_controls import PlaygroundBox

        self.playground = PlaygroundBox()
        self.playground.changed.connect(self._changed)
        self.playground.presetChosen.connect(self._preset)
        outer.addWidget(self.playground)
        # --- end playground (issue 11) ---
        self.params = QLabel()
        self.params.setWordWrap(True)
        outer.addWidget(self.params)
        outer.addStretch(1)

        for combo in (self.device, self.optimizer, self.loss, self.activation):
            combo.activated.connect(self._changed)
        self.batch.valueChanged.connect(self._changed)
        self.seed.valueChanged.connect(self._changed)
        self.hidden.editingFinished.connect(self._changed)
        self.lr.valueChanged.connect(self._lr_changed)

    def _fill_devices(self) -> None:
        self.device.clear()
        model = self.device.model()
        assert isinstance(model, QStandardItemModel)
        for d in list_devices():
            self.device.addItem(d.label if d.available else f"{d.label} (unavailable)", d.id)
            item = model.item(self.device.count() - 1)
            if not d.available:
                item.setEnabled(False)
                item.setToolTip(d.reason)
                self.device.setItemData(self.device.count() - 1, d.reason, Qt.ToolTipRole)

    def add_playback(self, *buttons: QWidget) -> None:
        for b in buttons:
            self.playback_row.addWidget(b)

    # --- showing a config ---------------------------------------------------------

    def show_config(
        self,
        scenario: Scenario,
        config: TrainConfig,
        param_count: int = 0,
        device: str | None = None,
    ) -> None:
        """Show what is in use; ``device``: where the model really is (``auto`` resolved)."""
        self._updating = True
        try:
            self._scenario, self._config = scenario, config
            self.scenario.setCurrentIndex(self.scenario.findData(scenario.id))
            note = "" if scenario.trainable else "<br>Nothing to train: step through its graph."
            self.source.setText(f"{scenario.source}<br><i>{scenario.figure}</i>{note}")
            self.data_button.setVisible(scenario.data_kind is not None)
            trainable = scenario.trainable
            # an expression has no optimizer, loss or speed: hide, rather than show stale values
            self.playback.setVisible(trainable)
            self.form_box.setVisible(trainable)
            device = device or (config.device if config.device != "auto" else "cpu")
            _select(self.device, "cuda:0" if device == "cuda" else device)
            # --- model files (issue 9): a file's own optimizer / loss, offered while in use ---
            for combo, key in ((self.optimizer, config.optimizer), (self.loss, config.loss)):
                i = combo.findData("custom")
                if key == "custom" and i < 0:
                    combo.addItem("From the model file", "custom")
                elif key != "custom" and i >= 0:
                    combo.removeItem(i)
            # --- end model files (issue 9) ---
            _select(self.optimizer, config.optimizer)
            self.lr.setValue(config.lr)
            self.batch.setValue(config.batch_size or 0)
            _select(self.loss, config.loss)
            editable = trainable and scenario.editable
            self.hidden.setEnabled(editable)
            self.activation.setEnabled(editable)
            self.hidden.setText(", ".join(str(h) for h in (config.hidden or ())))
            if config.activation:
                _select(self.activation, config.activation)
            self.seed.setValue(min(max(int(config.seed), 0), self.seed.maximum()))  # issue 13
            self.params.setText(f"{param_count:,} learnable parameters" if param_count else "")
            self.playground.show_config(scenario, config)  # playground (issue 11)
            self._show_problem(None)
        finally:
            self._updating = False

    def select_device(self, device_id: str) -> None:
        _select(self.device, device_id)

    # --- edits ---------------------------------------------------------------------

    def current_config(self) -> TrainConfig | None:
        if self._config is None:
            return None
        problem = hidden_problem(self.hidden.text())
        self._show_problem(problem)
        if problem is not None:
            return None
        hidden = parse_hidden(self.hidden.text())
        editable = self._scenario is not None and self._scenario.editable
        return replace(
            self._config,
            device=self.device.currentData() or "cpu",
            optimizer=self.optimizer.currentData(),
            lr=float(self.lr.value()),
            batch_size=self.batch.value() or None,
            loss=self.loss.currentData(),
            hidden=hidden if editable else self._config.hidden,
            activation=self.activation.currentData() if editable else self._config.activation,
            seed=int(self.seed.value()),
        )

    def _show_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))
        self.hidden.setStyleSheet("border: 2px solid #e5484d;" if text else "")

    def _changed(self, *_):
        if self._updating:
            return
        cfg = self.current_config()
        if cfg is not None:  # --- playground (issue 11) ---
            cfg = self.playground.apply(cfg)
        if cfg is not None and cfg != self._config:
            self._config = cfg
            self.configChanged.emit(cfg)

    def _preset(self, fields: dict) -> None:  # --- playground (issue 11) ---
        if self._config is not None and not self._updating:
            self._config = replace(self._config, **fields)
            self.configChanged.emit(self._config)

    def _lr_changed(self, value: float) -> None:
        if self._updating or self._config is None:
            return
        self._config = replace(self._config, lr=float(value))
        self.lrChanged.emit(float(value))

    def _speed_moved(self, i: int) -> None:
        label, seconds, animate = SPEEDS[i]
        self.speed_label.setText(label)
        self.speedChanged.emit(seconds, animate)

    def faster(self) -> None:
        self.speed.setValue(min(self.speed.value() + 1, self.speed.maximum()))

    def slower(self) -> None:
        self.speed.setValue(max(self.speed.value() - 1, 0))


def _select(combo: QComboBox, data) -> None:
    i = combo.findData(data)
    if i >= 0:
        combo.setCurrentIndex(i)
