"""The one list of views: the main window and ``nnviz render`` both build
their views from it (adding a view is one new module and one line here).

Each entry names the view's class (imported when first made, so ``nnviz
render --view loss`` never loads the graph code) and where the main window
places it. Every view follows :class:`nnviz.qt.view_protocol.View` and takes
``theme=`` and ``history=`` keywords.
"""

from __future__ import annotations

import importlib
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

    def make(self, theme: Theme, history: History) -> View:
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)(theme=theme, history=history)


VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("network", "Network", "nnviz.qt.network_view:NetworkView", "network"),
    ViewSpec("boundary", "Decision boundary", "nnviz.qt.boundary_view:BoundaryView", "network"),
    ViewSpec("loss", "Loss", "nnviz.qt.loss_view:LossView", "below"),
    ViewSpec("graph", "Autograd graph", "nnviz.qt.graph_panel:GraphPanel", "tab"),
    ViewSpec(
        "formulas",
        "Backprop in numbers",
        "nnviz.qt.formula_panel:FormulaPanel",
        "dock",
        "The backprop formulas with the selected neuron's real numbers "
        "(click a neuron in the network)",
    ),
)
BY_NAME = {spec.name: spec for spec in VIEWS}


def make_views(theme: Theme, history: History, names=None) -> dict[str, View]:
    """The views named (all by default), in the list's order."""
    wanted = BY_NAME.keys() if names is None else set(names)
    return {s.name: s.make(theme, history) for s in VIEWS if s.name in wanted}
