"""The "Autograd graph" tab: the step-through widget plus what feeds it.

The panel only draws: every trace is captured in the worker (the model being
trained, or an expression scenario's few scalars) and arrives through
``set_trace``; gradient checks likewise arrive through ``show_gradcheck``. No
torch runs here, and none is imported. The panel adds a header — what was
captured, and when — and the buttons that ask for a fresh capture, switch to
the scalar (micrograd-style) graph, and fold or unfold the layers.

As a view (``nnviz.qt.view_protocol.View``) it ignores snapshots: a trace is
a capture the user asks for, not a per-step picture.

Signals: ``captureRequested(bool scalar)`` (the worker answers with
``set_trace``), ``gradCheckRequested(list names)`` (answered with
``show_gradcheck``), ``stepInspected(object)`` (the training step the shown
batch came from, or None), ``moduleSelected(str)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from nnviz.core.trace import MAX_SCALAR_WEIGHTS, AutogradTrace, GradCheckResult
from nnviz.qt.backprop_stepper import StepThroughWidget
from nnviz.qt.theme import DARK, Theme

if TYPE_CHECKING:  # scenarios import torch; the panel only reads .title and .trainable
    from nnviz.core.history import History
    from nnviz.core.scenarios import Scenario
    from nnviz.core.snapshot import Snapshot


class GraphPanel(QtWidgets.QWidget):
    captureRequested = QtCore.Signal(bool)
    gradCheckRequested = QtCore.Signal(list)
    stepInspected = QtCore.Signal(object)
    moduleSelected = QtCore.Signal(str)

    def __init__(
        self,
        theme: Theme = DARK,
        parent: QtWidgets.QWidget | None = None,
        *,
        history: History | None = None,  # not used: traces come on request, not per step
    ) -> None:
        super().__init__(parent)
        self.scenario: Scenario | None = None
        self.trace: AutogradTrace | None = None
        self._midway = False  # where an expression's trace opens (show_expression)
        self.stepper = StepThroughWidget(theme=theme)
        self.view = self.stepper.view

        self.header = QtWidgets.QLabel()
        self.header.setObjectName("graphHeader")
        self.header.setTextFormat(QtCore.Qt.RichText)
        self.header.setWordWrap(True)  # a long summary wraps rather than widening the tab
        self.capture = _tool_button("Capture this step")
        self.capture.setToolTip(
            "Record one forward and backward pass of the batch the model trains on next "
            "(C). Training is not changed."
        )
        self.capture.setShortcut("C")
        self.capture.clicked.connect(self._request)
        self.scalar = QtWidgets.QCheckBox("Scalar graph")
        self.scalar.setToolTip(
            "Tiny networks: every neuron as scalar multiply, add and activation nodes, "
            f"so every weight's gradient has its own node (at most {MAX_SCALAR_WEIGHTS} weights)"
        )
        self.scalar.toggled.connect(self._request)
        self.expand = _tool_button("Expand layers")
        self.expand.setToolTip("Show every op inside every nn.Module (double-click one box)")
        self.expand.clicked.connect(self.view.expand_all)
        self.collapse = _tool_button("Group by layer")
        self.collapse.setToolTip("Fold each nn.Module into one box")
        self.collapse.clicked.connect(self.view.collapse_all)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        row.addWidget(self.header, 1)
        for w in (self.scalar, self.expand, self.collapse, self.capture):
            row.addWidget(w)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(row)
        lay.addWidget(self.stepper, 1)

        for w in (self.scalar, self.capture):  # until a trainable scenario is set
            w.setVisible(False)
        self.stepper.gradcheck_fn = self._gradcheck
        self.view.moduleSelected.connect(self.moduleSelected)
        self.set_theme(theme)

    # --- what to show --------------------------------------------------------------------

    def set_scenario(self, scenario: Scenario) -> None:
        """A new scenario: forget the old trace until the new one arrives."""
        self.scenario = scenario
        self._midway = False
        trainable = scenario.trainable
        self.capture.setVisible(trainable)
        self.scalar.setVisible(trainable)
        self.scalar.blockSignals(True)
        self.scalar.setChecked(False)
        self.scalar.blockSignals(False)
        self.set_trace(None)
        self.header.setText(
            f"<b>{scenario.title}</b> — capturing…" if trainable else f"<b>{scenario.title}</b>"
        )

    def set_scalar_allowed(self, allowed: bool, why: str = "") -> None:
        self.scalar.setEnabled(allowed)
        if not allowed and why:
            self.scalar.setToolTip(why)

    def show_expression(self, scenario: Scenario, midway: bool = False) -> None:
        """An expression scenario: ask for its graph (``captureRequested(False)``);
        the worker's trace then arrives through ``set_trace`` and opens at the
        start, ready to press Next (``midway``: in the middle of backward)."""
        self.scenario = scenario
        self._midway = midway
        self.header.setText(f"<b>{scenario.title}</b> — capturing…")
        self.captureRequested.emit(False)

    @QtCore.Slot(object)
    def set_trace(self, trace: AutogradTrace | None, midway: bool | None = None) -> None:
        """Show a captured trace. A model's opens at the end (every value and
        gradient shown); an expression scenario's at the start, ready to press
        Next; with ``midway`` (default: as ``show_expression`` asked), in the
        middle of backward (pictures for slides)."""
        midway = self._midway if midway is None else midway
        self.trace = trace
        self.stepper.set_trace(trace)
        if trace is None:
            self.stepInspected.emit(None)
            return
        m = self.stepper.model
        if midway:
            m.seek(m.n_forward + max(1, (len(trace.steps) + 1) // 2 + 1))
        elif self.scenario is not None and not self.scenario.trainable:
            m.seek(0)
        n_ops = sum(1 for n in trace.nodes.values() if n.kind == "op")
        n_leaves = sum(1 for n in trace.nodes.values() if n.kind == "leaf")
        when = f" · training step {trace.train_step:,}" if trace.train_step is not None else ""
        note = f" · {trace.note}" if trace.note else ""
        self.header.setText(
            f"<b>{trace.title or 'graph'}</b>{note}{when} · {n_ops} ops, {n_leaves} leaves, "
            f"{len(trace.steps)} backward steps"
        )
        self.stepInspected.emit(trace.train_step)

    def reset(self) -> None:
        """A new model (or none): forget the trace until a new one arrives."""
        self.set_trace(None)

    def set_snapshot(self, snap: Snapshot | None) -> None:
        """Nothing to draw per step: traces come through ``set_trace``."""

    def refresh(self) -> None:
        """Nothing drawn from the history."""

    @QtCore.Slot(str)
    def highlight_module(self, path: str) -> None:
        self.view.highlight_module(path)

    def set_theme(self, theme: Theme) -> None:
        self.stepper.set_theme(theme)
        self.header.setStyleSheet(f"color: {theme.foreground}; font-size: {theme.pt(10):.1f}pt;")

    # --- gradient check --------------------------------------------------------------------

    def _gradcheck(self, names: list[str]) -> None:
        """Ask the worker (it owns the model, and runs torch off this thread)."""
        if self.scenario is None:
            return None
        if self.scalar.isChecked():  # scalar leaves are not the model's parameter names
            names = []
        self.gradCheckRequested.emit(names)
        return None  # the worker answers with show_gradcheck

    @QtCore.Slot(object)
    def show_gradcheck(self, result: GradCheckResult) -> None:
        self.stepper.show_gradcheck(result)

    def _request(self) -> None:
        if self.scenario is not None and self.scenario.trainable:
            self.captureRequested.emit(self.scalar.isChecked())


def _tool_button(text: str) -> QtWidgets.QToolButton:
    """A text button sized to its text (push buttons have a wide style minimum)."""
    b = QtWidgets.QToolButton()
    b.setText(text)
    b.setToolButtonStyle(QtCore.Qt.ToolButtonTextOnly)
    return b
