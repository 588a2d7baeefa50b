"""Selecting a layer in the network view highlights its nodes in the graph, and
selecting a node or a module box in the graph outlines its layer."""

from __future__ import annotations

from nnviz.core.autograd_graph import capture_trainer_graph
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.scenarios import get_scenario
from nnviz.qt.graph_panel import GraphPanel
from nnviz.qt.network_view import NetworkView
from nnviz.qt.view_links import LayerModuleLink, layer_of_module


def test_module_paths_map_to_drawn_layers():
    mods = (("0", "1"), ("2", "3"), ("4", None))  # Linear, activation per layer
    assert [layer_of_module(mods, p) for p in ("0", "1", "3", "4", "9", "")] == [1, 1, 2, 3, -1, -1]
    nested = (("net.0", "net.1"), ("head", None))
    assert layer_of_module(nested, "net") == 1  # a parent module: its first layer


def test_network_and_graph_highlight_each_other(qtbot):
    sc = get_scenario("deep-mlp")
    tr = Trainer(sc, TrainConfig.for_scenario(sc))
    net, panel = NetworkView(), GraphPanel()
    for w in (net, panel):
        qtbot.addWidget(w)
    net.set_snapshot(tr.snapshot())
    panel.set_scenario(sc)
    panel.view.set_trace(capture_trainer_graph(tr), collapse=False)
    link = LayerModuleLink(net, panel)
    link.set_layers(tuple((layer.linear, layer.act) for layer in tr.layers))

    def lit() -> set[str]:
        nodes = panel.view.trace.nodes
        return {nodes[k].module for k, it in panel.view.items.items() if it.highlight}

    net.layerSelected.emit(2)  # the second hidden layer: Linear "2" and its activation "3"
    assert lit() == {"2", "3"}
    panel.view.moduleSelected.emit("4")  # the third Linear, chosen in the graph
    assert net.highlighted_layer == 3
    panel.view.moduleSelected.emit("loss")  # no layer of neurons: nothing outlined
    assert net.highlighted_layer == -1
