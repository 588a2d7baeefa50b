"""The graph view and the backprop step-through (offscreen)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from nnviz.core.autograd_graph import (
    capture_autograd_graph,
    capture_scenario_graph,
    capture_trainer_graph,
)
from nnviz.qt.backprop_stepper import StepModel, StepThroughWidget, chain_rule_lines
from nnviz.qt.graph_items import fmt_num
from nnviz.qt.graph_render import render_graph
from nnviz.qt.graph_view import MOD_PREFIX, GraphView
from nnviz.qt.theme import LIGHT


@pytest.fixture(scope="module")
def chain():
    return capture_scenario_graph("chain-rule")


def panel_at(w, node_name):
    tr = w.model.trace
    nid = tr.by_name(node_name).id
    w.model.seek(len(tr.forward_order) + tr.backward_order.index(nid) + 1)
    return w.panel.text()


def test_step_through_chain_rule_forward_then_backward(qtbot, chain):
    w = StepThroughWidget()
    qtbot.addWidget(w)
    w.set_trace(chain)
    w.buttons["start"].click()
    assert w.model.pos == 0
    seen = []
    for _ in range(len(chain.forward_order)):
        w.buttons["next"].click()
        seen.append(w.panel.text().splitlines()[0])
    assert any("u = 6" in s for s in seen) and any("v = 11" in s for s in seen)
    assert any("L = 33" in s for s in seen)
    w.buttons["next"].click()  # first backward step: L = 3v
    assert "dL/dv = 3" in w.panel.text()
    text = panel_at(w, "v")
    assert "upstream dL/dv = 3  ×  local dv/du = 1  =  passed on dL/du = 3" in text
    assert "local dv/da = 1" in text
    text = panel_at(w, "u")
    assert "upstream dL/du = 3  ×  local du/db = 2  =  passed on dL/db = 6" in text
    assert "upstream dL/du = 3  ×  local du/dc = 3  =  passed on dL/dc = 9" in text
    # the view highlights the node of the current step and shows its gradient
    item = w.view.items[chain.by_name("u").id]
    assert item.current and item.show_grad and item.grad_text == "3"
    assert not w.view.items[chain.by_name("b").id].show_grad  # not reached yet
    w.buttons["back"].click()
    assert not w.view.items[chain.by_name("u").id].current
    w.buttons["end"].click()
    assert w.view.items[chain.by_name("c").id].grad_text == "9"
    assert w.slider.value() == w.model.n_steps


def test_slider_and_breakpoints(qtbot, chain):
    w = StepThroughWidget()
    qtbot.addWidget(w)
    w.set_trace(chain)
    w.slider.setValue(3)
    assert w.model.pos == 3
    m = w.model
    m.seek(0)
    m.toggle_breakpoint(chain.by_name("u").id)
    assert m.run() and m.current_node() == chain.by_name("u").id and m.phase == "forward"
    assert m.run() and m.phase == "backward" and m.current_node() == chain.by_name("u").id
    assert not m.run() and m.pos == m.n_steps


def test_break_on_nan():
    x = torch.tensor([1.0, 0.0], requires_grad=True)
    tr = capture_autograd_graph(lambda: (x.sqrt() * 0 + x).sum(), {"x": x})
    m = StepModel(tr)
    m.to_backward()
    m.seek(0)
    m.break_on_nonfinite = True
    assert m.run()
    step = m.current_step()
    assert step is not None
    arrays = [*step.upstream, *(e.passed_on for e in step.passed)]
    assert any(not np.all(np.isfinite(a)) for a in arrays if a is not None)


def test_chain_rule_lines_for_leaves(chain):
    step = chain.step_of(chain.by_name("b").id)
    assert chain_rule_lines(chain, step) == ["b is a leaf: its gradient accumulates, dL/db = 6"]


def test_mnist_grouped_by_module_is_a_handful_of_boxes(qtbot):
    tr = capture_scenario_graph("mnist-mlp")
    v = GraphView()
    qtbot.addWidget(v)
    got = []
    v.moduleSelected.connect(got.append)
    v.set_trace(tr)
    keys = v.display_keys()
    assert 5 <= len(keys) <= 9
    assert sum(k.startswith(MOD_PREFIX) for k in keys) == 6  # 5 layers and the loss
    assert v.items[MOD_PREFIX + "1"].title == "1: Linear"
    assert v.items[MOD_PREFIX + "loss"].title == "loss: CrossEntropyLoss"
    v._clicked(MOD_PREFIX + "3")
    assert got == ["3"]
    v.toggle_module("1")  # expands: its weight, bias, T and Addmm appear
    assert len(v.display_keys()) == len(keys) + 3
    v.highlight_module("1")
    assert sum(i.highlight for i in v.items.values()) == 4
    assert v.search("NllLoss") is not None


def test_search_zoom_theme(qtbot, chain):
    v = GraphView(theme=LIGHT)
    qtbot.addWidget(v)
    v.set_trace(chain)
    sel = []
    v.nodeSelected.connect(sel.append)
    assert v.search("c") == chain.by_name("c").id and sel
    s = v.transform().m11()
    v.zoom(1.25)
    assert math.isclose(v.transform().m11(), s * 1.25)
    v.set_theme(LIGHT)
    assert len(v.items) == len(chain.nodes)


def test_gradcheck_button_fills_the_table(qtbot):
    from nnviz.core.engine import Trainer
    from nnviz.core.gradcheck import gradcheck_trainer
    from nnviz.core.scenarios import get_scenario

    t = Trainer(get_scenario("or-gate"))
    w = StepThroughWidget()
    qtbot.addWidget(w)
    w.set_trace(capture_scenario_graph("or-gate"))
    w.gradcheck_fn = lambda names: gradcheck_trainer(t, names)
    w.buttons["check"].click()
    assert w.table.rowCount() == 3
    assert float(w.table.item(0, 4).text()) < 1e-6


@pytest.mark.allow_leaks("render_graph is one-shot: its offscreen panel ends with the process")
def test_render_png_and_svg(tmp_path, qapp, chain):
    png = render_graph(chain, tmp_path / "g.png", size=(800, 500), step=9)
    assert png.stat().st_size > 5000
    svg = render_graph(chain, tmp_path / "g.svg", size=(800, 500))
    assert "<svg" in svg.read_text()[:2000]


def test_nested_modules_collapse_without_cycles(qtbot):
    from torch import nn

    from nnviz.core.autograd_graph import capture_module_graph

    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True, dropout=0.0)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    tr = capture_module_graph(model, torch.randn(1, 3, 8))
    v = GraphView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    boxes = sorted(k for k in v.display_keys() if k.startswith(MOD_PREFIX))
    assert boxes == [MOD_PREFIX + "layers.0", MOD_PREFIX + "layers.1"]
    v.expand_all()
    assert len(v.display_keys()) == len(tr.nodes)


def test_logistic_regression_panel_shows_dz_is_a_minus_y():
    from nnviz.core.engine import Trainer
    from nnviz.core.scenarios import get_scenario

    t = Trainer(get_scenario("logistic-regression"))
    _, y = t.sample_batch()
    for scalar, m in ((False, 20), (True, 4)):
        tr = capture_trainer_graph(t, scalar=scalar)
        sig = next(s for s in tr.steps if tr.nodes[s.node].op == "Sigmoid")
        lines = chain_rule_lines(tr, sig)
        (line,) = [ln for ln in lines if "binary cross-entropy" in ln]
        assert f"= (a − y)/{m}, the lecture's dz = a − y" in line
        a = tr.nodes[sig.node].value
        if not scalar:  # the first rows' a − y, as the data says
            want = (a - y.numpy()).reshape(-1)[:4]
            assert "= [" + ", ".join(fmt_num(float(v)) for v in want) + ", …]" in line
        else:
            r = int(tr.nodes[sig.node].name[3])  # a1[r,0]
            assert line.endswith(f"= {fmt_num(float(a) - float(y[r, 0]))}")
    # no such line where it does not apply
    chain = capture_scenario_graph("chain-rule")
    assert not any("cross-entropy" in ln for s in chain.steps for ln in chain_rule_lines(chain, s))


def test_scalar_graph_shows_every_weight_in_compact_boxes(qtbot):
    from nnviz.core.engine import Trainer
    from nnviz.core.scenarios import get_scenario

    tr = capture_trainer_graph(Trainer(get_scenario("or-gate")), scalar=True)
    v = GraphView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    assert len(v.display_keys()) == len(tr.nodes)  # not folded into layer boxes
    assert v.compact and v.legend.isVisibleTo(v)
    w = v.items[tr.by_name("0.weight[0,0]").id]
    assert w.is_param and w.title == "0.weight[0,0]"
    boxes = [item.sceneBoundingRect() for item in v.items.values()]
    for i, a in enumerate(boxes):  # nothing overlaps
        assert not any(a.adjusted(6, 6, -6, -6).intersects(b) for b in boxes[i + 1 :])
    v.collapse_all()  # grouping by layer still works on request
    assert {MOD_PREFIX + "0", MOD_PREFIX + "1"} <= set(v.display_keys())


def test_current_step_marks_its_edges_with_the_gradients(qtbot, chain):
    v = GraphView()
    qtbot.addWidget(v)
    v.set_trace(chain)
    nf = len(chain.forward_order)
    v.set_current_step(nf + chain.backward_order.index(chain.by_name("v").id) + 1)
    labels = {m.text() for m in v._marks if hasattr(m, "text")}
    assert labels == {"dL/da = 3", "dL/du = 3"}
    v.set_current_step(2)  # a forward step: the node in the forward colour, no labels
    assert v.items[chain.forward_order[1]].current == "forward" and not v._marks


def test_graph_views_import_no_torch():
    """The views read frozen numpy traces; torch stays in the worker (DESIGN.md 1)."""
    script = (
        "import json, sys\n"
        "import nnviz.qt.graph_panel, nnviz.qt.graph_view, nnviz.qt.graph_items\n"
        "import nnviz.qt.backprop_stepper, nnviz.qt.graph_render\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
