"""The layered layout: left to right, ordered, deterministic, few crossings."""

from __future__ import annotations

import networkx as nx
import numpy as np

from nnviz.core.autograd_graph import OUTPUT_ID, capture_scenario_graph
from nnviz.core.graph_layout import _count_crossings, layered_layout


def test_edges_run_left_to_right_and_nodes_do_not_overlap():
    tr = capture_scenario_graph("mnist-mlp")
    lay = layered_layout(tr.graph)
    for u, v in tr.graph.edges:
        assert lay.position(u)[0] < lay.position(v)[0]
    pts = {(round(x, 6), round(y, 6)) for x, y in lay.pos}
    assert len(pts) == len(lay.nodes)
    assert lay.position(OUTPUT_ID)[0] == lay.pos[:, 0].max()
    assert lay.crossings == 0


def test_deterministic():
    tr = capture_scenario_graph("chain-rule")
    a, b = layered_layout(tr.graph), layered_layout(tr.graph)
    np.testing.assert_array_equal(a.pos, b.pos)
    tr2 = capture_scenario_graph("chain-rule")
    np.testing.assert_array_equal(layered_layout(tr2.graph).pos, a.pos)


def test_parameters_sit_next_to_their_consumer():
    tr = capture_scenario_graph("mnist-mlp")
    lay = layered_layout(tr.graph)
    for n in tr.nodes.values():
        if n.kind == "leaf":
            (consumer,) = tr.graph.successors(n.id)
            assert lay.position(consumer)[0] - lay.position(n.id)[0] == 1


def test_long_edges_are_routed_through_every_layer_they_cross():
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
    lay = layered_layout(g)
    pts = lay.edge_points[("a", "d")]
    assert len(pts) == 4 and np.all(np.diff(pts[:, 0]) > 0)


def test_crossings_counted_and_not_worse_than_the_start():
    assert _count_crossings(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 1
    assert _count_crossings(np.array([0.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.0])) == 3
    # K(3,3)-like tangle in a bad initial order
    g = nx.DiGraph()
    g.add_edges_from([("s", f"a{i}") for i in range(4)])
    g.add_edges_from([(f"a{i}", f"b{3 - i}") for i in range(4)])
    g.add_edges_from([(f"b{i}", "t") for i in range(4)])
    lay = layered_layout(g)
    assert lay.crossings <= lay.crossings_initial
    assert lay.crossings == 0


def test_empty_graph():
    assert layered_layout(nx.DiGraph()).pos.shape == (0, 2)
