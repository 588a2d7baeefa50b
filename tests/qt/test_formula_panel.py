"""The "Backprop in numbers" panel shows the chosen neuron's numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnviz.core import formulas as F
from nnviz.core.engine import Trainer
from nnviz.core.scenarios import get_scenario
from nnviz.qt.formula_panel import FormulaPanel
from nnviz.qt.theme import DARK, LIGHT
from nnviz.qt.view_protocol import View


@pytest.fixture(scope="module")
def deep():
    tr = Trainer(get_scenario("deep-mlp"))
    for _ in range(3):
        tr.step()
    return tr, tr.snapshot(sample_row=0), tr.snapshot(sample_row=1)


def test_panel_shows_the_chosen_neurons_numbers(qtbot, deep):
    tr, snap, _ = deep
    panel = FormulaPanel(DARK)
    qtbot.addWidget(panel)
    panel.set_loss("bce", tr.batch_size)
    panel.set_snapshot(snap)
    panel.select(1, 2)
    panel.show()
    text = panel.text()
    ls = snap.layers[0]
    assert "Layer 1" in text and "neuron 2" in text
    for v in (ls.z[2], ls.a[2], ls.da[2], ls.dz[2], 1 - float(ls.a[2]) ** 2):
        assert F.fmt(v) in text
    for w in ls.weight[2]:  # fan-in 3: every weight of the sum is on screen
        assert F.fmt(abs(float(w))) in text
    assert "dL/dz = dL/da · g'(z)" in text
    assert "dZ[1] = dA[1] ⊙ g'(Z[1])" in text and "(32×5)" in text
    # the output neuron: the loss is named and the seed's dz = (a − y)/m is shown
    panel.select(4, 0)
    text = panel.text()
    assert "binary cross-entropy" in text and "(a − y)/32" in text
    assert F.fmt(snap.layers[-1].dz[0]) in text


def test_colours_follow_the_theme_and_presenter_scale(qtbot, deep):
    tr, snap, _ = deep
    panel = FormulaPanel(LIGHT)
    qtbot.addWidget(panel)
    panel.set_loss("bce", tr.batch_size)
    panel.set_snapshot(snap)
    panel.select(2, 1)
    panel.show()
    html = panel.browser.toHtml().lower()
    assert LIGHT.backward.lower() in html and LIGHT.forward.lower() in html

    def biggest_pt() -> float:
        return max(float(v) for v in re.findall(r"font-size:([\d.]+)pt", panel.browser.toHtml()))

    small = biggest_pt()
    panel.set_theme(LIGHT.scaled(2.0))
    assert biggest_pt() == pytest.approx(2 * small, rel=0.02)


def test_renders_only_when_visible_and_something_changed(qtbot, deep):
    tr, snap, snap2 = deep
    panel = FormulaPanel(DARK)
    qtbot.addWidget(panel)
    panel.set_snapshot(snap)
    panel.select(1, 0)
    assert panel.render_count == 0  # hidden: nothing built
    panel.show()
    n = panel.render_count
    assert n == 1
    for _ in range(30):  # a 30 Hz timer re-sending the same snapshot and selection
        panel.set_snapshot(snap)
        panel.select(1, 0)
    assert panel.render_count == n
    panel.set_snapshot(snap2)
    assert panel.render_count == n + 1
    assert F.fmt(snap2.layers[0].z[0]) in panel.text()
    panel.hide()
    panel.set_snapshot(snap)
    assert panel.render_count == n + 1
    panel.show()
    assert panel.render_count == n + 2


def test_messages_for_no_selection_and_a_bad_one(qtbot, deep):
    _, snap, _ = deep
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert "waiting for a snapshot" in panel.text()
    panel.set_snapshot(snap)
    assert "click a neuron" in panel.text()
    panel.select(9, 0)
    assert "pick 1..4" in panel.text()
    panel.select(0, 1)
    assert F.fmt(float(np.asarray(snap.input)[1])) in panel.text()


def test_is_a_view_and_reset_forgets_snapshot_and_selection(qtbot, deep):
    from nnviz.core.history import History

    _, snap, _ = deep
    panel = FormulaPanel(theme=DARK, history=History())
    qtbot.addWidget(panel)
    assert isinstance(panel, View)
    panel.show()
    panel.set_snapshot(snap)
    panel.select(1, 0)
    n = panel.render_count
    panel.refresh()  # once a frame: nothing changed, nothing rebuilt
    assert panel.render_count == n
    assert F.fmt(snap.layers[0].z[0]) in panel.text()
    panel.reset()  # a new model
    assert "waiting for a snapshot" in panel.text() and panel.formulas() is None
    panel.set_snapshot(snap)
    assert "click a neuron" in panel.text()  # the old selection is gone
