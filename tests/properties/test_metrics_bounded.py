"""Issue 13: the in-memory metrics were never thinned (~60 bytes a step, 250 MB
an hour at 2,000 steps/s). After a million steps the history holds a bounded
number of points, the newest at full resolution, and the curve keeps its shape."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nnviz.core.history import MAX_POINTS, RECENT_POINTS, MetricsHistory


def _curve(steps: np.ndarray) -> np.ndarray:
    return 2.0 / (1.0 + steps / 5e4) + 0.1 * np.sin(steps / 1e5)


def test_a_million_steps_stay_bounded_and_keep_the_curve():
    m = MetricsHistory()
    chunk = 2000
    for start in range(0, 1_000_000, chunk):
        steps = np.arange(start, start + chunk)
        m.append_train(steps, _curve(steps))
        m.smoothed(0.9)  # the loss view asks for its curve every frame
    x, y = m.train_step.view, m.train_loss.view
    assert len(x) <= MAX_POINTS
    assert m.nbytes < 8 * MAX_POINTS * 8 * 2  # a few arrays of MAX_POINTS float64, grown ×2
    assert x[0] < 1000 and x[-1] == 999_999  # the whole run is drawn, first steps too
    assert np.all(np.diff(x) > 0)
    # the newest steps at full resolution
    np.testing.assert_array_equal(x[-RECENT_POINTS:], np.arange(1_000_000 - RECENT_POINTS, 10**6))
    # older steps: bucket means lie on the curve (it is smooth at bucket scale)
    np.testing.assert_allclose(y, _curve(x), atol=2e-3)
    # and about evenly spread: no stretch of the run is left bare
    assert np.diff(x).max() <= 1000
    assert len(m.smoothed(0.9)) == len(x)
    assert np.isclose(m.last_loss, _curve(np.array([999_999.0]))[0])


@settings(max_examples=15, deadline=None)
@given(
    chunks=st.lists(st.integers(1, 40_000), min_size=1, max_size=12),
    weight=st.sampled_from([0.0, 0.6, 0.99]),
)
def test_any_appends_keep_order_and_alignment(chunks, weight):
    m = MetricsHistory()
    start = 0
    for n in chunks:
        steps = np.arange(start, start + n)
        m.append_train(steps, np.full(n, 1.0))
        if weight:
            m.smoothed(weight)
        start += n
    x = m.train_step.view
    assert len(x) <= MAX_POINTS and np.all(np.diff(x) > 0)
    assert len(m.train_epoch) == len(m.train_loss) == len(x)
    np.testing.assert_allclose(m.train_loss.view, 1.0)
    if weight:
        np.testing.assert_allclose(m.smoothed(weight), 1.0)
    assert x[-1] == start - 1


def test_clearing_starts_again_at_full_resolution():
    m = MetricsHistory()
    for start in range(0, 300_000, 10_000):
        m.append_train(np.arange(start, start + 10_000), np.ones(10_000))
    m.clear()
    m.append_train(np.arange(0, 50_000), np.ones(50_000))
    np.testing.assert_array_equal(m.train_step.view, np.arange(50_000))
