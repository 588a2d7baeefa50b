"""Drawing views offscreen to PNG or SVG (``nnviz render``, slides, tests)."""

from __future__ import annotations

from pathlib import Path

from nnviz.core.errors import NnvizError
from nnviz.qt.export import save_widget

# boundary: issue 11; the training-health views (issue 12) by their VIEWS names
HEALTH_VIEWS = ("distributions", "gradflow")
VIEWS = ("network", "boundary", "graph", "loss", *HEALTH_VIEWS, "all")


def train_for_render(
    scenario_id: str,
    steps: int | None,
    data_dir: Path | None = None,
    seed: int = 0,
    threads: int | None = None,
    model_file=None,  # model files (issue 9): a loaded ModelFile instead of the id's scenario
    weights: Path | None = None,  # (issue 9) a state_dict to start from
    health: bool = False,  # (issue 12) health reports for the health views
):
    """Train a scenario through the core run loop, as the app does; returns
    (run, info, history) with the final snapshot and evaluation in the history."""
    from nnviz.core import run as R
    from nnviz.core.engine import TrainConfig
    from nnviz.core.history import History
    from nnviz.core.scenarios import get_scenario
    from nnviz.core.threads import ThreadTuner

    sc = model_file.scenario if model_file is not None else get_scenario(scenario_id)  # issue 9
    history = History()
    run = R.Run(threads=ThreadTuner(fixed=threads))
    built: list = []

    def keep(ev) -> None:
        if isinstance(ev, R.Built):
            built.append(ev.info)
            history.clear()
            history.metrics.set_steps_per_epoch(ev.info.steps_per_epoch)
        elif isinstance(ev, R.Metrics):
            history.metrics.append_metrics(ev)
        elif isinstance(ev, R.SnapshotReady):
            history.snapshots.add(ev.snapshot)

    config = TrainConfig.for_scenario(sc, seed=seed)
    run.submit(R.Configure(sc, config, data_dir, model_file=model_file, weights=weights))
    run.drive(keep)
    info = built[-1]
    n = steps if steps is not None else min(info.steps_per_epoch * 5, 300)
    if health and run.trainer is not None:  # about 100 reports over the run, as `train` takes
        from nnviz.core.health import headless_every

        run.trainer.health_every = headless_every(max(n, 1))
    if n > 0:
        run.submit(R.Step(n))
        run.drive(keep)  # commands take effect at once: the steps first, then the rest
    run.submit(R.Evaluate())
    run.submit(R.RequestSnapshot())  # the model after its last step
    run.drive(keep)
    return run, info, history


def render_scenario(
    scenario_id: str,
    view: str,
    out: Path,
    steps: int | None = None,
    size: tuple[int, int] = (1600, 900),
    theme_name: str = "dark",
    data_dir: Path | None = None,
    seed: int = 0,
    threads: int | None = None,
    model_file=None,  # model files (issue 9)
    weights: Path | None = None,
    presenter: bool = False,  # issue 11: at presenter mode's scale for this size
    backward_step: int | None = None,  # issue 9: the graph part-way through backward
    health_overlay: bool = False,  # issue 12: the network view's gradient-health overlay
) -> Path:
    from nnviz.core.scenarios import get_scenario
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.theme import apply_theme, get_theme
    from nnviz.qt.views import make_views

    if view not in VIEWS:
        raise NnvizError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    sc = model_file.scenario if model_file is not None else get_scenario(scenario_id)  # issue 9
    theme = get_theme(theme_name)
    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise NnvizError(f"can only write .png or .svg files, not {out.name!r}")
    if backward_step is not None and view != "graph":  # issue 9
        raise NnvizError("--backward-step draws the autograd graph: add --view graph")
    app = make_app()
    if presenter:  # --- animated export (issue 11) ---
        from nnviz.qt.animated_stage import stage_theme

        theme = stage_theme(theme_name, True, size)
    apply_theme(app, theme)
    from PySide6.QtWidgets import QGridLayout, QWidget

    if not sc.trainable:
        if view not in ("graph", "all"):
            raise NnvizError(f"{sc.id} is an expression: only --view graph applies")
        from nnviz.core.autograd_graph import capture_expression_graph
        from nnviz.core.history import History

        panel = make_views(theme, History(), ["graph"])["graph"]
        panel.set_scenario(sc)
        panel.set_trace(capture_expression_graph(sc), midway=backward_step is None)
        if backward_step is not None:  # issue 9
            return _backward(panel, out, backward_step, size)
        return _grab(app, panel, size, out)

    run, info, history = train_for_render(
        scenario_id,
        steps,
        data_dir,
        seed,
        threads,
        model_file=model_file,
        weights=weights,
        health=view in HEALTH_VIEWS or health_overlay,
    )
    snap = history.snapshots.latest
    names = {"network": ["network", "boundary"], "loss": ["loss"], "graph": ["graph"]}
    names["boundary"] = ["boundary"]  # issue 11
    names.update({v: [v] for v in HEALTH_VIEWS})
    names = names.get(view, ["network", "boundary", "loss"])
    if info.points is None and "boundary" in names:
        names.remove("boundary")
    parts = make_views(theme, history, names)
    for name, v in parts.items():
        v.reset()
        if name == "boundary":
            v.set_points(info.points, info.labels, info.test_mask)
        if name == "graph":
            from nnviz.core.autograd_graph import capture_trainer_graph

            v.set_scenario(sc)
            v.set_trace(capture_trainer_graph(run.trainer))
        v.set_snapshot(snap)
        v.refresh()
        if name == "network" and health_overlay:  # issue 12
            v.health_overlay.set_enabled(True)
    if not parts:  # issue 11: --view boundary of a set without 2-D points
        raise NnvizError(f"{sc.id} has no 2-D points to draw a boundary; choose --view network")
    if backward_step is not None:  # issue 9
        return _backward(parts["graph"], out, backward_step, size)
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


def _backward(panel, out: Path, k: int, size) -> Path:
    """Issue 9: the graph at backward step ``k``, unfolded around the current node."""
    from nnviz.qt.render_graph import render_backward

    return render_backward(panel, out, k, size).path


def _grab(app, widget, size, out: Path) -> Path:
    widget.resize(*size)
    widget.show()
    for _ in range(3):
        app.processEvents()
    path = save_widget(widget, out)
    widget.close()
    return path
