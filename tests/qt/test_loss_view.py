"""The live loss view: smoothing, log scale, long runs, NaN, marker, hover.

Each test fills a :class:`~nnviz.core.history.MetricsHistory` (the session's
job) and asks the view to refresh, as the frame clock does.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtCore

from nnviz.core.history import History
from nnviz.core.smoothing import ema_debiased
from nnviz.qt.loss_view import LossView
from nnviz.qt.theme import LIGHT
from nnviz.qt.view_protocol import View


@pytest.fixture
def history():
    return History()


@pytest.fixture
def metrics(history):
    return history.metrics


@pytest.fixture
def view(shown, history):
    return shown(LossView(history=history), 1000, 450)


def noisy_loss(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.1 + 2.0 * np.exp(-np.arange(n) / (n / 5)) * np.exp(rng.normal(0, 0.3, n))


def drawn(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getOriginalDataset()
    return (np.asarray(x), np.asarray(y)) if x is not None else (np.empty(0), np.empty(0))


def test_smoothing_slider_draws_the_ema(view, metrics):
    loss = noisy_loss(600)
    metrics.append_train(np.arange(600), loss)
    view.refresh()
    view.smooth_slider.setValue(950)  # the user drags the slider to 0.95
    assert view.smoothing == pytest.approx(0.95)
    x, y = drawn(view.train_smooth)
    np.testing.assert_allclose(x, np.arange(600))
    np.testing.assert_allclose(y, ema_debiased(loss, 0.95), rtol=1e-9)
    assert y[0] == pytest.approx(loss[0])  # debiased: starts at the first raw value
    assert np.std(np.diff(y)) < 0.2 * np.std(np.diff(loss))
    # the raw curve stays, faint, behind the smoothed one
    assert view.train_raw.isVisible()
    np.testing.assert_allclose(drawn(view.train_raw)[1], loss)
    assert view.train_raw.opts["pen"].color().alpha() < 128
    assert view.train_raw.zValue() < view.train_smooth.zValue()

    view.smooth_slider.setValue(300)
    np.testing.assert_allclose(drawn(view.train_smooth)[1], ema_debiased(loss, 0.3), rtol=1e-9)
    view.smooth_slider.setValue(0)  # no smoothing: one curve, the raw loss
    np.testing.assert_allclose(drawn(view.train_smooth)[1], loss)
    assert not view.train_raw.isVisible()


def test_live_appends_smooth_incrementally_and_redraw_only_on_refresh(view, metrics):
    loss = noisy_loss(1000, seed=3)
    view.set_smoothing(0.9)
    for a in range(0, 1000, 37):
        metrics.append_train(np.arange(a, min(a + 37, 1000)), loss[a : a + 37])
        if a % 3 == 0:
            view.refresh()
    view.refresh()
    np.testing.assert_allclose(drawn(view.train_smooth)[1], ema_debiased(loss, 0.9), rtol=1e-9)
    assert view.refresh() is False  # nothing new: no redraw
    n_before = len(drawn(view.train_smooth)[0])
    metrics.append_train([1000], [0.1])
    assert len(drawn(view.train_smooth)[0]) == n_before  # appending alone draws nothing
    assert view.refresh() is True
    assert len(drawn(view.train_smooth)[0]) == n_before + 1


def test_log_toggle_sets_log_mode(qtbot, view, metrics):
    metrics.append_train(np.arange(100), noisy_loss(100))
    view.refresh()
    axis = view.loss_plot.getPlotItem().getAxis("left")
    assert not axis.logMode
    with qtbot.waitSignal(view.logScaleChanged) as sig:
        view.log_check.click()
    assert sig.args == [True]
    assert axis.logMode and view.log_scale
    assert view.train_smooth.opts["logMode"][1]
    # the main window's action (L) drives the same switch, and the box follows
    view.set_log_scale(False)
    assert not axis.logMode and not view.log_check.isChecked()
    assert not view.acc_plot.getPlotItem().getAxis("left").logMode


def test_100k_points_stay_displayable_and_are_downsampled(qtbot, view, metrics):
    n = 100_000
    loss = noisy_loss(n, seed=1)
    for a in range(0, n, 2_000):  # as a live run delivers them, chunk by chunk
        metrics.append_train(np.arange(a, a + 2_000), loss[a : a + 2_000])
    view.refresh()
    qtbot.wait(50)
    view.grab()  # paints without trouble
    for item in (view.train_smooth, view.train_raw):
        assert len(drawn(item)[0]) == n  # everything stored
        xd, yd = item.getData()  # what is drawn
        assert 0 < len(xd) < n / 5
        assert np.isfinite(yd).all()
        assert xd[0] <= 2_000 and xd[-1] >= n - 2_000  # the whole run still shows
    # zoomed in, only the visible part is drawn (clip to view), at full detail
    view.loss_plot.getPlotItem().setXRange(50_000, 50_400, padding=0)
    qtbot.wait(20)
    xd, _ = view.train_raw.getData()
    assert xd.min() >= 50_000 - 50 and xd.max() <= 50_400 + 50
    assert len(xd) >= 300


def test_nan_and_inf_losses_are_skipped(view, metrics):
    loss = noisy_loss(50)
    loss[[10, 11, 30]] = [np.nan, np.inf, -np.inf]
    metrics.append_train(np.arange(50), loss)
    metrics.append_train([50], [np.nan])
    view.refresh()
    for item in (view.train_smooth, view.train_raw):
        x, y = drawn(item)
        assert len(x) == 47 and np.isfinite(y).all()
        assert 10 not in x and 30 not in x
        assert np.isfinite(item.getData()[1]).all()
    assert view.nonfinite_count == 4
    assert "4" in view.note.text() and "NaN" in view.note.text()
    # a NaN validation loss is left out too
    metrics.append_eval(10, float("nan"), None)
    metrics.append_eval(20, 0.5, None)
    view.refresh()
    np.testing.assert_allclose(drawn(view.val_loss)[0], [20])
    view.grab()


def test_marker_follows_the_inspected_step(view, metrics):
    metrics.set_steps_per_epoch(50)
    metrics.append_train(np.arange(300), noisy_loss(300))
    view.refresh()
    assert view.marker_x() is None
    view.set_marker(150)
    assert view.marker_x() == pytest.approx(150)
    assert all(m.isVisible() for m in view.markers)
    view.set_x_axis("epochs")
    assert view.marker_x() == pytest.approx(3.0)
    view.set_marker(None)
    assert view.marker_x() is None


def test_epochs_axis_and_accuracy_plot(view, metrics):
    metrics.set_steps_per_epoch(20)
    metrics.append_train(np.arange(100), noisy_loss(100))
    metrics.append_eval(40, 0.8, None)
    view.refresh()
    assert view.acc_plot.isHidden()  # no accuracy (e.g. a regression loss): no empty plot
    metrics.append_eval(80, 0.6, 0.75, train_accuracy=0.8)
    view.refresh()
    assert not view.acc_plot.isHidden()
    np.testing.assert_allclose(drawn(view.val_acc), [[80], [75.0]])
    np.testing.assert_allclose(drawn(view.train_acc), [[80], [80.0]])
    view.x_combo.setCurrentIndex(1)  # the user picks "epochs"
    assert view.x_mode == "epochs"
    np.testing.assert_allclose(drawn(view.train_smooth)[0], np.arange(100) / 20)
    np.testing.assert_allclose(drawn(view.val_loss)[0], [2.0, 4.0])
    assert view.acc_plot.getPlotItem().getAxis("bottom").labelText == "epoch"


def test_run_events_and_reset(view, history, metrics):
    ev = SimpleNamespace(
        step=10, epoch=2.0, train_loss=0.5, train_accuracy=0.9, val_loss=0.6, val_accuracy=0.85
    )
    event = SimpleNamespace(
        steps=np.arange(10), losses=noisy_loss(10), evals=(ev,), steps_per_epoch=5, rate=100.0
    )
    metrics.append_metrics(event)  # what the session does with a run's Metrics event
    view.refresh()
    assert view.steps_per_epoch == 5
    assert len(drawn(view.train_smooth)[0]) == 10
    np.testing.assert_allclose(drawn(view.val_loss), [[10], [0.6]])
    view.set_x_axis("epochs")
    np.testing.assert_allclose(drawn(view.train_smooth)[0], np.arange(10) / 5)
    view.set_marker(5)
    history.clear()  # a new model: the session clears the history and resets the views
    view.reset()
    assert len(drawn(view.train_smooth)[0]) == 0 and len(drawn(view.val_loss)[0]) == 0
    assert view.marker_x() is None
    view.refresh()
    assert len(drawn(view.train_smooth)[0]) == 0 and len(drawn(view.val_loss)[0]) == 0
    assert view.acc_plot.isHidden() and view.nonfinite_count == 0


def test_is_a_view_and_works_on_its_own(shown):
    view = shown(LossView(), 600, 300)  # no history given: a private one
    assert isinstance(view, View)
    view.history.metrics.append_train(np.arange(20), noisy_loss(20))
    view.set_snapshot(None)  # nothing to draw from a snapshot
    assert view.refresh() is True
    assert len(drawn(view.train_smooth)[0]) == 20


def test_two_views_share_one_history(shown, history, metrics):
    a = shown(LossView(history=history), 500, 300)
    b = shown(LossView(history=history), 500, 300)
    b.set_smoothing(0.5)
    loss = noisy_loss(300)
    metrics.append_train(np.arange(300), loss)
    assert a.refresh() and b.refresh()
    np.testing.assert_allclose(drawn(a.train_smooth)[1], ema_debiased(loss, 0.9), rtol=1e-9)
    np.testing.assert_allclose(drawn(b.train_smooth)[1], ema_debiased(loss, 0.5), rtol=1e-9)


def test_hover_shows_values_under_the_cursor(qtbot, view, metrics):
    loss = noisy_loss(200)
    view.set_smoothing(0.0)
    metrics.append_train(np.arange(200), loss)
    metrics.append_eval(100, 0.4321, 0.875, 0.9)
    view.refresh()
    text = view.hover_at(57.3)
    assert "step 57" in text and f"{loss[57]:.4g}" in text
    assert view._hover[view.loss_plot][1].isVisible()
    text = view.hover_at(100.2)
    assert "validation loss 0.4321" in text
    assert "87.5 %" in view.hover_at(99, plot="accuracy")
    # a real mouse move over the plot shows it too
    qtbot.wait(50)  # let the plot range itself to the data, as on screen
    vb = view.loss_plot.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(QtCore.QPointF(150, float(loss[150])))
    view._on_mouse_moved((scene_pos,))
    assert "step 150" in view._hover[view.loss_plot][1].toPlainText()


def test_presenter_theme_scales_lines_and_fonts(view, metrics):
    metrics.append_train(np.arange(50), noisy_loss(50))
    view.refresh()
    w1 = view.train_smooth.opts["pen"].widthF()
    f1 = view.loss_plot.getPlotItem().getAxis("left").style["tickFont"].pointSizeF()
    big = LIGHT.scaled(1.6)
    view.set_theme(big)
    assert view.train_smooth.opts["pen"].widthF() == pytest.approx(1.6 * w1)
    assert view.loss_plot.getPlotItem().getAxis("left").style[
        "tickFont"
    ].pointSizeF() == pytest.approx(1.6 * f1)
    assert view.train_smooth.opts["pen"].color().name() == LIGHT.train
    assert view.val_loss.opts["pen"].color().name() == LIGHT.val
    assert view.loss_plot.backgroundBrush().color().name() == LIGHT.background
    assert len(drawn(view.train_smooth)[0]) == 50  # data survives a theme switch


def test_a_single_step_is_visible_as_a_point(view, metrics):
    metrics.append_train([0], [0.7])
    view.refresh()
    assert view.train_smooth.opts["symbol"] == "o"  # one loss makes no line
    metrics.append_train([1], [0.6])
    view.refresh()
    assert view.train_smooth.opts["symbol"] is None  # a curve from two on


def test_a_long_run_keeps_one_x_range_from_paint_to_paint(view, metrics, qtbot):
    """pyqtgraph's x auto-range read the downsampled curve, whose last x moves
    with the downsampling factor, which moves with the range: after 25,000+
    steps the two chased each other on every paint and the window froze."""
    rng = np.random.default_rng(1)
    for start in range(0, 60_000, 500):  # as training appends, chunk by chunk
        metrics.append_train(np.arange(start, start + 500), 1 + rng.normal(0, 0.1, 500))
    view.refresh()
    vb = view.loss_plot.getPlotItem().getViewBox()
    ranges = []
    for _ in range(4):
        view.loss_plot.grab()  # a paint
        qtbot.wait(10)
        ranges.append(tuple(vb.viewRange()[0]))
    assert len(set(ranges)) == 1, ranges
    lo, hi = ranges[0]
    assert lo <= 0 and hi >= 59_999  # the whole run, up to its last step


def test_a_pan_stops_following_the_run_and_a_double_click_follows_again(view, metrics):
    metrics.append_train(np.arange(1000), noisy_loss(1000))
    view.refresh()
    vb = view.loss_plot.getPlotItem().getViewBox()
    vb.setXRange(100, 200, padding=0)
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])  # what a drag emits
    metrics.append_train(np.arange(1000, 2000), noisy_loss(1000))
    view.refresh()
    assert not view.follow_x
    assert vb.viewRange()[0] == pytest.approx([100, 200])  # left where the user put it
    view.follow()  # a double-click
    assert vb.viewRange()[0][1] >= 1999
