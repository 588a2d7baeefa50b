"""What the autograd graph is drawn with: node boxes, edges, labels, numbers.

``NodeItem`` paints one box (a graph node or a collapsed module): the op,
shape, value and gradient (numbers for small tensors, a summary and a small
heatmap for bigger ones); parameters get a thick coloured frame and leaves
round corners. ``box_for`` decides what a box says, ``edge_path`` how an edge
curves and ``edge_label`` the gradient written on an edge. The view that
places them and reacts to the user is ``nnviz.qt.graph_view``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.numfmt import fmt, fmt_array
from nnviz.core.trace import AutogradTrace, GraphNode
from nnviz.qt.theme import Theme, diverging_lut, qcolor

if TYPE_CHECKING:
    from nnviz.qt.graph_view import GraphView

NODE_W, NODE_H = 200.0, 78.0
SMALL_W, SMALL_H = 176.0, 60.0  # graphs of scalars: no shape line, no heatmap
LOD_TEXT = 0.3  # below this zoom, boxes are drawn without text
HEAT = 32.0  # heatmap side in scene units
MOD_PREFIX = "mod:"  # display keys of collapsed modules


# the one number formatter, under the names the graph code uses
fmt_num = fmt
fmt_tensor = fmt_array


# --- plain names (issue 11): what an op is called on screen, never an internal id ----------
OP_NAMES = {
    "T": "transpose",
    "Addmm": "x·Wᵀ + b",
    "Mm": "matmul",
    "Mul": "multiply",
    "Add": "add",
    "Sub": "subtract",
    "Div": "divide",
    "Relu": "ReLU",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Mean": "mean",
    "Sum": "sum",
    "Neg": "negate",
    "Pow": "power",
    "Exp": "exp",
    "Log": "log",
    "View": "reshape",
    "Reshape": "reshape",
    "Flatten": "flatten",
    "LogSoftmax": "log-softmax",
    "Softmax": "softmax",
    "NllLoss": "NLL loss",
    "BinaryCrossEntropy": "BCE loss",
    "MseLoss": "MSE loss",
}


_LINEAR_OPS = ("Addmm", "Mm")  # the op that is the layer (a bias Add stays "add in …")


def _module_where(path: str) -> str:
    """``2`` → ``layer 3`` (a Sequential's module index, counted from 1); a name stays."""
    last = path.rsplit(".", 1)[-1]
    return f"layer {int(last) + 1}" if last.isdigit() else path


def op_symbol(n: GraphNode, trace: AutogradTrace | None = None) -> str:
    """How a node is called in boxes and in the chain-rule panel: its own name, else
    the op in plain words with its module (``ReLU (layer 2)``, ``transpose in
    Linear (layer 1)``); never an internal id such as ``Relu#9``."""
    if n.name:
        return n.name
    plain = OP_NAMES.get(n.op, n.op)
    if not n.module:
        return plain
    kind = trace.module_types.get(n.module, "") if trace is not None else ""
    where = _module_where(n.module)
    if kind.endswith("Loss"):  # BCELoss, CrossEntropyLoss: the loss says what it is
        return kind
    if kind and (kind.lower() == plain.lower() or (kind == "Linear" and n.op in _LINEAR_OPS)):
        return f"{kind} ({where})"
    return f"{plain} in {kind} ({where})" if kind else f"{plain} ({where})"


# --- node text (issue 11): fonts from the theme, lines from their metrics --------------------
TITLE_PT, SUB_PT, VALUE_PT = 10.0, 9.0, 9.5


def node_fonts(theme: Theme, base: QtGui.QFont | None = None) -> tuple[QtGui.QFont, ...]:
    """(title, subtitle, value) fonts of a box, for the theme's mode."""
    out = []
    for size, bold in ((TITLE_PT, True), (SUB_PT, False), (VALUE_PT, False)):
        f = QtGui.QFont(base) if base is not None else QtGui.QFont()
        f.setPointSizeF(theme.pt(size))
        f.setBold(bold)
        out.append(f)
    return tuple(out)


def node_size(theme: Theme, compact: bool) -> tuple[float, float]:
    """A box's width and height: four lines of text (three when compact) with room."""
    title, sub, value = (QtGui.QFontMetricsF(f).height() for f in node_fonts(theme))
    lines = title + value * 2 + (0 if compact else sub)
    w = (SMALL_W if compact else NODE_W) * theme.scale
    return w, max((SMALL_H if compact else NODE_H) * theme.scale, lines + 14 * theme.scale)


def heat_image(a: np.ndarray, theme: Theme, side: int = 24) -> QtGui.QImage:
    """A small diverging heatmap of a tensor (rows × columns, subsampled)."""
    a = np.asarray(a, dtype=np.float64)
    m = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(1, -1)
    if m.shape[0] > side:
        m = m[np.linspace(0, m.shape[0] - 1, side).astype(int)]
    if m.shape[1] > side:
        m = m[:, np.linspace(0, m.shape[1] - 1, side).astype(int)]
    m = np.nan_to_num(m)
    vmax = float(np.abs(m).max()) or 1.0
    lut = diverging_lut(theme)
    idx = np.clip(np.round((m / vmax + 1) * 0.5 * 255), 0, 255).astype(int)
    rgba = np.ascontiguousarray(lut[idx])
    h, w = rgba.shape[:2]
    img = QtGui.QImage(rgba.data, w, h, 4 * w, QtGui.QImage.Format_RGBA8888)
    return img.copy()


def _mix(a: QtGui.QColor, b: QtGui.QColor, k: float) -> QtGui.QColor:
    """``k`` of colour ``a`` over ``b``."""
    return QtGui.QColor(
        round(a.red() * k + b.red() * (1 - k)),
        round(a.green() * k + b.green() * (1 - k)),
        round(a.blue() * k + b.blue() * (1 - k)),
    )


def _text(p: QtGui.QPainter, rect: QtCore.QRectF, text: str) -> None:
    """One line, cut with an ellipsis when it does not fit (never silently clipped)."""
    fm = p.fontMetrics()
    p.drawText(
        rect,
        QtCore.Qt.AlignLeft | QtCore.Qt.AlignTop,
        fm.elidedText(text, QtCore.Qt.ElideRight, int(rect.width())),
    )


class NodeItem(QtWidgets.QGraphicsObject):
    """One box: a graph node or a collapsed module."""

    def __init__(self, view: GraphView, key: str, title: str, subtitle: str, kind: str) -> None:
        super().__init__()
        self.view, self.key, self.title, self.subtitle, self.kind = view, key, title, subtitle, kind
        self.node: GraphNode | None = None  # whose value and gradient the box shows
        self.value_text = ""
        self.grad_text = ""
        self.image: QtGui.QImage | None = None
        self.current = False
        self.highlight = False
        self.show_value = True
        self.show_grad = True
        self.is_param = False
        self.setFlag(QtWidgets.QGraphicsItem.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(QtCore.Qt.PointingHandCursor)

    def set_node(self, node: GraphNode | None, theme: Theme) -> None:
        """The node whose value and gradient the box shows (a module: its output)."""
        self.node = node
        if node is None:
            return
        self.value_text = fmt_tensor(node.value)
        self.grad_text = fmt_tensor(node.grad)
        # --- reasons and several outputs (issue 9) ---
        tips = [f"no value: {node.reason}"] if node.value is None and node.reason else []
        if tips:
            self.value_text = "not recorded (hover: why)"
        if node.values or node.grads:
            self.value_text = f"{node.n_outputs} outputs; 0: {self.value_text}"
            used = [k for k, g in enumerate(node.grads) if g is not None]
            if used:  # the first output that received a gradient
                self.grad_text = f"{used[0]}: {fmt_tensor(node.grads[used[0]])}"
            for k in range(node.n_outputs):
                v = node.values[k] if k < len(node.values) else None
                g = node.grads[k] if k < len(node.grads) else None
                tips.append(f"output {k}: value {fmt_tensor(v)}, grad {fmt_tensor(g)}")
        self.setToolTip("\n".join(tips))
        # --- end reasons and several outputs ---
        big = node.grad if node.grad is not None else node.value
        if big is not None and big.size > 4:
            self.image = heat_image(big, theme)

    def boundingRect(self) -> QtCore.QRectF:
        w, h = self.view.node_w, self.view.node_h
        return QtCore.QRectF(-w / 2 - 4, -h / 2 - 4, w + 12, h + 12)

    def _frame(self, t: Theme) -> tuple[QtGui.QColor, QtGui.QColor, float]:
        """Fill, border colour and border width: what kind of box, and its state."""
        fill = qcolor(t.panel)
        border = qcolor(t.grid)
        width = 1.5
        if self.kind == "leaf":
            border = qcolor(t.positive if self.is_param else t.forward)
            width = 3.0 if self.is_param else 2.0
        elif self.kind == "output":
            border = qcolor(t.foreground)
            width = 2.0
        elif self.kind == "module":
            fill = qcolor(t.neutral)
            border = qcolor(t.muted)
            width = 2.0
        if self.highlight or self.isSelected():
            border, width = qcolor(t.accent), 3.0
        if self.current:
            colour = qcolor(t.forward if self.current == "forward" else t.backward)
            border, width = colour, 5.0
            fill = _mix(colour, qcolor(t.panel), 0.16)  # a tint: text on it stays legible
        return fill, border, width

    def paint(self, p: QtGui.QPainter, opt, _w=None) -> None:
        t = self.view.theme
        w, h = self.view.node_w, self.view.node_h
        r = QtCore.QRectF(-w / 2, -h / 2, w, h)
        fill, border, width = self._frame(t)
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(p.worldTransform())
        p.setRenderHint(QtGui.QPainter.Antialiasing, lod >= LOD_TEXT)
        p.setPen(QtGui.QPen(border, width))
        p.setBrush(fill)
        radius = min(18.0, h / 3) if self.kind == "leaf" else 5.0
        if self.kind == "module":
            p.drawRoundedRect(r.adjusted(5, 5, 5, 5), radius, radius)
        p.drawRoundedRect(r, radius, radius)
        if lod < LOD_TEXT:  # zoomed far out: text would be unreadable and slow
            return
        heat = HEAT * t.scale
        pad = 6 * t.scale
        text_w = w - 2 * pad - (heat + 4 if self.image is not None else 0)
        p.setPen(qcolor(t.foreground))
        title_f, sub_f, value_f = node_fonts(t, self.view.font())
        # each line as tall as its font (a fixed 16 px cut "grad" to "arad" when fonts grew)
        top = r.top() + 3 * t.scale
        p.setFont(title_f)
        line = QtGui.QFontMetricsF(title_f).height()
        _text(p, QtCore.QRectF(r.left() + pad, top, text_w, line), self.title)
        top += line
        if not self.view.compact:
            p.setFont(sub_f)
            p.setPen(qcolor(t.muted))
            line = QtGui.QFontMetricsF(sub_f).height()
            _text(p, QtCore.QRectF(r.left() + pad, top, text_w, line), self.subtitle)
            top += line
        p.setFont(value_f)
        line = QtGui.QFontMetricsF(value_f).height()
        text_w = w - 2 * pad  # the value and gradient lines run under the heatmap
        if self.show_value and self.value_text:
            p.setPen(qcolor(t.forward))
            _text(p, QtCore.QRectF(r.left() + pad, top, text_w, line), "val " + self.value_text)
        if self.show_grad and self.grad_text:
            p.setPen(qcolor(t.backward))
            _text(
                p, QtCore.QRectF(r.left() + pad, top + line, text_w, line), "grad " + self.grad_text
            )
        if self.image is not None:
            target = QtCore.QRectF(r.right() - heat - 5, r.top() + 4, heat, heat * 0.9)
            p.drawImage(target, self.image)
            p.setPen(QtGui.QPen(qcolor(t.grid), 1))
            p.setBrush(QtCore.Qt.NoBrush)
            p.drawRect(target)

    def mousePressEvent(self, ev) -> None:
        super().mousePressEvent(ev)
        self.view._clicked(self.key)

    def mouseDoubleClickEvent(self, ev) -> None:
        self.view._double_clicked(self.key)


def legend_html(t: Theme) -> str:
    """The key under the graph: frames, colours and what the two numbers are."""

    def swatch(colour: str, text: str, round_: bool = False) -> str:
        return (
            f'<span style="color:{colour}; font-size:{12 * t.scale:.0f}pt">'
            f"{'◯' if round_ else '▢'}</span> {text}"
        )

    return "&nbsp;&nbsp;".join(
        (
            swatch(t.positive, "parameter"),
            swatch(t.forward, "input / leaf", round_=True),
            swatch(t.muted, "op"),
            f'<span style="color:{t.forward}">val</span> forward value',
            f'<span style="color:{t.backward}">grad</span> dL/d(node)',
            f'<span style="color:{t.backward}">▬</span> current backward step',
        )
    )


def module_output(tr: AutogradTrace, ns: list[GraphNode]) -> GraphNode | None:
    """The node of a module whose output leaves the module (its last op)."""
    ids = {n.id for n in ns}
    outs = [
        n for n in ns if any(s not in ids for s in tr.graph.successors(n.id)) and n.kind == "op"
    ]
    return outs[-1] if outs else None


def box_for(view: GraphView, tr: AutogradTrace, key: str, members: list[GraphNode]) -> NodeItem:
    """The box of display key ``key``: a collapsed module (its ``members``) or a node."""
    if key.startswith(MOD_PREFIX):
        path = key[len(MOD_PREFIX) :]
        ops = [n.op for n in members if n.kind == "op" and n.op != "T"]
        params = [n for n in members if n.kind == "leaf"]
        kind_name = tr.module_types.get(path) or "+".join(dict.fromkeys(ops)) or "layer"
        shape = "×".join(map(str, members[-1].shape)) if members else ""
        out_node = module_output(tr, members)
        if out_node is not None:
            shape = "×".join(map(str, out_node.shape)) or "scalar"
        title = f"{path}: {kind_name}"
        sub = shape + (f" · {len(params)} params" if params else "")
        if len(title) > 22:  # a long class name goes to the second line
            title, sub = path, f"{kind_name} · {sub}"
        item = NodeItem(view, key, title, sub, "module")
        item.set_node(out_node, view.theme)
        return item
    n = tr.nodes[key]
    if n.kind == "leaf":  # the frame tells parameters from inputs (see the legend)
        role = "param" if n.is_param else "leaf"
        title = n.label if len(n.label) > 8 else f"{n.label} ({role})"
    elif n.kind == "output":
        title = f"{n.name} (output)" if n.name else "output"
    else:
        title = f"{n.label} = {n.op}" if n.name else op_symbol(n, tr)
    shape = "×".join(map(str, n.shape)) or "scalar"
    sub = shape + (f"  [{n.module}]" if n.module and not tr.scalar else "")
    item = NodeItem(view, key, title, sub, n.kind)
    item.is_param = n.is_param
    item.set_node(n, view.theme)
    return item


def edge_path(pts: np.ndarray, node_w: float) -> tuple[QtGui.QPainterPath, QtGui.QPolygonF]:
    """An edge from box edge to box edge through its layout points (a smooth
    curve between columns) and its arrowhead."""
    q = [QtCore.QPointF(float(x), float(y)) for x, y in pts]
    start = QtCore.QPointF(q[0].x() + node_w / 2, q[0].y())
    end = QtCore.QPointF(q[-1].x() - node_w / 2, q[-1].y())
    path = QtGui.QPainterPath()
    path.moveTo(start)
    inner = [start, *q[1:-1], end]
    for a, b in zip(inner[:-1], inner[1:], strict=True):
        mid = (a.x() + b.x()) / 2
        path.cubicTo(QtCore.QPointF(mid, a.y()), QtCore.QPointF(mid, b.y()), b)
    arrow = QtGui.QPolygonF([end, end + QtCore.QPointF(-8, -4), end + QtCore.QPointF(-8, 4)])
    return path, arrow


def edge_label(
    scene: QtWidgets.QGraphicsScene,
    edge: QtWidgets.QGraphicsPathItem,
    text: str,
    font: QtGui.QFont,
    theme: Theme,
) -> list[QtWidgets.QGraphicsItem]:
    """``text`` in a framed box at the middle of ``edge``, above everything."""
    label = scene.addSimpleText(text, font)
    label.setBrush(qcolor(theme.backward))
    br = label.boundingRect()
    mid = edge.path().pointAtPercent(0.5)
    back = scene.addRect(
        QtCore.QRectF(0, 0, br.width() + 8, br.height() + 2),
        QtGui.QPen(qcolor(theme.backward), 1),
        QtGui.QBrush(qcolor(theme.background)),
    )
    back.setPos(mid.x() - br.width() / 2 - 4, mid.y() - br.height() / 2 - 1)
    label.setPos(mid.x() - br.width() / 2, mid.y() - br.height() / 2)
    back.setZValue(2)
    label.setZValue(3)
    return [back, label]
