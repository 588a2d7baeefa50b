"""Hand-editing one weight, as TensorFlow Playground allows (issue 11): a small
dialog for one neuron's incoming weights and bias, opened from a neuron's
context menu or by clicking an edge of the network view (hovering one names
its weight). The edit is sent to the run as ``SetWeight``; it shows at once
and Ctrl+Z undoes it. The dialog opens beside what was clicked, never over it,
and the pinned inspector moves off a clicked edge where there is room."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

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
        # wide enough for its title beside the window manager's buttons (not "Edit a … yer 3)")
        bold = QtGui.QFont(self.font())
        bold.setBold(True)
        title_px = QtGui.QFontMetrics(bold).horizontalAdvance(self.windowTitle())
        self.setMinimumWidth(title_px + self.fontMetrics().height() * 8)

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


def open_for(
    view, layer: int, index: int, col: int | None = None, at: QtCore.QPoint | None = None
) -> WeightEditDialog | None:
    """Open the dialog over a network view for neuron ``index`` of ``layer`` (its
    weight from ``col`` chosen, if given), beside ``at`` (a global point: the
    clicked edge; default the neuron), never over it and off the network where
    there is room; the choice is emitted as the view's ``weightEdited``."""
    snap = view.snapshot
    if snap is None or not 1 <= layer <= len(snap.layers):
        return None
    if not 0 <= index < len(snap.layers[layer - 1].weight):
        return None
    dialog = WeightEditDialog(snap, layer, index, view, col)
    dialog.chosen.connect(view.weightEdited)
    if at is None:
        at = _global(view, view.neuron_pos(layer, index))
    clear = [r for r in (_inspector_rect(view), _global_rect(view.graphics)) if r is not None]
    place_beside(dialog, at, clear)
    dialog.open()
    # the window manager's frame arrives after showing: move again if it now covers ``at``
    QtCore.QTimer.singleShot(100, dialog, lambda: place_beside(dialog, at, clear, again=True))
    return dialog


FRAME_GUESS = QtCore.QMargins(8, 40, 8, 8)  # a title bar and borders, before the WM says
GAP_PX = 16  # between the dialog's frame and what it is beside


def place_beside(
    dialog: QtWidgets.QWidget,
    point: QtCore.QPoint,
    keep_clear: Sequence[QtCore.QRect] = (),
    again: bool = False,
) -> None:
    """Move top-level ``dialog`` onto ``point``'s screen, its frame never over
    ``point`` (global), beside it or beside the first of ``keep_clear`` (the
    inspector, the network), covering as little of those as it can.
    ``again``: only if its frame now covers the point."""
    frame, inner = dialog.frameGeometry(), dialog.geometry()
    if again and not frame.contains(point):
        return
    if not again:
        dialog.adjustSize()
    margins = QtCore.QMargins(
        inner.left() - frame.left(),
        inner.top() - frame.top(),
        frame.right() - inner.right(),
        frame.bottom() - inner.bottom(),
    )
    if margins.isNull():  # not shown yet (or no frame): allow for a window manager's
        margins = FRAME_GUESS
    size = dialog.size().grownBy(margins)
    screen = QtGui.QGuiApplication.screenAt(point) or dialog.screen()
    avail = screen.availableGeometry()
    w, h, g = size.width(), size.height(), GAP_PX

    def around(r: QtCore.QRect, cx: int, cy: int) -> list[tuple[int, int]]:
        """Right of, left of, below and above ``r``, centred on (cx, cy)."""
        return [
            (r.right() + 1 + g, cy - h // 2),
            (r.left() - g - w, cy - h // 2),
            (cx - w // 2, r.bottom() + 1 + g),
            (cx - w // 2, r.top() - g - h),
        ]

    def on_screen(tx: int, ty: int) -> QtCore.QRect:
        tx = min(max(tx, avail.left()), avail.right() + 1 - w)
        ty = min(max(ty, avail.top()), avail.bottom() + 1 - h)
        return QtCore.QRect(QtCore.QPoint(tx, ty), size)

    def covered(r: QtCore.QRect) -> int:
        return sum(_area(r.intersected(k)) for k in keep_clear)

    tries = around(QtCore.QRect(point, point), point.x(), point.y())
    for k in keep_clear:
        tries += around(k, point.x(), point.y())
    spots = [on_screen(*t) for t in tries]
    clear = [r for r in spots if not r.adjusted(-4, -4, 4, 4).contains(point)] or spots
    dialog.move(min(clear, key=covered).topLeft())  # a window's position is its frame's


def _area(r: QtCore.QRect) -> int:
    return max(r.width(), 0) * max(r.height(), 0)


def _global_rect(w: QtWidgets.QWidget) -> QtCore.QRect | None:
    return QtCore.QRect(w.mapToGlobal(QtCore.QPoint(0, 0)), w.size()) if w.isVisible() else None


def _global(view, p: QtCore.QPointF) -> QtCore.QPoint:
    """A point in a network view's units, on the screen."""
    vp = view.graphics.mapFromScene(view.vb.mapViewToScene(p))
    return view.graphics.viewport().mapToGlobal(vp)


def _inspector_rect(view) -> QtCore.QRect | None:
    """The pinned inspector, on the screen (the dialog keeps off it where it can)."""
    ins = getattr(view, "inspector", None)
    return None if ins is None else _global_rect(ins)


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
        hidden = not _keep_inspector_off(view, edge.layer, edge.row, p)
        if hidden:  # no room beside the edge (a projector): out of the way while typing
            view.inspector.hide()
        dialog = open_for(view, edge.layer, edge.row, edge.col, at=_global(view, p))
        if hidden and dialog is not None:
            dialog.finished.connect(lambda *_: _show_pinned_again(view, edge.layer, edge.row))
    return True


def _keep_inspector_off(view, layer: int, index: int, p: QtCore.QPointF) -> bool:
    """Move the inspector pinned on neuron ``index`` off the clicked point ``p``;
    False when it has no room to."""
    to_widget = lambda q: view.graphics.mapTo(  # noqa: E731
        view, view.graphics.mapFromScene(view.vb.mapViewToScene(q))
    )
    near = to_widget(view.neuron_pos(layer, index))
    neurons = [
        to_widget(QtCore.QPointF(float(x), float(y)))
        for g in view.geoms
        for x, y in g.pos[:: max(1, len(g.pos) // 64)]  # big layers: a sample will do
    ]
    bounds = view.graphics.geometry()
    return view.inspector.place_near(near, bounds, avoid=to_widget(p), keep_seen=neurons)


def _show_pinned_again(view, layer: int, index: int) -> None:
    """The dialog closed: the inspector comes back on the neuron still pinned."""
    if view._selected == (layer, index) and not view.inspector.isVisible():
        view.select_neuron(layer, index, pinned=True)
