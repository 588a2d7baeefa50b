"""The autograd graph, drawn left to right with every node's value and gradient.

``GraphView`` draws an ``AutogradTrace`` with ``layered_layout``: boxes show
the op, shape, value and gradient (numbers for small tensors, a summary and a
small heatmap for bigger ones); parameters are drawn with a thick coloured
frame and leaves with round corners. A layer (``nn.Module``) collapses into one
box and expands on a double click; big graphs start collapsed. Wheel zooms,
dragging pans, ``fit()`` shows everything and ``search(text)`` finds a node.

Signals: ``nodeSelected(str node_id)``, ``moduleSelected(str module_path)``.
Slots: ``highlight_module(path)``, ``set_current_step(i)`` (the step-through
position, see ``nnviz.qt.backprop_stepper.StepModel``).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.autograd_graph import AutogradTrace, GraphNode
from nnviz.core.graph_layout import Layout, layered_layout
from nnviz.qt.theme import DARK, Theme, diverging_lut, qcolor

NODE_W, NODE_H = 200.0, 78.0
SMALL_W, SMALL_H = 176.0, 60.0  # graphs of scalars: no shape line, no heatmap
GAP_X, GAP_Y = 40.0, 26.0
WIDE_GAP_X = 120.0  # short graphs: room between columns for the gradient labels
WIDE_UP_TO = 6  # layers (wider graphs would not fit a screen at a legible zoom)
LOD_TEXT = 0.3  # below this zoom, boxes are drawn without text
HEAT = 32.0  # heatmap side in scene units
COLLAPSE_OVER = 12
MIN_FIT_SCALE = 0.7  # fit() zooms out no further: 8.5 pt text stays legible
MOD_PREFIX = "mod:"


def fmt_num(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        s = f"{v:.4f}".rstrip("0").rstrip(".")
        return s if s not in ("-0", "") else "0"
    return f"{v:.3g}"


def fmt_tensor(a: np.ndarray | None, max_items: int = 4) -> str:
    if a is None:
        return "—"
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        return fmt_num(float(a.reshape(-1)[0]))
    if a.size <= max_items:
        return "[" + ", ".join(fmt_num(float(v)) for v in a.reshape(-1)) + "]"
    fin = a[np.isfinite(a)]
    if fin.size == 0:
        return "all non-finite"
    bad = "" if fin.size == a.size else f" ({a.size - fin.size} nan/inf)"
    return f"μ {float(fin.mean()):.3g} σ {float(fin.std()):.3g}{bad}"


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

    def boundingRect(self) -> QtCore.QRectF:
        w, h = self.view.node_w, self.view.node_h
        return QtCore.QRectF(-w / 2 - 4, -h / 2 - 4, w + 12, h + 12)

    def paint(self, p: QtGui.QPainter, opt, _w=None) -> None:
        t = self.view.theme
        w, h = self.view.node_w, self.view.node_h
        r = QtCore.QRectF(-w / 2, -h / 2, w, h)
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
        compact = self.view.compact
        text_w = w - 12 - (HEAT + 4 if self.image is not None else 0)
        p.setPen(qcolor(t.foreground))
        f = QtGui.QFont(self.view.font())
        f.setPointSizeF(9.5 * t.scale)
        f.setBold(True)
        p.setFont(f)
        _text(p, QtCore.QRectF(r.left() + 6, r.top() + 3, text_w, 18), self.title)
        f.setBold(False)
        top = r.top() + 3
        if not compact:
            f.setPointSizeF(8 * t.scale)
            p.setFont(f)
            p.setPen(qcolor(t.muted))
            _text(p, QtCore.QRectF(r.left() + 6, r.top() + 20, text_w, 16), self.subtitle)
            top += 17
        f.setPointSizeF(8.5 * t.scale)
        p.setFont(f)
        text_w = w - 12  # the value and gradient lines run under the heatmap
        if self.show_value and self.value_text:
            p.setPen(qcolor(t.forward))
            _text(p, QtCore.QRectF(r.left() + 6, top + 17, text_w, 16), "val " + self.value_text)
        if self.show_grad and self.grad_text:
            p.setPen(qcolor(t.backward))
            _text(p, QtCore.QRectF(r.left() + 6, top + 35, text_w, 16), "grad " + self.grad_text)
        if self.image is not None:
            target = QtCore.QRectF(r.right() - HEAT - 5, r.top() + 4, HEAT, HEAT * 0.9)
            p.drawImage(target, self.image)
            p.setPen(QtGui.QPen(qcolor(t.grid), 1))
            p.setBrush(QtCore.Qt.NoBrush)
            p.drawRect(target)

    def mousePressEvent(self, ev) -> None:
        super().mousePressEvent(ev)
        self.view._clicked(self.key)

    def mouseDoubleClickEvent(self, ev) -> None:
        self.view._double_clicked(self.key)


class GraphView(QtWidgets.QGraphicsView):
    nodeSelected = QtCore.Signal(str)
    moduleSelected = QtCore.Signal(str)

    def __init__(self, theme: Theme = DARK, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.setRenderHints(QtGui.QPainter.Antialiasing | QtGui.QPainter.TextAntialiasing)
        self.setDragMode(QtWidgets.QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.SmartViewportUpdate)
        self.trace: AutogradTrace | None = None
        self.collapsed: set[str] = set()
        self.items: dict[str, NodeItem] = {}
        self.layout_: Layout | None = None
        self.group_of: dict[str, str] = {}  # trace node id -> display key
        self.step = -1  # -1: everything shown
        self._forward: list[str] = []
        self._backward: list[str] = []
        self._edges: list[QtWidgets.QGraphicsPathItem] = []
        self._edge_items: dict[tuple[str, str], QtWidgets.QGraphicsPathItem] = {}
        self._marks: list[QtWidgets.QGraphicsItem] = []  # edge labels of the current step
        self.node_w, self.node_h, self.compact = NODE_W, NODE_H, False
        self.legend = QtWidgets.QLabel(self)
        self.legend.setObjectName("graphLegend")
        self.legend.setAttribute(QtCore.Qt.WA_TransparentForMouseEvents)
        self.legend.setTextFormat(QtCore.Qt.RichText)
        self.legend.hide()
        self.set_theme(theme)

    # --- data ------------------------------------------------------------------------

    def set_trace(self, trace: AutogradTrace | None, collapse: bool | None = None) -> None:
        self.trace = trace
        self.step = -1
        if trace is None:
            self.scene().clear()
            self.items, self._edges, self._edge_items, self._marks = {}, [], {}, []
            self.legend.hide()
            return
        if collapse is None:  # the scalar graph is asked for to see every weight
            collapse = len(trace) > COLLAPSE_OVER and not trace.scalar
        self.compact = all(
            (n.value is None or n.value.size <= 4) and (n.grad is None or n.grad.size <= 4)
            for n in trace.nodes.values()
        )
        self.node_w, self.node_h = (SMALL_W, SMALL_H) if self.compact else (NODE_W, NODE_H)
        self.group_depth, groups = _group_level(trace.modules())
        self.collapsed = set(groups) if collapse else set()
        self._forward = list(trace.forward_order)
        self._backward = list(trace.backward_order)
        self.legend.show()
        self._rebuild()
        self.fit()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackgroundBrush(qcolor(theme.background))
        t = theme

        def sw(colour: str, text: str, radius: int = 2, width: int = 2) -> str:
            return (
                f'<span style="color:{colour}; font-size:{12 * t.scale:.0f}pt">'
                f"{'◯' if radius > 4 else '▢'}</span> {text}"
            )

        self.legend.setText(
            "&nbsp;&nbsp;".join(
                (
                    sw(t.positive, "parameter"),
                    sw(t.forward, "input / leaf", radius=8),
                    sw(t.muted, "op"),
                    f'<span style="color:{t.forward}">val</span> forward value',
                    f'<span style="color:{t.backward}">grad</span> dL/d(node)',
                    f'<span style="color:{t.backward}">▬</span> current backward step',
                )
            )
        )
        self.legend.setStyleSheet(
            f"#graphLegend {{ color: {t.muted}; background: {t.panel}; "
            f"border: 1px solid {t.grid}; padding: 3px 6px; font-size: {9 * t.scale:.1f}pt; }}"
        )
        self._place_legend()
        if self.trace is not None:
            self._rebuild()

    def _place_legend(self) -> None:
        self.legend.adjustSize()
        vp = self.viewport().geometry()
        self.legend.move(vp.left() + 6, vp.bottom() - self.legend.height() - 6)

    @property
    def n_steps(self) -> int:
        return len(self._forward) + len(self._backward)

    def display_key(self, node_id: str) -> str:
        return self.group_of.get(node_id, node_id)

    def display_keys(self) -> list[str]:
        return list(self.items)

    # --- grouping --------------------------------------------------------------------------

    def _top_collapsed(self, module: str) -> str | None:
        """The outermost collapsed module containing ``module`` (paths nest with dots)."""
        if not module:
            return None
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in self.collapsed:
                return prefix
        return None

    def toggle_module(self, path: str) -> None:
        if path in self.collapsed:
            self.collapsed.discard(path)
        else:
            self.collapsed.add(path)
        self._rebuild()

    def expand_all(self) -> None:
        self.collapsed.clear()
        self._rebuild()

    def collapse_all(self) -> None:
        if self.trace is not None:
            self.collapsed = set(_group_level(self.trace.modules())[1])
            self._rebuild()

    def _rebuild(self) -> None:
        tr = self.trace
        scene = self.scene()
        scene.clear()
        self.items, self._edges, self._edge_items, self._marks = {}, [], {}, []
        if tr is None:
            return
        self.group_of = {}
        for nid, n in tr.nodes.items():
            top = self._top_collapsed(n.module)
            self.group_of[nid] = MOD_PREFIX + top if top else nid
        g = self._contracted()
        if not nx.is_directed_acyclic_graph(g):
            # ops made between a module's own ops (inside C++) close cycles when the
            # module collapses: fold each strongly connected part into one box
            for comp in nx.strongly_connected_components(g):
                if len(comp) > 1:
                    order = [k for k in g.nodes if k in comp]
                    rep = next((k for k in order if k.startswith(MOD_PREFIX)), order[0])
                    for nid, k in self.group_of.items():
                        if k in comp:
                            self.group_of[nid] = rep
            g = self._contracted()
        nw, nh = self.node_w, self.node_h
        lay = layered_layout(g, dx=1.0, dy=nh + GAP_Y)
        n_layers = int(lay.layer.max()) + 1 if len(lay.nodes) else 0
        wide = self.compact and n_layers <= WIDE_UP_TO  # labels of scalars fit between
        self._wide = wide
        dx = nw + (WIDE_GAP_X if wide else GAP_X)
        self.layout_ = lay = _stretch_x(lay, dx)
        t = self.theme
        pen = QtGui.QPen(qcolor(t.muted, 170), 1.6)
        for edge, pts in lay.edge_points.items():
            path = QtGui.QPainterPath()
            pts = [QtCore.QPointF(float(x), float(y)) for x, y in pts]
            start = QtCore.QPointF(pts[0].x() + nw / 2, pts[0].y())
            end = QtCore.QPointF(pts[-1].x() - nw / 2, pts[-1].y())
            path.moveTo(start)
            inner = [start, *pts[1:-1], end]
            for a, b in zip(inner[:-1], inner[1:], strict=True):
                mid = (a.x() + b.x()) / 2
                path.cubicTo(QtCore.QPointF(mid, a.y()), QtCore.QPointF(mid, b.y()), b)
            item = scene.addPath(path, pen)
            item.setZValue(-1)
            arrow = QtGui.QPolygonF(
                [end, end + QtCore.QPointF(-8, -4), end + QtCore.QPointF(-8, 4)]
            )
            scene.addPolygon(arrow, pen, QtGui.QBrush(qcolor(t.muted)))
            self._edges.append(item)
            self._edge_items[edge] = item
        members: dict[str, list[GraphNode]] = {}
        for nid, key in self.group_of.items():
            members.setdefault(key, []).append(tr.nodes[nid])
        for key in lay.nodes:
            x, y = lay.position(key)
            if key.startswith(MOD_PREFIX):
                path = key[len(MOD_PREFIX) :]
                ns = members[key]
                ops = [n.op for n in ns if n.kind == "op" and n.op != "T"]
                params = [n for n in ns if n.kind == "leaf"]
                kind_name = tr.module_types.get(path) or "+".join(dict.fromkeys(ops)) or "layer"
                shape = "×".join(map(str, ns[-1].shape)) if ns else ""
                out_node = _module_output(tr, ns)
                if out_node is not None:
                    shape = "×".join(map(str, out_node.shape)) or "scalar"
                title = f"{path}: {kind_name}"
                sub = shape + (f" · {len(params)} params" if params else "")
                if len(title) > 22:  # a long class name goes to the second line
                    title, sub = path, f"{kind_name} · {sub}"
                item = NodeItem(self, key, title, sub, "module")
                item.node = out_node
            else:
                n = tr.nodes[key]
                if n.kind == "leaf":  # the frame tells parameters from inputs (see the legend)
                    role = "param" if n.is_param else "leaf"
                    title = n.label if len(n.label) > 8 else f"{n.label} ({role})"
                elif n.kind == "output":
                    title = f"{n.name} (output)" if n.name else "output"
                else:
                    title = f"{n.label} = {n.op}" if n.name else op_symbol(n)
                shape = "×".join(map(str, n.shape)) or "scalar"
                sub = shape + (f"  [{n.module}]" if n.module and not tr.scalar else "")
                item = NodeItem(self, key, title, sub, n.kind)
                item.is_param = n.is_param
                item.node = n
            node = item.node
            if node is not None:
                item.value_text = fmt_tensor(node.value)
                item.grad_text = fmt_tensor(node.grad)
                big = node.grad if node.grad is not None else node.value
                if big is not None and big.size > 4:
                    item.image = heat_image(big, t)
            item.setPos(x, y)
            scene.addItem(item)
            self.items[key] = item
        rect = scene.itemsBoundingRect().adjusted(-24, -24, 24, 24)
        scene.setSceneRect(rect)
        self._apply_step()

    # --- stepping -------------------------------------------------------------------------

    @QtCore.Slot(int)
    def set_current_step(self, i: int) -> None:
        """0..n_steps: forward nodes revealed first, then backward steps; -1 all."""
        self.step = int(i)
        self._apply_step()

    def _apply_step(self) -> None:
        if self.trace is None:
            return
        s = self.step
        nf = len(self._forward)
        phase = ""
        if s < 0:
            shown_v = set(self.group_of)
            shown_g = set(self.group_of)
            current = None
        else:
            shown_v = set(self._forward[: min(s, nf)])
            shown_g = set(self._backward[: max(0, s - nf)])
            if s > nf:
                shown_g.add(self.trace.output)
                current = self._backward[min(s, self.n_steps) - nf - 1]
                phase = "backward"
            else:
                current = self._forward[s - 1] if s > 0 else None
                phase = "forward"
        cur_key = self.display_key(current) if current else None
        for key, item in self.items.items():
            ids = (
                [n for n, k in self.group_of.items() if k == key]
                if key.startswith(MOD_PREFIX)
                else [key]
            )
            item.show_value = any(n in shown_v for n in ids)
            item.show_grad = (
                any(n in shown_g for n in ids)
                if not key.startswith(MOD_PREFIX)
                else (item.node is not None and item.node.id in shown_g)
            )
            item.current = phase if key == cur_key else ""
            item.update()
        self._mark_edges(current if phase == "backward" else None, cur_key)
        if cur_key in self.items:
            self.ensureVisible(self.items[cur_key], 60, 60)

    def _mark_edges(self, node_id: str | None, cur_key: str | None) -> None:
        """At a backward step, draw the edges into the current node in the
        gradient colour, each labelled with the gradient it passes on."""
        scene = self.scene()
        for m in self._marks:
            scene.removeItem(m)
        self._marks = []
        t = self.theme
        pen = QtGui.QPen(qcolor(t.muted, 170), 1.6)
        for item in self._edge_items.values():
            if item.pen().color() != pen.color():
                item.setPen(pen)
                item.setZValue(-1)
        step = self.trace.step_of(node_id) if node_id else None
        if step is None:
            return
        hot = QtGui.QPen(qcolor(t.backward), 3.5)
        font = QtGui.QFont(self.font())
        font.setPointSizeF(10 * t.scale)
        font.setBold(True)
        for e in step.passed:
            edge = (self.display_key(e.src), cur_key)
            item = self._edge_items.get(edge)
            if item is None:
                continue
            item.setPen(hot)
            item.setZValue(1)
            text = fmt_tensor(e.passed_on)
            if not getattr(self, "_wide", False) or len(text) > 24:
                continue  # no room between the columns: the panel has the numbers
            out = self.trace.nodes[self.trace.output].name or "L"
            src = op_symbol(self.trace.nodes[e.src])
            room = WIDE_GAP_X - 12
            fm = QtGui.QFontMetricsF(font)
            full = f"d{out}/d{src} = {text}"
            shown = full if fm.horizontalAdvance(full) <= room else text
            if fm.horizontalAdvance(shown) > room:
                continue
            label = scene.addSimpleText(shown, font)
            label.setBrush(qcolor(t.backward))
            br = label.boundingRect()
            mid = item.path().pointAtPercent(0.5)
            back = scene.addRect(
                QtCore.QRectF(0, 0, br.width() + 8, br.height() + 2),
                QtGui.QPen(qcolor(t.backward), 1),
                QtGui.QBrush(qcolor(t.background)),
            )
            back.setPos(mid.x() - br.width() / 2 - 4, mid.y() - br.height() / 2 - 1)
            label.setPos(mid.x() - br.width() / 2, mid.y() - br.height() / 2)
            back.setZValue(2)
            label.setZValue(3)
            self._marks += [back, label]

    # --- selection, highlight, search ------------------------------------------------------

    def _clicked(self, key: str) -> None:
        if key.startswith(MOD_PREFIX):
            self.moduleSelected.emit(key[len(MOD_PREFIX) :])
        else:
            self.nodeSelected.emit(key)
            mod = self.trace.nodes[key].module if self.trace else ""
            if mod:
                self.moduleSelected.emit(mod)

    def _double_clicked(self, key: str) -> None:
        if key.startswith(MOD_PREFIX):
            self.toggle_module(key[len(MOD_PREFIX) :])
        elif self.trace is not None and self.trace.nodes[key].module:
            self.toggle_module(self._outer(self.trace.nodes[key].module))

    def _contracted(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for nid in self.trace.graph.nodes:  # keep the trace's order: stable layout
            g.add_node(self.group_of[nid])
        for u, v in self.trace.graph.edges:
            a, b = self.group_of[u], self.group_of[v]
            if a != b:
                g.add_edge(a, b)
        return g

    def _outer(self, module: str) -> str:
        return ".".join(module.split(".")[: max(1, getattr(self, "group_depth", 1))])

    @QtCore.Slot(str)
    def highlight_module(self, path: str | list[str] | tuple[str, ...]) -> None:
        """Highlight the nodes of module ``path`` (or of several; their boxes
        when collapsed). An empty path clears the highlight."""
        if self.trace is None:
            return
        paths = [path] if isinstance(path, str) else list(path)
        paths = [p for p in paths if p]

        def within(mod: str, p: str) -> bool:
            return mod == p or mod.startswith(p + ".")

        for key, item in self.items.items():
            if key.startswith(MOD_PREFIX):
                m = key[len(MOD_PREFIX) :]
                on = any(within(m, p) or within(p, m) for p in paths)
            else:
                mod = self.trace.nodes[key].module
                on = bool(mod) and any(within(mod, p) for p in paths)
            item.highlight = on
            item.update()

    def select_node(self, node_id: str) -> None:
        key = self.display_key(node_id)
        if key in self.items:
            self.scene().clearSelection()
            self.items[key].setSelected(True)
            self.centerOn(self.items[key])

    def search(self, text: str) -> str | None:
        """Select and centre the first node whose name, op or module matches."""
        if self.trace is None or not text:
            return None
        q = text.strip().lower()
        tests = (  # best first: a name, a name's start, an op, a module, any part of a name
            lambda n: (n.name or "").lower() == q,
            lambda n: (n.name or "").lower().startswith(q),
            lambda n: n.op.lower() == q or op_symbol(n).lower() == q,
            lambda n: n.module.lower() == q,
            lambda n: q in (n.name or "").lower() or q in n.op.lower(),
        )
        for test in tests:
            for nid in self.trace.forward_order:
                if test(self.trace.nodes[nid]):
                    self.select_node(nid)
                    self.nodeSelected.emit(nid)
                    return nid
        return None

    # --- zoom and pan -----------------------------------------------------------------------

    def fit(self, whole: bool = False) -> None:
        """Show the graph; above a size it stays readable (``whole``: everything)."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self._auto_fit = whole  # a resize (scrollbars coming or going) fits again the same way
        self._user_zoomed = False
        self.fitInView(rect, QtCore.Qt.KeepAspectRatio)
        s = self.transform().m11()
        if s > 1.6:  # a tiny graph: do not blow it up
            self.resetTransform()
            self.scale(1.6, 1.6)
            self.centerOn(rect.center())
        elif s < MIN_FIT_SCALE and not whole:  # a huge graph: stay readable, show the loss end
            self.resetTransform()
            self.scale(MIN_FIT_SCALE, MIN_FIT_SCALE)
            out = self.trace.output if self.trace is not None else None
            key = self.display_key(out) if out else None
            at = self.items[key].pos() if key in self.items else rect.center()
            vp = self.viewport().size()
            x = rect.center().x() if rect.width() * MIN_FIT_SCALE <= vp.width() else at.x()
            y = rect.center().y() if rect.height() * MIN_FIT_SCALE <= vp.height() else at.y()
            self.centerOn(QtCore.QPointF(x, y))

    def zoom(self, factor: float) -> None:
        s = self.transform().m11() * factor
        if 0.01 < s < 8:
            self.scale(factor, factor)
            self._user_zoomed = True  # resizes keep the user's zoom from now on

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:
        self.zoom(1.0015 ** ev.angleDelta().y())

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._place_legend()
        if self.trace is not None and not getattr(self, "_user_zoomed", False):
            self.fit(whole=getattr(self, "_auto_fit", False))

    def keyPressEvent(self, ev) -> None:
        k = ev.key()
        if k in (QtCore.Qt.Key_Plus, QtCore.Qt.Key_Equal):
            self.zoom(1.25)
        elif k == QtCore.Qt.Key_Minus:
            self.zoom(0.8)
        elif k == QtCore.Qt.Key_F:
            self.fit()
        else:
            super().keyPressEvent(ev)


def _stretch_x(lay: Layout, dx: float) -> Layout:
    from dataclasses import replace

    pos = lay.pos.copy()
    pos[:, 0] *= dx
    pts = {k: np.column_stack([v[:, 0] * dx, v[:, 1]]) for k, v in lay.edge_points.items()}
    return replace(lay, pos=pos, edge_points=pts)


def op_symbol(n: GraphNode) -> str:
    """How an unnamed op is called in boxes and in the chain-rule panel."""
    return n.name or f"{n.op}#{n.id[1:]}"


def _group_level(modules: list[str]) -> tuple[int, list[str]]:
    """The shallowest depth of module paths that splits the graph into ≥ 2 boxes."""
    if not modules:
        return 1, []
    deepest = max(len(m.split(".")) for m in modules)
    for d in range(1, deepest + 1):
        groups = list(dict.fromkeys(".".join(m.split(".")[:d]) for m in modules))
        if len(groups) >= 2:
            return d, groups
    return deepest, list(dict.fromkeys(modules))


def _module_output(tr: AutogradTrace, ns: list[GraphNode]) -> GraphNode | None:
    """The node of a module whose output leaves the module (its last op)."""
    ids = {n.id for n in ns}
    outs = [
        n for n in ns if any(s not in ids for s in tr.graph.successors(n.id)) and n.kind == "op"
    ]
    return outs[-1] if outs else None


def render_graph(
    trace: AutogradTrace,
    path: str | Path,
    size: tuple[int, int] = (1600, 900),
    theme: Theme = DARK,
    step: int | None = None,
) -> Path:
    """Draw a trace offscreen to PNG or SVG as the app's graph tab shows it (with
    the chain-rule panel at step-through position ``step``; default: the end)."""
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.graph_panel import GraphPanel
    from nnviz.qt.render import save_widget

    make_app()
    w = GraphPanel(theme=theme)
    w.resize(*size)
    w.show()
    w.set_trace(trace)
    for b in (w.scalar, w.capture):  # a model's graph: show what can be captured
        b.setVisible(trace.train_step is not None)
    if step is not None:
        w.stepper.model.seek(step)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    path = Path(path)
    if path.suffix.lower() == ".svg":  # QSvgGenerator ships with PySide6-Essentials
        from PySide6.QtSvg import QSvgGenerator

        if not path.parent.exists():
            from nnviz.core.errors import NnvizError

            raise NnvizError(f"the folder {str(path.parent)!r} does not exist")
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(w.size())
        gen.setViewBox(QtCore.QRect(0, 0, w.width(), w.height()))
        gen.setTitle("nnviz autograd graph")
        w.render(gen)
        out = path
    else:
        out = save_widget(w, path)
    w.close()
    return out
