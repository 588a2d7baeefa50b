"""The autograd graph, drawn left to right with every node's value and gradient.

``GraphView`` draws an ``AutogradTrace`` with ``layered_layout``, one box per
node (``nnviz.qt.graph_items`` paints them). A layer (``nn.Module``) collapses
into one box and expands on a double click; big graphs start collapsed. Wheel
zooms, dragging pans, ``fit()`` shows everything and ``search(text)`` finds a
node. ``nnviz.qt.graph_render.render_graph`` draws a trace to a file.

Signals: ``nodeSelected(str node_id)``, ``moduleSelected(str module_path)``.
Slots: ``highlight_module(path)``, ``set_current_step(i)`` (the step-through
position, see ``nnviz.qt.backprop_stepper.StepModel``).
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.graph_layout import Layout, layered_layout
from nnviz.core.trace import AutogradTrace, GraphNode
from nnviz.qt.graph_items import (
    MOD_PREFIX,
    NODE_H,
    NODE_W,
    NodeItem,
    box_for,
    edge_label,
    edge_path,
    fmt_tensor,
    legend_html,
    node_size,
    op_symbol,
)
from nnviz.qt.theme import DARK, Theme, qcolor

__all__ = ["MOD_PREFIX", "GraphView"]

GAP_X, GAP_Y = 40.0, 26.0
WIDE_GAP_X = 120.0  # short graphs: room between columns for the gradient labels
WIDE_UP_TO = 6  # layers (wider graphs would not fit a screen at a legible zoom)
COLLAPSE_OVER = 12
MIN_FIT_SCALE = 1.0  # fit() zooms out no further: the smallest text keeps its size (issue 11)


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
        self.node_w, self.node_h = node_size(self.theme, self.compact)
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
        self.legend.setText(legend_html(theme))
        self.legend.setStyleSheet(
            f"#graphLegend {{ color: {theme.muted}; background: {theme.panel}; "
            f"border: 1px solid {theme.grid}; padding: 3px 6px; "
            f"font-size: {theme.pt(9):.1f}pt; }}"
        )
        self._place_legend()
        self.node_w, self.node_h = node_size(theme, self.compact)
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

    def _group(self, tr: AutogradTrace) -> nx.DiGraph:
        """Map each node to its display key (its outermost collapsed module, or
        itself) and return the graph of the boxes."""
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
        return g

    def _rebuild(self) -> None:
        tr = self.trace
        scene = self.scene()
        scene.clear()
        self.items, self._edges, self._edge_items, self._marks = {}, [], {}, []
        if tr is None:
            return
        g = self._group(tr)
        nw, nh = self.node_w, self.node_h
        lay = layered_layout(g, dx=1.0, dy=nh + GAP_Y)
        n_layers = int(lay.layer.max()) + 1 if len(lay.nodes) else 0
        self._wide = self.compact and n_layers <= WIDE_UP_TO  # labels of scalars fit between
        self.layout_ = lay = _stretch_x(lay, nw + (WIDE_GAP_X if self._wide else GAP_X))
        t = self.theme
        pen = QtGui.QPen(qcolor(t.muted, 170), 1.6)
        for edge, pts in lay.edge_points.items():
            path, arrow = edge_path(pts, nw)
            item = scene.addPath(path, pen)
            item.setZValue(-1)
            scene.addPolygon(arrow, pen, QtGui.QBrush(qcolor(t.muted)))
            self._edges.append(item)
            self._edge_items[edge] = item
        members: dict[str, list[GraphNode]] = {}
        for nid, key in self.group_of.items():
            members.setdefault(key, []).append(tr.nodes[nid])
        for key in lay.nodes:
            item = box_for(self, tr, key, members.get(key, []))
            item.setPos(*lay.position(key))
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
        font.setPointSizeF(t.pt(10))
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
            src = op_symbol(self.trace.nodes[e.src], self.trace)
            room = WIDE_GAP_X - 12
            fm = QtGui.QFontMetricsF(font)
            full = f"d{out}/d{src} = {text}"
            shown = full if fm.horizontalAdvance(full) <= room else text
            if fm.horizontalAdvance(shown) > room:
                continue
            self._marks += edge_label(scene, item, shown, font, t)

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
            lambda n: n.op.lower() == q or op_symbol(n, self.trace).lower() == q,
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
    pos = lay.pos.copy()
    pos[:, 0] *= dx
    pts = {k: np.column_stack([v[:, 0] * dx, v[:, 1]]) for k, v in lay.edge_points.items()}
    return replace(lay, pos=pos, edge_points=pts)


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
