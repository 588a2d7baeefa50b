"""The one list of views: the main window and ``nnviz render`` both build
their views from it (adding a view is one new module and one line here).

Each entry names the view's class (imported when first made, so ``nnviz
render --view loss`` never loads the graph code) and where the main window
places it. Every view follows :class:`nnviz.qt.view_protocol.View` and takes
``theme=`` and ``history=`` keywords.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from nnviz.core.history import History
from nnviz.qt.theme import Theme
from nnviz.qt.view_protocol import View


@dataclass(frozen=True)
class ViewSpec:
    name: str
    title: str
    target: str  # "module:Class"
    place: str  # "network" (the network tab), "below" (under the tabs), "tab", "dock"
    tooltip: str = ""
    # while training races, the view is redrawn at most this often: the eye
    # follows the network's colours at 30 Hz, a curve or a field at a few Hz
    racing_hz: float = 30.0

    def make(self, theme: Theme, history: History) -> View:
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)(theme=theme, history=history)


VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("network", "Network", "nnviz.qt.network_view:NetworkView", "network"),
    ViewSpec(
        "boundary", "Decision boundary", "nnviz.qt.boundary_view:BoundaryView", "network", "", 10
    ),
    ViewSpec("loss", "Loss", "nnviz.qt.loss_view:LossView", "below", "", 2),
    ViewSpec("graph", "Autograd graph", "nnviz.qt.graph_panel:GraphPanel", "tab"),
    ViewSpec(
        "formulas",
        "Backprop in numbers",
        "nnviz.qt.formula_panel:FormulaPanel",
        "dock",
        "The backprop formulas with the selected neuron's real numbers "
        "(click a neuron in the network)",
        10,
    ),
    # --- health (issue 12) ---
    ViewSpec(
        "distributions",
        "Distributions",
        "nnviz.qt.distribution_view:DistributionView",
        "tab",
        "Each layer's weights, gradients, activations or pre-activations over the steps",
        4,
    ),
    ViewSpec(
        "gradflow",
        "Gradient flow",
        "nnviz.qt.gradflow_view:GradFlowView",
        "tab",
        "Gradient size across depth, update ratios and dead or saturated units per layer",
        4,
    ),
    # --- end health (issue 12) ---
)
BY_NAME = {spec.name: spec for spec in VIEWS}


def make_views(theme: Theme, history: History, names=None) -> dict[str, View]:
    """The views named (all by default), in the list's order."""
    wanted = BY_NAME.keys() if names is None else set(names)
    return {s.name: s.make(theme, history) for s in VIEWS if s.name in wanted}


class ViewFeed:
    """Hands snapshots and refreshes to the views, each at its own pace while
    training races (``ViewSpec.racing_hz``), every time otherwise.

    A view the user cannot see (a tab not in front, a closed dock) is not
    drawn at all: it keeps the newest snapshot and draws it at its first frame
    back in sight. ``visible(view)`` says which; every view by default."""

    def __init__(self, views: dict[str, View], visible=None) -> None:
        self.views = views
        self._visible = visible if visible is not None else (lambda view: True)
        # three quarters of the period: frame timers jitter, and a view meant
        # for every frame must not skip one that came a millisecond early
        self._period = {name: 0.75 / BY_NAME[name].racing_hz for name in views}
        self._last = dict.fromkeys(views, -1e9)
        self._pending: dict[str, object] = {}

    def _due(self, name: str, racing: bool, now: float) -> bool:
        return not racing or now - self._last[name] >= self._period[name]

    def show(self, snap, racing: bool, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        for name, view in self.views.items():
            if self._due(name, racing, now) and self._visible(view):
                view.set_snapshot(snap)
                self._pending.pop(name, None)
            else:  # drawn at its next turn, so the newest always arrives
                self._pending[name] = snap

    def refresh(self, racing: bool, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        for name, view in self.views.items():
            if self._due(name, racing, now) and self._visible(view):
                snap = self._pending.pop(name, None)
                if snap is not None:
                    view.set_snapshot(snap)
                view.refresh()
                self._last[name] = now

    def reset(self) -> None:
        self._pending.clear()
        for view in self.views.values():
            view.reset()
