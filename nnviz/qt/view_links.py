"""Linking the network view and the autograd graph by module.

The network view numbers layers as drawn (0 is the input, ``i`` ≥ 1 the
``i``-th Linear and its activation); the graph groups nodes by ``nn.Module``
path. ``LayerModuleLink`` translates between the two, so that selecting a
layer or a neuron highlights its nodes in the graph, and selecting a node or
a module box in the graph outlines its layer in the network.
"""

from __future__ import annotations

from PySide6 import QtCore


def layer_of_module(layer_modules: tuple[tuple[str, str | None], ...], path: str) -> int:
    """The drawn layer (≥ 1) whose Linear or activation is ``path`` or lies
    within it; -1 when none does."""
    if not path:
        return -1
    for i, mods in enumerate(layer_modules, start=1):
        for m in mods:
            if m is not None and (m == path or m.startswith(path + ".")):
                return i
    return -1


class LayerModuleLink(QtCore.QObject):
    def __init__(self, network, graph, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.network, self.graph = network, graph
        self.layer_modules: tuple[tuple[str, str | None], ...] = ()
        network.layerSelected.connect(self.on_layer_selected)
        graph.moduleSelected.connect(self.on_module_selected)

    def set_layers(self, layer_modules: tuple[tuple[str, str | None], ...]) -> None:
        self.layer_modules = tuple(layer_modules)

    @QtCore.Slot(int)
    def on_layer_selected(self, layer: int) -> None:
        if 1 <= layer <= len(self.layer_modules):
            self.graph.highlight_module([m for m in self.layer_modules[layer - 1] if m])
        else:
            self.graph.highlight_module("")
        self.network.highlight_layer(layer)

    @QtCore.Slot(str)
    def on_module_selected(self, path: str) -> None:
        self.network.highlight_layer(layer_of_module(self.layer_modules, path))
