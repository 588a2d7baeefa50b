"""The debiased EMA matches TensorBoard's plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnviz.core.smoothing import DebiasedEma, ema_debiased


def loop_ema(values, weight):
    """TensorBoard's smoother, written out: skip non-finite, debias by 1 - w**t."""
    out, last, t = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(math.nan)
            continue
        last = last * weight + (1 - weight) * v
        t += 1
        out.append(last / (1 - weight**t))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 1e-6, 0.3, 0.6, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5003])
def test_matches_plain_loop(weight, n):
    rng = np.random.default_rng(n)
    x = np.exp(-np.arange(n) / 300) + rng.normal(0, 0.3, n)  # noisy, both signs
    np.testing.assert_allclose(ema_debiased(x, weight), loop_ema(x, weight), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("weight", [0.0, 0.5, 0.95, 0.999])
def test_first_smoothed_value_is_first_raw_value(weight):
    x = np.array([2.5, 0.1, 7.0, 3.0])
    assert ema_debiased(x, weight)[0] == pytest.approx(2.5, rel=1e-12)


def test_zero_weight_is_identity_and_constants_stay_constant():
    x = np.linspace(3, -1, 50)
    np.testing.assert_allclose(ema_debiased(x, 0.0), x)
    np.testing.assert_allclose(ema_debiased(np.full(20_000, 4.2), 0.999), 4.2, rtol=1e-12)


def test_non_finite_values_are_skipped():
    x = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 5.0])
    got = ema_debiased(x, 0.5)
    np.testing.assert_allclose(got, loop_ema(x, 0.5))
    assert np.isnan(got[[1, 3, 4]]).all()
    # the NaN did not count: same as smoothing only the finite values
    np.testing.assert_allclose(got[[0, 2, 5]], ema_debiased([1.0, 3.0, 5.0], 0.5))


def test_pieces_equal_the_whole():
    rng = np.random.default_rng(0)
    x = rng.normal(1, 1, 3000)
    x[[10, 900]] = np.nan
    ema = DebiasedEma(0.97)
    parts = [ema.update(p) for p in np.split(x, [1, 5, 5, 400, 2999])]
    np.testing.assert_allclose(np.concatenate(parts), loop_ema(x, 0.97), rtol=1e-9, atol=1e-12)


def test_long_series_is_stable():
    # 1e6 points at the slider's heaviest setting: no overflow, no drift
    x = np.ones(1_000_000)
    x[::2] = 3.0
    got = ema_debiased(x, 0.999)
    assert np.isfinite(got).all()
    assert got[-1] == pytest.approx(2.0, abs=2e-3)


@pytest.mark.parametrize("weight", [-0.1, 1.0, 1.5, math.nan])
def test_bad_weight(weight):
    with pytest.raises(ValueError):
        ema_debiased([1.0], weight)
