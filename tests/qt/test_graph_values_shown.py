"""What the graph tab says about values it could not record, and about nodes
with several outputs: never "every value is shown" when one is missing."""

from __future__ import annotations

import torch

from nnviz.core.autograd_graph import capture_autograd_graph
from nnviz.qt.graph_panel import GraphPanel


def _trace(made_outside: bool):
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    pre = w + 1  # made before the capture: its value cannot be recovered

    def forward():
        base = pre if made_outside else w + 1
        return ((base + w) * w).unbind(0)[1]

    return capture_autograd_graph(forward, {"w": w})


def _end_text(panel: GraphPanel, trace) -> str:
    panel.set_trace(trace)
    panel.stepper.model.to_end()
    return panel.stepper.panel.text()


def test_the_stepper_claims_every_value_only_when_true(shown):
    panel = shown(GraphPanel(), 1200, 600)
    assert "every value and gradient is shown" in _end_text(panel, _trace(False))
    text = _end_text(panel, _trace(True))
    assert "every value" not in text
    assert "1 of 4 op values could not be recorded" in text
    assert "before the captured forward" in text


def test_a_node_says_why_it_has_no_value_and_shows_each_output(shown):
    panel = shown(GraphPanel(), 1200, 600)
    tr = _trace(True)
    panel.set_trace(tr)
    panel.view.expand_all()
    items = panel.view.items
    add = next(n for n in tr.missing_values())
    assert items[add.id].value_text.startswith("not recorded")
    assert "before the captured forward" in items[add.id].toolTip()
    unbind = next(n for n in tr.nodes.values() if n.op == "Unbind")
    tip = items[unbind.id].toolTip()
    assert all(f"output {k}:" in tip for k in range(3))
    assert items[unbind.id].grad_text == "1: 1"  # only output 1 is used: its gradient is 1
