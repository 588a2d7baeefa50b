"""A trace drawn offscreen to PNG or SVG, as the app's graph tab shows it."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from nnviz.core.trace import AutogradTrace
from nnviz.qt.bootstrap import make_app
from nnviz.qt.export import save_widget
from nnviz.qt.graph_panel import GraphPanel
from nnviz.qt.theme import DARK, Theme


def render_graph(
    trace: AutogradTrace,
    path: str | Path,
    size: tuple[int, int] = (1600, 900),
    theme: Theme = DARK,
    step: int | None = None,
) -> Path:
    """Draw ``trace`` to a PNG or SVG file with the chain-rule panel at
    step-through position ``step`` (default: the end)."""
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
    try:
        return save_widget(w, Path(path), title="nnviz autograd graph")
    finally:
        w.close()
