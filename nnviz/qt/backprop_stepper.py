"""Step through a recorded forward and backward pass, node by node.

``StepModel`` is the Qt-free state machine: position 0 shows nothing, the
next ``F`` positions reveal the forward nodes in order, the last ``B`` the
backward steps in autograd's recorded order. Step, back, run to the end or
to the next breakpoint (a node, or a NaN/Inf gradient). ``chain_rule_lines``
puts one backward step into words and numbers ("upstream dL/du = 3 ×
local du/db = 2 = passed on dL/db = 6").

``StepThroughWidget`` is the thin widget on top: a ``GraphView``, buttons, a
slider over the steps, the chain-rule panel and a gradient-check table.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnviz.core.autograd_ops import local_formula
from nnviz.core.trace import AutogradTrace, BackwardStep, GradCheckResult
from nnviz.qt.graph_items import fmt_num, fmt_tensor, op_symbol
from nnviz.qt.graph_view import GraphView
from nnviz.qt.theme import DARK, Theme

# --- the state machine (no Qt) --------------------------------------------------------


class StepModel:
    def __init__(self, trace: AutogradTrace | None = None) -> None:
        self.trace = trace
        self.pos = 0
        self.breakpoints: set[str] = set()
        self.break_on_nonfinite = True
        self.listeners: list[Callable[[int], None]] = []

    def set_trace(self, trace: AutogradTrace | None) -> None:
        self.trace = trace
        self.pos = 0
        self._notify()

    @property
    def n_forward(self) -> int:
        return len(self.trace.forward_order) if self.trace else 0

    @property
    def n_steps(self) -> int:
        return self.n_forward + (len(self.trace.steps) if self.trace else 0)

    @property
    def phase(self) -> str:
        if self.pos == 0:
            return "start"
        return "forward" if self.pos <= self.n_forward else "backward"

    def current_node(self) -> str | None:
        if self.trace is None or self.pos == 0:
            return None
        if self.pos <= self.n_forward:
            return self.trace.forward_order[self.pos - 1]
        return self.trace.steps[self.pos - self.n_forward - 1].node

    def current_step(self) -> BackwardStep | None:
        if self.trace is None or self.pos <= self.n_forward:
            return None
        return self.trace.steps[self.pos - self.n_forward - 1]

    def seek(self, pos: int) -> None:
        self.pos = max(0, min(int(pos), self.n_steps))
        self._notify()

    def forward(self) -> None:
        self.seek(self.pos + 1)

    def back(self) -> None:
        self.seek(self.pos - 1)

    def to_end(self) -> None:
        self.seek(self.n_steps)

    def to_backward(self) -> None:
        """The first backward step."""
        self.seek(self.n_forward + 1)

    def run(self) -> bool:
        """Step until a breakpoint (True) or the end (False)."""
        while self.pos < self.n_steps:
            self.pos += 1
            if self._hits():
                self._notify()
                return True
        self._notify()
        return False

    def _hits(self) -> bool:
        nid = self.current_node()
        if nid in self.breakpoints:
            return True
        if self.break_on_nonfinite:
            step = self.current_step()
            if step is not None:
                arrays = [*step.upstream, *(e.passed_on for e in step.passed)]
                if any(a is not None and not np.all(np.isfinite(a)) for a in arrays):
                    return True
            elif nid is not None:
                v = self.trace.nodes[nid].value
                if v is not None and not np.all(np.isfinite(v)):
                    return True
        return False

    def toggle_breakpoint(self, node_id: str) -> None:
        self.breakpoints ^= {node_id}

    def _notify(self) -> None:
        for f in self.listeners:
            f(self.pos)


def _sym(trace: AutogradTrace, node_id: str) -> str:
    return op_symbol(trace.nodes[node_id], trace)


def _shape(a: np.ndarray | None) -> str:
    return "×".join(map(str, a.shape)) if a is not None and a.ndim else "scalar"


def chain_rule_lines(trace: AutogradTrace, step: BackwardStep) -> list[str]:
    """The chain rule of one backward step in numbers, one line per input edge."""
    out = trace.nodes[trace.output]
    L = out.name or "L"
    node = trace.nodes[step.node]
    me = _sym(trace, step.node)
    up = fmt_tensor(step.upstream0)
    if node.kind == "leaf":
        return [f"{me} is a leaf: its gradient accumulates, dL/d{me} = {up}".replace("dL", f"d{L}")]
    lines = []
    formula = local_formula(node.op)
    for e in step.passed:
        src = _sym(trace, e.src)
        if e.local is not None:
            lines.append(
                f"upstream d{L}/d{me} = {up}  ×  local d{me}/d{src} = {fmt_tensor(e.local)}  =  "
                f"passed on d{L}/d{src} = {fmt_tensor(e.passed_on)}"
            )
        else:  # a matrix op: the local derivative is a product, not a factor
            lines.append(
                f"upstream d{L}/d{me} ({_shape(step.upstream0)}) = {up}  →  "
                f"passed on d{L}/d{src} ({_shape(e.passed_on)}) = {fmt_tensor(e.passed_on)}"
            )
    if formula:  # a rule in words, or an equation that says it all
        lines.append(
            f"{node.op}: {formula}"
            if "=" in formula
            else f"{node.op}: local derivative = {formula}"
        )
    note = sigmoid_bce_line(trace, step)
    if note:
        lines.append(note)
    if not step.passed:
        lines.append(f"upstream d{L}/d{me} = {up}; nothing requires a gradient below {me}")
    return lines


_PASS_THROUGH = ("Stack", "View", "Reshape", "Unsqueeze", "Squeeze", "Cat")


def _first_items(a: np.ndarray, n: int = 4) -> str:
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    body = ", ".join(fmt_num(float(v)) for v in flat[:n])
    return f"[{body}{', …' if flat.size > n else ''}]" if flat.size > 1 else body


def sigmoid_bce_line(trace: AutogradTrace, step: BackwardStep) -> str | None:
    """For a sigmoid feeding binary cross-entropy (logistic regression): the
    lecture's dz = a − y, checked against the gradient autograd passed on."""
    node = trace.nodes[step.node]
    if node.op != "Sigmoid" or trace.target is None or node.value is None:
        return None
    if len(step.passed) != 1 or step.passed[0].passed_on is None:
        return None
    frontier, bce, through = [node.id], None, False
    for _ in range(4):
        nxt = [s for f in frontier for s in trace.graph.successors(f)]
        bce = next((s for s in nxt if trace.nodes[s].op == "BinaryCrossEntropy"), None)
        if bce is not None:
            break
        frontier = [s for s in nxt if trace.nodes[s].op in _PASS_THROUGH]
        through = through or bool(frontier)
    if bce is None:
        return None
    a = np.asarray(node.value, dtype=np.float64)
    dz = np.asarray(step.passed[0].passed_on, dtype=np.float64)
    target = np.asarray(trace.target, dtype=np.float64)
    pred = next(iter(trace.graph.predecessors(bce)))
    m = int(np.prod(trace.nodes[pred].shape)) if trace.nodes[pred].shape else 1
    if not through and target.size == a.size:
        y = target.reshape(a.shape)
    else:  # the scalar graph: a{l}[r,j] is row r, output j
        found = re.search(r"\[(\d+),(\d+)\]$", node.name or "")
        if found is None or target.size == 0:
            return None
        r, j = int(found.group(1)), int(found.group(2))
        rows = target.reshape(target.shape[0], -1) if target.ndim else target.reshape(1, 1)
        if r >= rows.shape[0] or j >= rows.shape[1]:
            return None
        y = rows[r, j]
    diff = a - y
    src = _sym(trace, step.passed[0].src)
    for mm in (m, 1):  # mean over the batch, or a sum
        if np.allclose(dz * mm, diff, rtol=1e-4, atol=1e-7):
            L = trace.nodes[trace.output].name or "L"
            over = f"/{mm}" if mm != 1 else ""
            mean = f" (the batch mean divides by {mm})" if mm != 1 else ""
            return (
                f"sigmoid + binary cross-entropy: d{L}/d{src} = (a − y){over}, the lecture's "
                f"dz = a − y{mean}; a − y = {_first_items(a)} − {_first_items(y)} = "
                f"{_first_items(diff)}"
            )
    return None


# --- widgets ---------------------------------------------------------------------------


class ChainRulePanel(QtWidgets.QLabel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.setMinimumHeight(64)
        self.setAlignment(QtCore.Qt.AlignLeft | QtCore.Qt.AlignTop)
        self.lines: list[str] = []

    def show_lines(self, title: str, lines: list[str]) -> None:
        self.lines = list(lines)
        self.setText("\n".join([title, *lines]))


class GradCheckTable(QtWidgets.QTableWidget):
    HEAD = ("parameter", "entry", "autograd", "finite diff.", "rel. error")

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(self.HEAD), parent)
        self.setHorizontalHeaderLabels(self.HEAD)
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)

    def set_result(self, result: GradCheckResult) -> None:
        self.setRowCount(len(result.rows))
        for i, r in enumerate(result.rows):
            cells = (
                r.name,
                str(list(r.index)),
                f"{r.autograd:.8g}",
                f"{r.numeric:.8g}",
                f"{r.rel_error:.2e}",
            )
            for j, c in enumerate(cells):
                self.setItem(i, j, QtWidgets.QTableWidgetItem(c))
        self.resizeColumnsToContents()


class StepThroughWidget(QtWidgets.QWidget):
    """Graph + step controls + chain-rule panel (+ gradient check)."""

    stepChanged = QtCore.Signal(int)
    gradCheckRequested = QtCore.Signal(list)  # parameter names

    def __init__(self, theme: Theme = DARK, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.model = StepModel()
        self.model.listeners.append(self._on_pos)
        self.view = GraphView(theme=theme)
        self.panel = ChainRulePanel()
        self.table = GradCheckTable()
        self.table.hide()
        self.gradcheck_fn: Callable[[list[str]], object] | None = None
        self.selected: str | None = None

        bar = QtWidgets.QHBoxLayout()
        self.buttons = {}
        for key, text, tip, slot in (
            ("start", "|◀", "back to the start", lambda: self.model.seek(0)),
            ("back", "◀ Back", "one step back (B)", self.model.back),
            ("next", "Next ▶", "one step forward (N)", self.model.forward),
            ("backward", "Backward", "jump to the first backward step", self.model.to_backward),
            ("run", "Run ▶▶", "run to the next breakpoint or the end", self.model.run),
            ("end", "▶|", "to the end", self.model.to_end),
            ("bp", "● Break", "toggle a breakpoint on the selected node", self._toggle_bp),
            ("fit", "Fit", "show the whole graph (F)", lambda: self.view.fit(whole=True)),
            ("check", "Grad check", "finite differences vs autograd", self._gradcheck),
        ):
            b = QtWidgets.QToolButton()  # sized to its text: the bar fits a narrow window
            b.setText(text)
            b.setToolButtonStyle(QtCore.Qt.ToolButtonTextOnly)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            bar.addWidget(b)
            self.buttons[key] = b
        self.nan_box = QtWidgets.QCheckBox("break on NaN/Inf")
        self.nan_box.setChecked(True)
        self.nan_box.toggled.connect(lambda on: setattr(self.model, "break_on_nonfinite", on))
        bar.addWidget(self.nan_box)
        self.search_box = QtWidgets.QLineEdit()
        self.search_box.setPlaceholderText("search node…")
        self.search_box.setMinimumWidth(60)
        self.search_box.returnPressed.connect(lambda: self.view.search(self.search_box.text()))
        bar.addWidget(self.search_box)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.valueChanged.connect(lambda v: v != self.model.pos and self.model.seek(v))
        self.status = QtWidgets.QLabel()

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.status)
        row.addWidget(self.slider, 1)
        lay.addLayout(row)
        lay.addWidget(self.panel)
        lay.addWidget(self.table)
        self.view.nodeSelected.connect(self._on_select)
        for key, seq in (("next", "N"), ("back", "B")):
            self.buttons[key].setShortcut(seq)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.view.set_theme(theme)
        f = self.panel.font()
        f.setPointSizeF(theme.pt(11))
        self.panel.setFont(f)
        self.panel.setStyleSheet(
            f"color: {theme.foreground}; background: {theme.panel}; padding: 6px;"
        )

    def set_trace(self, trace: AutogradTrace | None) -> None:
        self.view.set_trace(trace)
        self.slider.setRange(0, 0 if trace is None else len(trace.forward_order) + len(trace.steps))
        self.model.set_trace(trace)
        self.model.to_end()  # everything shown; |◀ or Back steps through

    def _on_pos(self, pos: int) -> None:
        m, tr = self.model, self.model.trace
        if self.slider.value() != pos:
            self.slider.blockSignals(True)
            self.slider.setValue(pos)
            self.slider.blockSignals(False)
        self.view.set_current_step(pos if tr is not None else -1)
        self.status.setText(f"step {pos}/{m.n_steps}")
        if tr is None:
            self.panel.show_lines("", [])
        elif m.phase == "start":
            self.panel.show_lines("Press Next to run the forward pass node by node.", [])
        elif m.phase == "forward":
            n = tr.nodes[m.current_node()]
            self.panel.show_lines(
                f"forward {pos}/{m.n_forward}: {n.label} = {fmt_tensor(n.value)}",
                [f"{n.op}, shape {'×'.join(map(str, n.shape)) or 'scalar'}"],
            )
        else:
            step = m.current_step()
            k = step.index + 1
            node = tr.nodes[step.node]
            where = f" in {node.module}" if node.module and node.module not in node.name else ""
            kind = tr.module_types.get(node.module, "") if where else ""
            title = f"backward {k}/{len(tr.steps)}: {_sym(tr, step.node)} ({node.grad_fn})" + (
                f"{where} ({kind})" if kind else where
            )
            lines = chain_rule_lines(tr, step)
            if pos == m.n_steps:  # the last step autograd took
                # --- honest ending (issue 9): claim every value only when it is so ---
                missing = tr.missing_values()
                shown = (
                    "every value and gradient is shown"
                    if not missing
                    else f"{len(missing)} of "
                    f"{sum(n.kind == 'op' for n in tr.nodes.values())} op values could not "
                    f"be recorded ({missing[0].label}: {missing[0].reason})"
                )
                lines.append(
                    f"Forward and backward done: {shown}. "
                    "|◀ goes back to the start; Next/Back step node by node (N, B)."
                )
                # --- end honest ending ---
            self.panel.show_lines(title, lines)
        self.stepChanged.emit(pos)

    def _on_select(self, node_id: str) -> None:
        self.selected = node_id

    def _toggle_bp(self) -> None:
        if self.selected:
            self.model.toggle_breakpoint(self.selected)

    def _selected_params(self) -> list[str]:
        tr = self.model.trace
        if tr is None:
            return []
        if self.selected and tr.nodes[self.selected].is_param:
            return [tr.nodes[self.selected].name]
        return [tr.nodes[i].name for i in tr.forward_order if tr.nodes[i].is_param]

    def _gradcheck(self) -> None:
        names = self._selected_params()
        self.gradCheckRequested.emit(names)
        result = self.gradcheck_fn(names) if self.gradcheck_fn is not None else None
        if result is not None:  # else it arrives later, from the worker
            self.show_gradcheck(result)

    def show_gradcheck(self, result: GradCheckResult) -> None:
        self.table.set_result(result)
        self.table.show()
