"""The "Autograd graph" tab as the app uses it: GraphPanel, driven by clicks.

The panel runs no torch: it asks for captures and gradient checks by signal,
and the tests answer as the worker does (capture here, hand the result back).
"""

from __future__ import annotations

import pytest
from PySide6 import QtCore

from nnviz.core.autograd_graph import capture_expression_graph, capture_trainer_graph
from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.gradcheck import gradcheck_scenario_expression
from nnviz.core.numfmt import fmt
from nnviz.core.scenarios import get_scenario
from nnviz.qt.graph_panel import GraphPanel

LEFT = QtCore.Qt.LeftButton


@pytest.fixture
def panel(shown):
    return shown(GraphPanel(), 1300, 760)


@pytest.fixture
def chain_panel(panel, qtbot):
    sc = get_scenario("chain-rule")
    panel.set_scenario(sc)
    with qtbot.waitSignal(panel.captureRequested, timeout=1000) as asked:
        panel.show_expression(sc)
    assert asked.args == [False]
    panel.set_trace(capture_expression_graph(sc))  # what the worker answers
    return panel


def click(qtbot, panel, key):
    qtbot.mouseClick(panel.stepper.buttons[key], LEFT)


def text(panel) -> str:
    return panel.stepper.panel.text()


def click_node(qtbot, panel, node_id):
    view = panel.view
    item = view.items[view.display_key(node_id)]
    view.centerOn(item)
    pt = view.mapFromScene(item.scenePos())
    qtbot.mouseClick(view.viewport(), LEFT, pos=pt)


def edge_labels(panel) -> set[str]:
    return {m.text() for m in panel.view._marks if hasattr(m, "text")}


def test_next_and_back_step_through_chain_rule_with_the_numbers(qtbot, chain_panel):
    p = chain_panel
    tr = p.trace
    m = p.stepper.model
    assert m.pos == 0 and "Press Next" in text(p)
    firsts = []
    for _ in range(m.n_forward):
        click(qtbot, p, "next")
        firsts.append(text(p).splitlines()[0])
    assert firsts[0].startswith("forward 1/") and any(": u = 6" in f for f in firsts)
    assert any(": v = 11" in f for f in firsts) and any(": L = 33" in f for f in firsts)

    click(qtbot, p, "next")  # backward 1: L = 3v
    assert text(p).startswith("backward 1/6: L")
    assert "passed on dL/dv = 3" in text(p)

    click(qtbot, p, "next")  # backward 2: v = a + u
    assert text(p).startswith("backward 2/6: v")
    assert "upstream dL/dv = 3  ×  local dv/du = 1  =  passed on dL/du = 3" in text(p)
    assert "upstream dL/dv = 3  ×  local dv/da = 1  =  passed on dL/da = 3" in text(p)

    click(qtbot, p, "next")  # backward 3: a accumulates
    assert "a is a leaf: its gradient accumulates, dL/da = 3" in text(p)

    click(qtbot, p, "next")  # backward 4: u = b·c
    t = text(p)
    assert t.startswith("backward 4/6: u (MulBackward0)")
    assert "upstream dL/du = 3  ×  local du/db = 2  =  passed on dL/db = 6" in t
    assert "upstream dL/du = 3  ×  local du/dc = 3  =  passed on dL/dc = 9" in t
    # the graph shows it too: u is the current node, its input edges carry 6 and 9
    u = p.view.items[tr.by_name("u").id]
    assert u.current == "backward" and u.grad_text == "3" and u.show_grad
    assert edge_labels(p) == {"dL/db = 6", "dL/dc = 9"}
    assert not p.view.items[tr.by_name("b").id].show_grad  # b's turn comes next

    click(qtbot, p, "back")  # steps back to a's accumulation
    assert text(p).startswith("backward 3/6: a")
    assert not p.view.items[tr.by_name("u").id].current
    assert edge_labels(p) == set()
    click(qtbot, p, "back")
    assert text(p).startswith("backward 2/6: v")

    for _ in range(4):
        click(qtbot, p, "next")
    assert m.pos == m.n_steps  # the last step autograd took: c accumulates 9
    assert text(p).startswith("backward 6/6: c") and "dL/dc = 9" in text(p)
    assert "Forward and backward done" in text(p)
    assert p.view.items[tr.by_name("c").id].current == "backward"
    assert p.view.items[tr.by_name("b").id].grad_text == "6"
    click(qtbot, p, "next")  # nothing further
    assert m.pos == m.n_steps


def test_run_stops_at_a_breakpoint_set_by_clicking_a_node(qtbot, chain_panel):
    p = chain_panel
    tr = p.trace
    m = p.stepper.model
    u = tr.by_name("u").id
    click_node(qtbot, p, u)
    assert p.stepper.selected == u
    click(qtbot, p, "bp")
    assert u in m.breakpoints
    click(qtbot, p, "start")
    click(qtbot, p, "run")  # stops at u's forward step
    assert m.current_node() == u and m.phase == "forward"
    assert ": u = 6" in text(p).splitlines()[0]
    click(qtbot, p, "run")  # then at u's backward step
    assert m.current_node() == u and m.phase == "backward"
    assert "passed on dL/db = 6" in text(p)
    click(qtbot, p, "run")  # no more breakpoints: to the end
    assert m.pos == m.n_steps
    click(qtbot, p, "bp")  # toggles off
    assert not m.breakpoints


def test_the_slider_seeks(qtbot, chain_panel):
    p = chain_panel
    m = p.stepper.model
    slider = p.stepper.slider
    assert slider.maximum() == m.n_steps
    slider.setValue(3)
    assert m.pos == 3 and text(p).startswith("forward 3/")
    slider.setFocus()
    qtbot.keyClick(slider, QtCore.Qt.Key_End)
    assert m.pos == m.n_steps and text(p).startswith("backward 6/6: c")
    qtbot.keyClick(slider, QtCore.Qt.Key_Left)
    assert m.pos == m.n_steps - 1 and text(p).startswith("backward 5/6: b")
    click(qtbot, p, "back")
    assert slider.value() == m.n_steps - 2  # the slider follows the buttons


def test_grad_check_button_asks_for_the_expression_check(qtbot, chain_panel):
    p = chain_panel
    table = p.stepper.table
    assert table.isHidden()
    with qtbot.waitSignal(p.gradCheckRequested, timeout=1000) as asked:
        click(qtbot, p, "check")
    assert asked.args == [[]]  # every leaf
    assert table.isHidden()  # nothing computed on the GUI thread
    p.show_gradcheck(gradcheck_scenario_expression(p.scenario, asked.args[0]))  # the worker
    assert table.isVisible() and table.rowCount() == 3
    rows = {
        table.item(i, 0).text(): (float(table.item(i, 2).text()), float(table.item(i, 3).text()))
        for i in range(3)
    }
    assert rows.keys() == {"a", "b", "c"}
    for name, want in (("a", 3.0), ("b", 6.0), ("c", 9.0)):
        autograd, numeric = rows[name]
        assert autograd == want and numeric == pytest.approx(want, rel=1e-6)
        assert float(table.item(list(rows).index(name), 4).text()) < 1e-6


def test_a_trainer_trace_shows_its_training_step_and_marks_the_loss_curve(qtbot, panel):
    sc = get_scenario("or-gate")
    trainer = Trainer(sc, TrainConfig.for_scenario(sc))
    for _ in range(3):
        trainer.step()
    trace = capture_trainer_graph(trainer)
    assert trace.train_step == 3
    panel.set_scenario(sc)
    assert "capturing" in panel.header.text()
    with qtbot.waitSignal(panel.stepInspected, timeout=1000) as got:
        panel.set_trace(trace)
    assert got.args == [3]
    header = panel.header.text()
    assert "OR gate" in header and "training step 3" in header and "backward steps" in header
    assert panel.capture.isVisible() and panel.scalar.isVisible()
    # every value and gradient is there at the end; the stepper starts there
    m = panel.stepper.model
    assert m.pos == m.n_steps
    bias = panel.view.items[trace.by_name("0.bias").id]
    assert bias.grad_text == fmt(float(trace.by_name("0.bias").grad[0]))
    # trainable scenarios ask the worker for the grad check (it owns the model)
    with qtbot.waitSignal(panel.gradCheckRequested, timeout=1000) as asked:
        click(qtbot, panel, "check")
    assert asked.args == [["0.weight", "0.bias"]]
    from nnviz.core.gradcheck import gradcheck_trainer

    panel.show_gradcheck(gradcheck_trainer(trainer, asked.args[0]))
    assert panel.stepper.table.rowCount() == 3


def test_scalar_checkbox_asks_for_a_scalar_capture(qtbot, panel):
    sc = get_scenario("or-gate")
    panel.set_scenario(sc)
    with qtbot.waitSignal(panel.captureRequested, timeout=1000) as got:
        qtbot.mouseClick(panel.scalar, LEFT, pos=QtCore.QPoint(8, panel.scalar.height() // 2))
    assert got.args == [True]
    with qtbot.waitSignal(panel.captureRequested, timeout=1000) as got:
        qtbot.mouseClick(panel.capture, LEFT)
    assert got.args == [True]  # "Capture this step" keeps the scalar choice
    # the worker answers with the scalar trace: every weight is its own box
    trainer = Trainer(sc, TrainConfig.for_scenario(sc))
    trace = capture_trainer_graph(trainer, scalar=True)
    panel.set_trace(trace)
    keys = set(panel.view.display_keys())
    for name in ("0.weight[0,0]", "0.weight[0,1]", "0.bias[0]"):
        assert trace.by_name(name).id in keys
    assert "scalar graph of 4 rows" in panel.header.text()
    # an expression scenario has nothing to capture
    panel.set_scenario(get_scenario("chain-rule"))
    assert not panel.capture.isVisible() and not panel.scalar.isVisible()


def test_an_expression_opens_at_the_start_or_midway_for_slides(qtbot, panel):
    sc = get_scenario("chain-rule")
    trace = capture_expression_graph(sc)
    panel.set_scenario(sc)
    panel.show_expression(sc)
    assert "capturing" in panel.header.text() and panel.trace is None
    panel.set_trace(trace)
    m = panel.stepper.model
    assert m.pos == 0 and "Press Next" in text(panel)
    assert "6 backward steps" in panel.header.text()
    panel.set_trace(trace, midway=True)  # what `nnviz render chain-rule` shows
    assert m.phase == "backward" and 0 < m.pos - m.n_forward < len(trace.steps)
    assert text(panel).startswith(f"backward {m.pos - m.n_forward}/6")
    panel.set_scenario(get_scenario("or-gate"))  # a model's trace opens at the end
    panel.set_trace(trace)
    assert m.pos == m.n_steps
