"""Drawing views offscreen to PNG or SVG (``nnviz render``, slides, tests)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnviz.core.errors import NnvizError

VIEWS = ("network", "graph", "loss", "all")


def save_widget(widget, path: Path) -> Path:
    """Save what a widget shows, as PNG (raster) or SVG (vector)."""
    from PySide6.QtCore import QPoint, QRect, QSize
    from PySide6.QtGui import QPainter

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.parent.exists():
        raise NnvizError(f"the folder {str(path.parent)!r} does not exist")
    if suffix == ".png":
        if not widget.grab().save(str(path), "PNG"):
            raise NnvizError(f"could not write {str(path)!r}")
    elif suffix == ".svg":
        from PySide6.QtSvg import QSvgGenerator

        gen = QSvgGenerator()
        gen.setFileName(str(path))
        size = widget.size()
        gen.setSize(QSize(size.width(), size.height()))
        gen.setViewBox(QRect(0, 0, size.width(), size.height()))
        gen.setTitle("nnviz")
        painter = QPainter(gen)
        try:
            widget.render(painter, QPoint(0, 0))
        finally:
            painter.end()  # a painter left active on the generator crashes Qt
    else:
        raise NnvizError(f"can only write .png or .svg files, not {suffix or 'no extension'!r}")
    return path


def _metrics_history(trainer, steps: int):
    """Train ``steps`` batches; the losses and evaluations along the way."""
    from nnviz.core.engine import train_for

    evals = []
    summary = train_for(
        trainer, steps=steps, on_step=lambda m: evals.append(m.eval) if m.eval else None
    )
    evals.append(trainer.evaluate())
    return summary, evals


def render_scenario(
    scenario_id: str,
    view: str,
    out: Path,
    steps: int | None = None,
    size: tuple[int, int] = (1600, 900),
    theme_name: str = "dark",
    data_dir: Path | None = None,
    seed: int = 0,
) -> Path:
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.theme import apply_theme, get_theme

    if view not in VIEWS:
        raise NnvizError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    sc = get_scenario(scenario_id)
    theme = get_theme(theme_name)
    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise NnvizError(f"can only write .png or .svg files, not {out.name!r}")
    app = make_app()
    apply_theme(app, theme)
    from PySide6.QtWidgets import QGridLayout, QWidget

    if not sc.trainable:
        if view not in ("graph", "all"):
            raise NnvizError(f"{sc.id} is an expression: only --view graph applies")
        from nnviz.qt.graph_panel import GraphPanel

        panel = GraphPanel(theme=theme)
        panel.set_scenario(sc)
        panel.show_expression(sc, midway=True)
        return _grab(app, panel, size, out)

    trainer = Trainer(sc, TrainConfig.for_scenario(sc, seed=seed), data_dir=data_dir)
    n = steps if steps is not None else min(trainer.steps_per_epoch * 5, 300)
    summary, evals = _metrics_history(trainer, n)
    snap = trainer.snapshot()
    parts = {}
    if view in ("network", "all"):
        from nnviz.qt.network_view import NetworkView

        net = NetworkView(theme=theme)
        net.set_snapshot(snap)
        parts["network"] = net
        if snap.field is not None:
            from nnviz.qt.boundary_view import BoundaryView

            bv = BoundaryView(theme=theme)
            ds = trainer.dataset
            pts = np.concatenate([ds.x_train, ds.x_val])
            lab = np.concatenate([ds.y_train.reshape(-1), ds.y_val.reshape(-1)])
            mask = np.r_[np.zeros(len(ds.x_train), bool), np.ones(len(ds.x_val), bool)]
            bv.set_points(pts, lab, mask)
            bv.set_snapshot(snap)
            parts["boundary"] = bv
    if view in ("loss", "all"):
        from nnviz.qt.loss_view import LossView

        lv = LossView(theme=theme)
        losses = np.asarray(summary.losses, dtype=np.float64)
        lv.append_train(np.arange(len(losses)), losses)
        for ev in evals:
            if ev is not None and math.isfinite(ev.val_loss):
                lv.append_eval(ev.step, ev.val_loss, ev.val_accuracy, ev.train_accuracy)
        lv.refresh()
        parts["loss"] = lv
    if view in ("graph",):
        from nnviz.qt.graph_panel import GraphPanel

        panel = GraphPanel(theme=theme)
        panel.set_scenario(sc)
        from nnviz.core.autograd_graph import capture_trainer_graph

        panel.set_trace(capture_trainer_graph(trainer))
        parts["graph"] = panel
    if len(parts) == 1:
        return _grab(app, next(iter(parts.values())), size, out)
    box = QWidget()
    grid = QGridLayout(box)
    grid.setContentsMargins(0, 0, 0, 0)
    if "boundary" in parts:
        grid.addWidget(parts["network"], 0, 0)
        grid.addWidget(parts["boundary"], 0, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
    else:
        grid.addWidget(parts["network"], 0, 0, 1, 2)
    if "loss" in parts:
        grid.addWidget(parts["loss"], 1, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
    return _grab(app, box, size, out)


def _grab(app, widget, size, out: Path) -> Path:
    widget.resize(*size)
    widget.show()
    for _ in range(3):
        app.processEvents()
    path = save_widget(widget, out)
    widget.close()
    return path
