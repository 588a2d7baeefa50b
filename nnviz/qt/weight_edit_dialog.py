"""Hand-editing one weight, as TensorFlow Playground allows (issue 11): a small
dialog for one neuron's incoming weights and bias. The edit is sent to the run
as ``SetWeight``; it shows at once and Ctrl+Z undoes it."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from nnviz.core.snapshot import Snapshot


class WeightEditDialog(QtWidgets.QDialog):
    """Neuron ``index`` of drawn layer ``layer`` (≥ 1) in ``snap``; ``chosen``
    carries (Linear name, row, column or None for the bias, value)."""

    chosen = QtCore.Signal(str, int, object, float)

    def __init__(
        self, snap: Snapshot, layer: int, index: int, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        ls = snap.layers[layer - 1]
        self.layer_name, self.row = ls.name, int(index)
        self._weights, self._bias = ls.weight[index], ls.bias
        self.setWindowTitle(f"Edit a weight of neuron {index} (layer {layer})")
        form = QtWidgets.QFormLayout(self)
        self.source = QtWidgets.QComboBox()
        src = "x" if layer == 1 else "a"
        for j in range(len(self._weights)):
            self.source.addItem(f"w from {src}[{j}]", j)
        if ls.bias is not None:
            self.source.addItem("bias b", None)
        self.source.setToolTip("Which weight into this neuron to set")
        self.value = QtWidgets.QDoubleSpinBox()
        self.value.setDecimals(4)
        self.value.setRange(-1000.0, 1000.0)
        self.value.setSingleStep(0.1)
        self.value.setToolTip("The new value; the network view shows it at once (Ctrl+Z undoes)")
        form.addRow("Weight", self.source)
        form.addRow("Value", self.value)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.source.currentIndexChanged.connect(self._show_current)
        self._show_current()
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)

    def _show_current(self, *_) -> None:
        j = self.source.currentData()
        v = self._bias[self.row] if j is None else self._weights[j]
        self.value.setValue(float(v))

    def accept(self) -> None:
        self.chosen.emit(self.layer_name, self.row, self.source.currentData(), self.value.value())
        super().accept()


def open_for(view, layer: int, index: int) -> WeightEditDialog | None:
    """Open the dialog over a network view for neuron ``index`` of ``layer``; its
    choice is emitted as the view's ``weightEdited``."""
    snap = view.snapshot
    if snap is None or not 1 <= layer <= len(snap.layers):
        return None
    if not 0 <= index < len(snap.layers[layer - 1].weight):
        return None
    dialog = WeightEditDialog(snap, layer, index, view)
    dialog.chosen.connect(view.weightEdited)
    dialog.open()
    return dialog


def add_menu_action(view, menu: QtWidgets.QMenu, layer: int) -> None:
    """The layer's context menu: "Edit a weight of neuron i…" for the neuron
    pinned or under the mouse."""
    target = view._selected or view._hover
    if target is not None and target[0] == layer:
        act = menu.addAction(f"Edit a weight of neuron {target[1]}…")
        act.triggered.connect(lambda: open_for(view, *target))
