"""Hand-editing one weight, as TensorFlow Playground allows (issue 11): a small
dialog for one neuron's incoming weights and bias, opened from a neuron's
context menu or by clicking an edge of the network view (hovering one names
its weight). The edit is sent to the run as ``SetWeight``; it shows at once
and Ctrl+Z undoes it."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from nnviz.core import network_geometry as geo
from nnviz.core.edge_pick import PICK_PX, Edge, edge_at, edge_label
from nnviz.core.snapshot import Snapshot


class WeightEditDialog(QtWidgets.QDialog):
    """Neuron ``index`` of drawn layer ``layer`` (≥ 1) in ``snap``; ``chosen``
    carries (Linear name, row, column or None for the bias, value)."""

    chosen = QtCore.Signal(str, int, object, float)

    def __init__(
        self,
        snap: Snapshot,
        layer: int,
        index: int,
        parent: QtWidgets.QWidget | None = None,
        col: int | None = None,
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
        if col is not None:  # an edge was clicked: its weight, ready to type over
            self.source.setCurrentIndex(max(self.source.findData(int(col)), 0))
        self._show_current()
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.value.setFocus()  # the value is selected: typing replaces it
        self.value.selectAll()

    def _show_current(self, *_) -> None:
        j = self.source.currentData()
        v = self._bias[self.row] if j is None else self._weights[j]
        self.value.setValue(float(v))

    def accept(self) -> None:
        self.chosen.emit(self.layer_name, self.row, self.source.currentData(), self.value.value())
        super().accept()


def open_for(view, layer: int, index: int, col: int | None = None) -> WeightEditDialog | None:
    """Open the dialog over a network view for neuron ``index`` of ``layer`` (its
    weight from ``col`` chosen, if given); the choice is emitted as the view's
    ``weightEdited``."""
    snap = view.snapshot
    if snap is None or not 1 <= layer <= len(snap.layers):
        return None
    if not 0 <= index < len(snap.layers[layer - 1].weight):
        return None
    dialog = WeightEditDialog(snap, layer, index, view, col)
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


# --- edges: hover names the weight, a click edits it ----------------------------------------


def edge_under(view, p: QtCore.QPointF) -> Edge | None:
    """The drawn edge within a few pixels of ``p`` (view units) in a network view."""
    if view.snapshot is None or not view.geoms or view.blocks_shown:
        return None
    px = view.vb.viewPixelSize()  # view units per screen pixel
    lit, _ = geo.layer_light(view.phase, view.progress, len(view.geoms))
    return edge_at(view.geoms, view._edge_sel, p.x(), p.y(), PICK_PX * max(px), lit)


def hover_edge(view, p: QtCore.QPointF, over_neuron: bool) -> None:
    """The view's tooltip: ``w[layer][row,col] = value — click to edit`` over an edge."""
    edge = None if over_neuron else edge_under(view, p)
    text = ""
    if edge is not None:
        text = edge_label(
            edge, float(view.snapshot.layers[edge.layer - 1].weight[edge.row, edge.col])
        )
    if view.graphics.toolTip() != text:
        view.graphics.setToolTip(text)


def click_edge(view, p: QtCore.QPointF, double: bool) -> bool:
    """A left click on an edge: pin the neuron it feeds (the inspector shows the new
    value once set) and open the dialog on that weight. True when an edge was hit."""
    edge = edge_under(view, p)
    if edge is None:
        return False
    if not double:  # a double-click's first click has opened it already
        view.select_neuron(edge.layer, edge.row, pinned=True)
        open_for(view, edge.layer, edge.row, edge.col)
    return True
