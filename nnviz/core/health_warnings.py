"""Training-health warnings in plain words (Qt-free, numpy only).

Each warning names a layer (1 = the first Linear) and says what is wrong:
"layer 1: gradients 1e-7 of the output layer's — vanishing". Rules of thumb,
not proofs: the thresholds below are far from where healthy built-in
scenarios sit, so a warning means something.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

VANISHING = 1e-3  # a layer's ‖∂L/∂W‖ below this fraction of the output layer's
EXPLODING = 1e3  # ... or above this multiple of it
UPDATE_TOO_LARGE = 0.3  # ‖ΔW‖/‖W‖ a step, sustained (median of the newest reports)
UPDATE_TOO_SMALL = 1e-6
SUSTAIN = 3  # reports an update ratio must stay out for
DEAD = 0.5  # fraction of units dead
SATURATED = 0.5  # fraction of (sample, unit) pairs saturated


def sci(v: float) -> str:
    """A magnitude as a short power of ten: 1.2e-07 -> "1e-7"."""
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    if 1e-2 <= abs(v) < 1e3:
        return f"{v:.2g}"
    m, e = f"{v:.0e}".split("e")
    return f"{m}e{int(e)}"


def health_warnings(layers: Sequence, previous: Sequence = ()) -> tuple[str, ...]:
    """Warnings for one step's layers (``LayerHealth``); ``previous``: the
    reports before it, oldest first (update ratios must stay out a while)."""
    out: list[str] = []
    if not layers:
        return ()
    bad = [i for i, la in enumerate(layers, 1) if not math.isfinite(la.grad_norm)]
    if bad:
        out.append(f"layer {bad[0]}: gradients are NaN or infinite — training has diverged")
    ref = layers[-1].grad_norm
    if len(layers) > 1 and math.isfinite(ref) and ref > 0:
        ratios = [(la.grad_norm / ref, i) for i, la in enumerate(layers[:-1], 1)]
        ratios = [(r, i) for r, i in ratios if math.isfinite(r)]
        if ratios:
            low, i = min(ratios)
            if low < VANISHING:
                out.append(f"layer {i}: gradients {sci(low)} of the output layer's — vanishing")
            high, j = max(ratios)
            if high > EXPLODING:
                out.append(f"layer {j}: gradients {sci(high)}× the output layer's — exploding")
    large: list[tuple[int, float]] = []
    small: list[tuple[int, float]] = []
    for i, la in enumerate(layers, 1):
        r = _sustained(la.name, la.update_ratio, previous)
        if r is not None and r > UPDATE_TOO_LARGE:
            large.append((i, r))
        elif r is not None and r < UPDATE_TOO_SMALL:
            small.append((i, r))
    if large:
        out.append(
            f"{_which(large)}: updates {_span(large)} of {_its(large)} weights a step — too large"
        )
    if small:
        out.append(
            f"{_which(small)}: updates {_span(small)} of {_its(small)} weights a step — barely learning"
        )
    dead = [
        (i, la.dead_fraction)
        for i, la in enumerate(layers, 1)
        if la.dead_fraction is not None and la.dead_fraction >= DEAD
    ]
    if dead:
        out.append(f"{_which(dead)}: {_pct_span(dead)} of units dead")
    # the output layer's saturation is confident predictions, not a problem
    sat = [
        (i, la.saturated_fraction)
        for i, la in enumerate(layers[:-1], 1)
        if la.saturated_fraction is not None and la.saturated_fraction >= SATURATED
    ]
    if sat:
        out.append(
            f"{_which(sat)}: {_pct_span(sat)} of units saturated — little gradient gets through"
        )
    return tuple(out)


def _sustained(name: str, ratio: float, previous: Sequence) -> float | None:
    """The median update ratio over this and the SUSTAIN - 1 reports before
    it, when there are that many (else None)."""
    if not math.isfinite(ratio):
        return None
    vals = [ratio]
    for rep in reversed(previous):
        if len(vals) >= SUSTAIN:
            break
        for la in rep.layers:
            if la.name == name and math.isfinite(la.update_ratio):
                vals.append(la.update_ratio)
                break
    if len(vals) < SUSTAIN:
        return None
    return float(np.median(vals))


def _which(items: list[tuple[int, float]]) -> str:
    """ "layer 2", "layers 1–4" or "layers 1, 3"."""
    idx = [i for i, _ in items]
    if len(idx) == 1:
        return f"layer {idx[0]}"
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"layers {idx[0]}–{idx[-1]}"
    return "layers " + ", ".join(map(str, idx))


def _its(items) -> str:
    return "its" if len(items) == 1 else "their"


def _span(items: list[tuple[int, float]]) -> str:
    vals = sorted(v for _, v in items)
    lo, hi = sci(vals[0]), sci(vals[-1])
    return lo if lo == hi else f"{lo} to {hi}"


def _pct_span(items: list[tuple[int, float]]) -> str:
    vals = sorted(round(100 * v) for _, v in items)
    return f"{vals[0]} %" if vals[0] == vals[-1] else f"{vals[0]} to {vals[-1]} %"
