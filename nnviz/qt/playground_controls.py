"""TensorFlow Playground's controls for the 2-D sets (issue 11): noise and
test-ratio sliders, extra input features, L1/L2 regularisation and the
Playground preset. Shown only for the 2-D toy sets."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from nnviz.core.engine import TrainConfig
from nnviz.core.features import FEATURES, PLAYGROUND_PRESET, parse_features
from nnviz.core.scenarios import Scenario

REG_LABELS = {"none": "None", "l1": "L1", "l2": "L2"}


def is_toy(scenario: Scenario | None) -> bool:
    return bool(
        scenario is not None and scenario.two_d and getattr(scenario.data, "toy_kind", None)
    )


class PlaygroundBox(QGroupBox):
    changed = Signal()  # a setting changed: rebuild with the panel's config
    presetChosen = Signal(dict)  # TrainConfig fields to set

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Data and features (Playground)", parent)
        self._updating = False
        self._scenario: Scenario | None = None
        form = QFormLayout(self)
        self.noise = QSlider(Qt.Horizontal)
        self.noise.setRange(0, 50)
        self.noise.setToolTip(
            "Noise, 0-50 %: labels are taken from jittered positions, so points near the "
            "border can carry the other class (gauss: the blobs widen)"
        )
        self.noise_label = QLabel()
        self.ratio = QSlider(Qt.Horizontal)
        self.ratio.setRange(10, 90)
        self.ratio.setToolTip(
            "Ratio of training to test data: the share of the points the model trains on; "
            "the rest measure the test accuracy"
        )
        self.ratio_label = QLabel()
        form.addRow("Noise", self.noise)
        form.addRow("", self.noise_label)
        form.addRow("Train : test", self.ratio)
        form.addRow("", self.ratio_label)
        grid = QGridLayout()
        self.features: dict[str, QCheckBox] = {}
        for i, (key, (label, tip)) in enumerate(FEATURES.items()):
            box = QCheckBox(label)
            box.setToolTip(f"Extra input {label}: {tip}. Changing inputs resets the model.")
            self.features[key] = box
            grid.addWidget(box, i // 3, i % 3)
            box.toggled.connect(self._changed)
        form.addRow("Features", grid)
        self.reg = QComboBox()
        for key, label in REG_LABELS.items():
            self.reg.addItem(label, key)
        self.reg.setToolTip(
            "Regularisation: L1 adds rate·Σ|w|, L2 adds rate·Σw² over the weights "
            "(not the biases) to the training loss"
        )
        self.rate = QDoubleSpinBox()
        self.rate.setDecimals(4)
        self.rate.setRange(0.0, 10.0)
        self.rate.setSingleStep(0.001)
        self.rate.setKeyboardTracking(False)
        self.rate.setToolTip("Regularisation rate (Playground offers 0.001 to 10)")
        form.addRow("Regularisation", self.reg)
        form.addRow("Rate", self.rate)
        self.preset = QPushButton("Playground preset")
        self.preset.setToolTip(
            "TensorFlow Playground's start: x₁, x₂ only, hidden 4-2 tanh, tanh output, "
            "½·MSE on labels ±1, SGD, batch 10, noise 0, half the points for testing"
        )
        self.preset.clicked.connect(lambda: self.presetChosen.emit(dict(PLAYGROUND_PRESET)))
        form.addRow(self.preset)
        self.noise.valueChanged.connect(self._label)
        self.ratio.valueChanged.connect(self._label)
        self.noise.sliderReleased.connect(self._changed)
        self.ratio.sliderReleased.connect(self._changed)
        self.noise.actionTriggered.connect(self._key_moved)
        self.ratio.actionTriggered.connect(self._key_moved)
        self.reg.activated.connect(self._changed)
        self.rate.valueChanged.connect(self._changed)
        self.setVisible(False)

    def _label(self, *_):
        self.noise_label.setText(f"{self.noise.value()} %")
        r = self.ratio.value()
        self.ratio_label.setText(f"{r} % train, {100 - r} % test")

    def _key_moved(self, action: int) -> None:
        if not self.noise.isSliderDown() and not self.ratio.isSliderDown():
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._changed)  # after the value moved

    def _changed(self, *_):
        if not self._updating:
            self.changed.emit()

    def show_config(self, scenario: Scenario, config: TrainConfig) -> None:
        self._scenario = scenario
        self.setVisible(is_toy(scenario))
        if not is_toy(scenario):
            return
        self._updating = True
        try:
            noise = config.noise if config.noise is not None else scenario.data.toy_noise
            self.noise.setValue(round(noise * 100))
            ratio = config.test_ratio if config.test_ratio is not None else 0.5
            self.ratio.setValue(round((1 - ratio) * 100))
            for key, box in self.features.items():
                box.setChecked(key in config.features)
            i = self.reg.findData(config.reg)
            self.reg.setCurrentIndex(max(i, 0))
            self.rate.setValue(config.reg_rate)
            self._label()
        finally:
            self._updating = False

    def apply(self, config: TrainConfig) -> TrainConfig:
        """``config`` with this box's settings (unchanged for other scenarios)."""
        if not is_toy(self._scenario):
            return config
        noise = self.noise.value() / 100
        ratio = round(1 - self.ratio.value() / 100, 2)
        default_noise = self._scenario.data.toy_noise
        feats = parse_features([k for k, b in self.features.items() if b.isChecked()])
        reg = self.reg.currentData()
        return replace(
            config,
            noise=None if config.noise is None and noise == default_noise else noise,
            test_ratio=None if config.test_ratio is None and ratio == 0.5 else ratio,
            features=feats,
            reg=reg,
            reg_rate=float(self.rate.value()) if reg != "none" else 0.0,
        )
