"""Under the Playground preset the window names the loss it trains with (issue 11
follow-up): the settings' loss box and "Backprop in numbers" say ½·MSE (mean),
and the output's dL/da is (a − y)/10, autograd's, not MSE's 2(a − y)/20."""

from __future__ import annotations

import pytest

from nnviz.core import formulas as F
from tests.qt.test_main_window import open_app, rebuilt  # noqa: F401


def test_preset_shows_half_mse_in_the_loss_box_and_the_formulas(open_app, qtbot):  # noqa: F811
    w = open_app("circle")
    rebuilt(qtbot, w, lambda: w.controls.playground.preset.click())
    assert w.session.config.loss == "half_mse"
    assert w.controls.loss.currentText() == "½·MSE (mean)"
    assert w.controls.loss.currentData() == "half_mse"
    snap = w.network.snapshot
    panel = w.formulas
    panel.set_snapshot(snap)
    panel.select(3, 0)  # the tanh output
    text = panel.text()
    assert "½·MSE (mean)" in text and "batch m = 10" in text
    assert "dL/da = (a − y)/10 = (" in text and "2(a − y)" not in text
    a, t = float(snap.layers[-1].a[0]), float(snap.target[0])
    assert abs(t) == 1  # the label ±1 the loss compares with
    da = panel.formulas().line("da").value
    assert da == pytest.approx((a - t) / 10, rel=1e-5)
    assert da == pytest.approx(float(snap.layers[-1].da[0]), rel=1e-6)  # autograd's hook
    assert F.fmt(da) in text
