"""The distribution and gradient-flow views draw the health history's series."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtCore

from nnviz.core.health import BinRange, distribution
from nnviz.core.health_types import KINDS, UPDATE_BAND, HealthReport, LayerHealth
from nnviz.core.health_warnings import health_warnings
from nnviz.core.history import History
from nnviz.qt.distribution_view import MAX_RIDGES, DistributionView, ridge_picks
from nnviz.qt.gradflow_view import GradFlowView
from nnviz.qt.session import Session
from nnviz.qt.theme import DARK
from nnviz.qt.view_protocol import View
from nnviz.qt.views import BY_NAME, make_views

N_LAYERS = 3
GRAD_NORMS = (1e-7, 1e-3, 1e-1)  # layer 1 vanishing


def fill(history: History, n_steps: int = 60, every: int = 5) -> None:
    """Reports as the engine makes them: layer j's weights ~ N(j, 1), growing wider."""
    rng = np.random.default_rng(0)
    bins: dict = {}
    prev: list[HealthReport] = []
    for step in range(0, n_steps, every):
        layers = []
        for j in range(N_LAYERS):
            dists = []
            for kind in KINDS:
                b = bins.setdefault((j, kind), BinRange())
                values = rng.normal(j, 1 + step / n_steps, size=200)
                dists.append(distribution(values, b))
            layers.append(
                LayerHealth(
                    f"{2 * j}", "relu" if j < 2 else "sigmoid", 8, GRAD_NORMS[j], 2 * GRAD_NORMS[j],
                    1.0, 10.0 ** (-3 + j), 0.25 * j if j < 2 else None, 0.5 if j == 2 else None,
                    tuple(dists),
                )
            )  # fmt: skip
        layers = tuple(layers)
        report = HealthReport(step, layers, health_warnings(layers, prev))
        prev.append(report)
        history.snapshots.add(_snap(step, report))


def _snap(step, report):
    from nnviz.core.snapshot import Snapshot

    z = np.zeros(1)
    return Snapshot(step, 0, 0.1, 0, 0, z, (1,), z, z, (), health=report)


@pytest.fixture
def history():
    h = History()
    fill(h)
    return h


def test_the_views_are_listed_and_follow_the_protocol(qtbot, history):
    assert BY_NAME["distributions"].place == "tab" and BY_NAME["gradflow"].place == "tab"
    views = make_views(DARK, history, ["distributions", "gradflow"])
    assert set(views) == {"distributions", "gradflow"}
    for v in views.values():
        qtbot.addWidget(v)
        assert isinstance(v, View)


def test_ridges_draw_each_layers_histograms_at_their_steps(shown, history):
    view = shown(DistributionView(history=history), 1600, 900)
    view.refresh()
    assert len(view._plots) == N_LAYERS
    steps = history.health.steps
    for j, lp in enumerate(view._plots):
        ridges = lp.ridges
        assert len(ridges) == min(len(steps), MAX_RIDGES)
        assert len(lp.shapes.shapes) == len(ridges)  # one painted shape each
        for (step, _x, y), want in zip(ridges, steps):
            assert step == want
            assert y.max() == pytest.approx(step)  # a ridge rises from its step (y grows down)
            assert y.min() < step
        # the newest ridge is the newest weights histogram, in its own bins
        _, x, _ = ridges[-1]
        d = history.health.latest.layers[j].dist("weight")
        assert x[0] == pytest.approx(d.edges[0]) and x[-1] == pytest.approx(d.edges[-1])
        np.testing.assert_allclose(x[1:-1], 0.5 * (d.edges[:-1] + d.edges[1:]))
    assert "layer 1: 0 (relu)" in view._plots[0].plot.titleLabel.text


def test_ridges_stay_put_as_reports_arrive():
    """At most MAX_RIDGES ridges, the first and the newest always among them;
    a new report keeps the older ridges where they are (they are drawn from
    cache), except when the spacing between ridges grows."""
    moved = 0
    for n in range(2, 1500):
        before, after = ridge_picks(n), ridge_picks(n + 1)
        assert len(after) <= MAX_RIDGES and after[0] == 0 and after[-1] == n
        if set(before[:-1]) - set(after):
            moved += 1
    assert moved <= 1500 / (MAX_RIDGES - 1) + 1


def test_kinds_switch_and_bands_are_the_percentiles(shown, history):
    view = shown(DistributionView(history=history), 1200, 700)
    view.set_kind("grad")
    view.set_mode("bands")
    view.refresh()
    lp = view._plots[1]
    steps = history.health.steps
    want = np.array([r.layers[1].dist("grad").percentiles for r in history.health])
    np.testing.assert_allclose(lp.bands["steps"], steps)
    np.testing.assert_allclose(lp.bands["percentiles"], want)
    # four nested bands (min–max outermost), then the median line
    assert len(lp.shapes.shapes) == 5
    x, y, _pen, _brush = lp.shapes.shapes[0]
    np.testing.assert_allclose(y[: len(steps)], want[:, 0])
    np.testing.assert_allclose(y[len(steps) :], want[::-1, -1])
    np.testing.assert_allclose(lp.shapes.shapes[-1][1], want[:, 4])
    with pytest.raises(ValueError):
        view.set_kind("nope")


def _click(qtbot, canvas, vb, x, y):
    scene = vb.mapViewToScene(QtCore.QPointF(x, y))
    pos = canvas.mapFromScene(scene)
    qtbot.mouseClick(canvas.viewport(), QtCore.Qt.LeftButton, pos=pos)


@pytest.mark.parametrize("mode", ["ridges", "bands"])
def test_a_click_on_a_step_emits_it(shown, qtbot, history, mode):
    view = shown(DistributionView(history=history), 1200, 700)
    view.set_mode(mode)
    view.refresh()
    qtbot.wait(10)
    vb = view._plots[0].plot.getViewBox()
    d = history.health.latest.layers[0].dist("weight")
    mid = float(d.edges[len(d.edges) // 2])
    x, y = (mid, 19.0) if mode == "ridges" else (21.0, mid)
    with qtbot.waitSignal(view.stepClicked, timeout=2000) as sig:
        _click(qtbot, view.canvas, vb, x, y)
    # ridges: the ridge rising above the point (step 20); bands: the nearest step (20)
    assert sig.args == [20]


def test_the_time_travel_marker_follows_the_snapshot(shown, history):
    view = shown(DistributionView(history=history), 800, 600)
    view.refresh()
    view.set_snapshot(_snap(25, None))
    assert all(lp.marker.isVisible() and lp.marker.value() == 25 for lp in view._plots)
    view.set_snapshot(None)
    assert not any(lp.marker.isVisible() for lp in view._plots)


def test_gradflow_draws_norms_across_depth_on_a_log_axis(shown, history):
    view = shown(GradFlowView(history=history), 1600, 900)
    view.refresh()
    x, y = view.norm_curve.getData()
    np.testing.assert_allclose(x, [1, 2, 3])
    assert view.depth_plot.getAxis("left").logMode
    # pyqtgraph keeps the data; on a log axis it draws log10 of it
    np.testing.assert_allclose(view.norm_curve.yData, GRAD_NORMS)
    np.testing.assert_allclose(view.max_curve.yData, 2 * np.array(GRAD_NORMS))
    assert "vanishing" in view.warnings.text()


def test_update_ratios_over_time_with_the_band_and_flags(shown, history):
    view = shown(GradFlowView(history=history), 1600, 900)
    view.refresh()
    assert view.ratio_plot.getAxis("left").logMode
    lo, hi = view.band.getRegion()
    assert (lo, hi) == pytest.approx((math.log10(UPDATE_BAND[0]), math.log10(UPDATE_BAND[1])))
    assert view.good_line.value() == pytest.approx(-3.0)  # 1e-3
    steps = history.health.steps
    for j, curve in enumerate(view.ratio_curves[:N_LAYERS]):
        np.testing.assert_allclose(curve.xData, steps)
        np.testing.assert_allclose(curve.yData, 10.0 ** (-3 + j))
    # layer 3 updates 0.1 of its weights a step: not flagged (< 0.3); layer 1 is (vanishing)
    assert 1 in view.flagged and 3 not in view.flagged
    labels = [label.text for _, label in view.ratio_legend.items]
    assert labels[0].startswith("⚠") and not labels[2].startswith("⚠")
    assert view.ratio_curves[0].opts["pen"].widthF() > view.ratio_curves[2].opts["pen"].widthF()


def test_dead_and_saturated_units_per_layer(shown, history):
    view = shown(GradFlowView(history=history), 1200, 700)
    view.refresh()
    np.testing.assert_allclose(view.dead_bars.opts["height"], [0.0, 25.0, 50.0])


def test_a_click_on_the_update_ratios_emits_the_step(shown, qtbot, history):
    view = shown(GradFlowView(history=history), 1200, 700)
    view.refresh()
    qtbot.wait(10)
    with qtbot.waitSignal(view.stepClicked, timeout=2000) as sig:
        _click(qtbot, view.canvas, view.ratio_plot.getViewBox(), 34.0, -3.0)
    assert sig.args == [35]


def test_empty_history_says_so(shown):
    d = shown(DistributionView(history=History()), 600, 400)
    g = shown(GradFlowView(history=History()), 600, 400)
    d.refresh()
    g.refresh()
    assert "No health numbers yet" in d.note.text() and "No health numbers yet" in g.warnings.text()


def test_the_status_line_names_the_warning(history):
    fake = SimpleNamespace(
        recording=None, viewing=None, last_loss=0.5, step=60, epoch=1, playing=False, rate=0.0,
        _full_speed=True, history=history,
    )  # fmt: skip
    text = Session.status_text(fake)
    assert "⚠ layer 1: gradients 1e-6 of the output layer's — vanishing" in text
