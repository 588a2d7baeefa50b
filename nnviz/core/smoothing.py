"""Smoothing for noisy training curves (Qt-free).

The smoother is TensorBoard's: an exponential moving average started at zero
and divided by ``1 - weight**t`` (t = points seen so far), so early values are
not dragged towards zero and the first smoothed value equals the first raw
value. Non-finite values (a NaN or Inf loss) are skipped: they get NaN in the
output and neither move the average nor count towards t.

The recurrence ``s_t = w s_{t-1} + (1 - w) x_t`` is evaluated with numpy in
blocks: inside a block the sum is a cumulative sum of ``x_j w**-j``; a block is
short enough that ``w**-j`` stays below 1e20, and what a block inherits from
anything before the previous block is smaller than ``w**block`` (< 1e-20), far
below float64 precision, so every block needs only its predecessor's end value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_DYNAMIC_RANGE_LOG10 = 20.0  # keep w**-j below 1e20 inside a block


def _check_weight(weight: float) -> float:
    w = float(weight)
    if not (0.0 <= w < 1.0):
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
    return w


def _ema_biased(x: np.ndarray, w: float, init: float) -> np.ndarray:
    """``s_t = w s_{t-1} + (1 - w) x_t`` with ``s_{-1} = init``, x all finite."""
    n = x.size
    if n == 0:
        return np.empty(0, dtype=np.float64)
    if w == 0.0:
        return x.astype(np.float64, copy=True)
    block = max(1, min(n, math.ceil(_DYNAMIC_RANGE_LOG10 / -math.log10(w))))
    nb = -(-n // block)
    xb = np.zeros(nb * block, dtype=np.float64)
    xb[:n] = x
    xb = xb.reshape(nb, block)
    j = np.arange(block, dtype=np.float64)
    up = w ** (-j)  # w**-j, at most 1e20
    down = w**j  # w**j
    # Each block on its own, starting from zero: local[b, j] = (1-w) sum_k<=j w**(j-k) x[b, k].
    local = (1.0 - w) * np.cumsum(xb * up, axis=1) * down
    # The value each block starts from: the previous block's end, plus (for the
    # first block) ``init``; older history is below 1e-20 of it and is dropped.
    start = np.empty(nb, dtype=np.float64)
    start[0] = init
    if nb > 1:
        start[1:] = local[:-1, -1] + (w**block) * np.r_[init, local[:-2, -1]]
    out = local + start[:, None] * (w * down)[None, :]
    return out.reshape(-1)[:n]


def ema_debiased(values, weight: float) -> np.ndarray:
    """Debiased exponential moving average of ``values`` (float64, same length).

    ``weight`` in [0, 1): 0 returns the values unchanged; 0.99 smooths heavily.
    """
    return DebiasedEma(weight).update(values)


@dataclass
class DebiasedEma:
    """The same average fed in pieces: ``update`` returns the new points smoothed.

    ``update(a)`` then ``update(b)`` gives exactly ``ema_debiased(concat(a, b))``,
    so a live curve smooths only what arrived since the last frame.
    """

    weight: float
    biased: float = 0.0  # the running average before debiasing
    count: int = 0  # finite values seen

    def __post_init__(self) -> None:
        self.weight = _check_weight(self.weight)

    def reset(self) -> None:
        self.biased, self.count = 0.0, 0

    def update(self, values) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        out = np.full(x.shape, np.nan, dtype=np.float64)
        finite = np.isfinite(x)
        xf = x[finite]
        if xf.size == 0:
            return out
        w = self.weight
        s = _ema_biased(xf, w, self.biased)
        t = self.count + np.arange(1, xf.size + 1, dtype=np.float64)
        with np.errstate(under="ignore"):
            out[finite] = s / (1.0 - w**t)
        self.biased = float(s[-1])
        self.count += int(xf.size)
        return out
