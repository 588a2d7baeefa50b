"""What a lecture hall sees, measured: text that fits, text size, overlaps.

Helpers for tests/qt/test_legibility.py. Every measure is in device pixels of
the window as drawn (offscreen at 96 dpi): a line height is what
``QFontMetricsF.height()`` gives for the font in use, times the scale of the
view that draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

# widgets drawn over others on purpose (a card over the network, a key over the graph)
OVERLAYS = ("HelpOverlay", "NeuronInspector", "graphLegend")


@dataclass
class Text:
    where: str  # a path of class and object names, to say which text failed
    text: str
    line_px: float


def _name(w) -> str:
    parts = []
    while w is not None:
        parts.append(w.objectName() or type(w).__name__)
        w = w.parentWidget() if isinstance(w, QtWidgets.QWidget) else None
    return "/".join(reversed(parts[:4]))


def shown(root: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    """Every widget under ``root`` a user can see (its window's own widgets only)."""
    out = []
    for w in root.findChildren(QtWidgets.QWidget):
        if not w.isVisible() or w.isWindow() or w.width() <= 0 or w.height() <= 0:
            continue
        if w.window() is not root.window():
            continue
        out.append(w)
    return out


def _doc_lines(doc: QtGui.QTextDocument) -> list[tuple[str, float]]:
    """(text, line height) of every laid-out line with text in a document."""
    doc.documentLayout()  # lays it out
    out = []
    block = doc.begin()
    while block.isValid():
        layout = block.layout()
        for i in range(layout.lineCount() if layout is not None else 0):
            line = layout.lineAt(i)
            text = block.text()[line.textStart() : line.textStart() + line.textLength()]
            if text.strip():
                out.append((text.strip(), line.height()))
        block = block.next()
    return out


def _rich(label: QtWidgets.QLabel) -> bool:
    fmt = label.textFormat()
    return fmt == QtCore.Qt.RichText or (
        fmt == QtCore.Qt.AutoText and QtGui.Qt.mightBeRichText(label.text())
    )


def label_lines(label: QtWidgets.QLabel) -> list[Text]:
    if not label.text().strip():
        return []
    if _rich(label):
        doc = QtGui.QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setHtml(label.text())
        if label.wordWrap():
            doc.setTextWidth(label.contentsRect().width())
        return [Text(_name(label), t, h) for t, h in _doc_lines(doc)]
    return [Text(_name(label), label.text(), QtGui.QFontMetricsF(label.font()).height())]


def widget_texts(root: QtWidgets.QWidget) -> list[Text]:
    """The text of every visible label, button, box and check box, with its line height."""
    out = []
    for w in shown(root):
        if isinstance(w, QtWidgets.QLabel):
            out += label_lines(w)
        elif isinstance(w, QtWidgets.QAbstractButton) and w.text().strip():
            out.append(Text(_name(w), w.text(), QtGui.QFontMetricsF(w.font()).height()))
        elif isinstance(w, QtWidgets.QComboBox) and w.currentText():
            out.append(Text(_name(w), w.currentText(), QtGui.QFontMetricsF(w.font()).height()))
        elif isinstance(w, QtWidgets.QTabBar):
            for i in range(w.count()):
                out.append(Text(_name(w), w.tabText(i), QtGui.QFontMetricsF(w.font()).height()))
        elif isinstance(w, QtWidgets.QTextBrowser):
            out += [Text(_name(w), t, h) for t, h in _doc_lines(w.document())]
    return out


def cut_widgets(root: QtWidgets.QWidget) -> list[str]:
    """Visible widgets whose text does not fit them (elided, clipped or squeezed)."""
    bad = []
    for w in shown(root):
        if isinstance(w, QtWidgets.QLabel) and w.text().strip() and not w.pixmap():
            rect = w.contentsRect()
            if _rich(w) or w.wordWrap():
                need_w = w.minimumSizeHint().width() if not w.wordWrap() else 0
                need_h = w.heightForWidth(w.width()) if w.wordWrap() else w.sizeHint().height()
                if need_w > w.width() + 1 or need_h > w.height() + 1:
                    bad.append(
                        f"{_name(w)} {w.text()[:60]!r}: needs {need_w}×{need_h}, "
                        f"has {w.width()}×{w.height()}"
                    )
                continue
            fm = QtGui.QFontMetrics(w.font())
            lines = w.text().split("\n")
            need = max(fm.horizontalAdvance(t) for t in lines)
            if need > rect.width() + 1 or fm.height() * len(lines) > rect.height() + 2:
                bad.append(
                    f"{_name(w)} {w.text()!r}: needs {need}px, has {rect.width()}×{rect.height()}"
                )
        elif isinstance(w, (QtWidgets.QAbstractButton, QtWidgets.QComboBox)):
            text = w.currentText() if isinstance(w, QtWidgets.QComboBox) else w.text()
            if not text.strip():
                continue
            hint = w.minimumSizeHint() if isinstance(w, QtWidgets.QComboBox) else w.sizeHint()
            fm = QtGui.QFontMetrics(w.font())
            need = fm.horizontalAdvance(text)
            if need > w.contentsRect().width() or hint.height() > w.height() + 2:
                bad.append(f"{_name(w)} {text!r}: needs {need}px, has {w.width()}×{w.height()}")
    return bad


def overlaps(root: QtWidgets.QWidget, slack: int = 2) -> list[str]:
    """Pairs of visible sibling widgets that cover each other by more than ``slack`` px."""
    bad = []
    for parent in [root, *shown(root)]:
        kids = [
            c
            for c in parent.children()
            if isinstance(c, QtWidgets.QWidget)
            and c.isVisible()
            and not c.isWindow()
            and c.objectName() not in OVERLAYS
            and not isinstance(c, (QtWidgets.QRubberBand, QtWidgets.QSizeGrip))
            and c.width() > 0
        ]
        for i, a in enumerate(kids):
            for b in kids[i + 1 :]:
                r = a.geometry().intersected(b.geometry())
                if r.width() > slack and r.height() > slack:
                    bad.append(
                        f"{_name(a)} {a.geometry().getRect()} × {_name(b)} {b.geometry().getRect()}"
                    )
    return bad


def scene_texts(root: QtWidgets.QWidget) -> tuple[list[Text], list[str]]:
    """Text drawn in the visible graphics views (pyqtgraph plots, the autograd graph):
    (every line with its height on screen, the texts that stick out of their view)."""
    texts, outside = [], []
    for view in shown(root):
        if not isinstance(view, QtWidgets.QGraphicsView) or view.scene() is None:
            continue
        vp = view.viewport().rect().adjusted(-2, -2, 2, 2)
        vt = view.viewportTransform()
        for item in view.scene().items():
            if not item.isVisible() or item.effectiveOpacity() < 0.3:
                continue
            if isinstance(item, QtWidgets.QGraphicsTextItem):
                lines = _doc_lines(item.document())
                if not lines:
                    continue
                m = item.document().documentMargin()  # blank: the text itself must fit
                br = item.boundingRect().adjusted(m, m, -m, -m)
            elif isinstance(item, QtWidgets.QGraphicsSimpleTextItem):
                if not item.text().strip():
                    continue
                lines = [(item.text(), QtGui.QFontMetricsF(item.font()).height())]
                br = item.boundingRect()
            else:
                continue
            dt = item.deviceTransform(vt)
            k = (dt.m22() ** 2 + dt.m12() ** 2) ** 0.5  # the vertical scale (text may turn)
            k = k if k > 1e-6 else 1.0
            if abs(dt.m12()) > abs(dt.m22()):  # turned 90°: the horizontal scale
                k = (dt.m11() ** 2 + dt.m21() ** 2) ** 0.5
            where = f"{_name(view)}:{type(item).__name__}"
            texts += [Text(where, t, h * k) for t, h in lines]
            box = dt.mapRect(br).toAlignedRect()
            if not vp.contains(box):
                outside.append(f"{where} {lines[0][0]!r} at {box.getRect()} outside {vp.getRect()}")
        texts += _axis_texts(view)
    return texts, outside


def _axis_texts(view) -> list[Text]:
    """pyqtgraph axes paint their tick labels: their font, where values are shown."""
    if not isinstance(view, pg.GraphicsView):
        return []
    out = []
    for item in view.scene().items():
        if isinstance(item, pg.AxisItem) and item.isVisible() and item.style.get("showValues"):
            font = item.style.get("tickFont") or item.font()
            out.append(Text(f"{_name(view)}:axis", "ticks", QtGui.QFontMetricsF(font).height()))
    return out


def graph_node_texts(panel) -> list[Text]:
    """The autograd graph's boxes paint their text: its fonts at the view's zoom."""
    from nnviz.qt.graph_items import node_fonts

    view = panel.view if hasattr(panel, "view") else panel
    if not view.isVisible() or not view.items:
        return []
    zoom = view.transform().m22()
    return [
        Text("graph node", kind, QtGui.QFontMetricsF(f).height() * zoom)
        for kind, f in zip(("title", "subtitle", "value"), node_fonts(view.theme), strict=True)
    ]
