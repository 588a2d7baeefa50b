"""Numbers as text: the one formatter every view, panel and command uses.

``fmt`` gives ``digits`` significant digits, a real minus sign (−) and
×10ⁿ for very small or very large magnitudes, so columns of numbers read
alike everywhere (the chain-rule panel, the inspector, the graph's nodes,
the loss hover, the status line).
"""

from __future__ import annotations

import math

import numpy as np

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
MINUS = "−"
DASH = "–"  # no value


def fmt(v: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, a real minus sign and
    ×10ⁿ for very small or big magnitudes; None is a dash."""
    if v is None:
        return DASH
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("" if v > 0 else MINUS) + "∞"
    if v == 0:
        return "0"
    sign = MINUS if v < 0 else ""
    av = abs(v)
    if 1e-3 <= av < 1e4:
        s = f"{av:.{digits}g}"
        if "e" not in s:
            return sign + s
    exp = int(math.floor(math.log10(av)))
    mant = av / 10**exp
    d = max(digits - 2, 0)  # one digit fewer: the exponent is already long
    if round(mant, d) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{sign}{mant:.{d}f}×10{str(exp).translate(_SUP)}"


def fmt_signed(v: float | None, digits: int = 4) -> str:
    """Like :func:`fmt`, with a + on positive numbers (columns of signed values)."""
    s = fmt(v, digits)
    return s if v is None or s.startswith(MINUS) or s in ("0", "NaN") else "+" + s


def fmt_factor(v: float, digits: int = 4) -> str:
    """A number as a factor in a product: negatives in brackets."""
    s = fmt(v, digits)
    return f"({s})" if s.startswith(MINUS) else s


def fmt_percent(fraction: float | None, decimals: int = 1) -> str:
    """A fraction (0..1) as a percentage: ``0.875`` is ``87.5 %``; None or NaN a dash."""
    if fraction is None or not math.isfinite(float(fraction)):
        return DASH
    return f"{100.0 * float(fraction):.{decimals}f} %".replace("-", MINUS)


def subscript(i: int) -> str:
    """``12`` as ``₁₂`` (an index in a formula: wᵢ, W₃)."""
    return str(int(i)).translate(_SUB)


def superscript(i: int) -> str:
    """``-3`` as ``⁻³`` (an exponent)."""
    return str(int(i)).translate(_SUP)


def fmt_count(n: int, noun: str) -> str:
    """``3 steps``, ``1 epoch``, ``12,000 steps``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def fmt_array(a, max_items: int = 4, digits: int = 4) -> str:
    """A small array in full (``[1, −2.5]``), a large one as μ and σ."""
    if a is None:
        return DASH
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        return fmt(float(a.reshape(-1)[0]), digits)
    if a.size <= max_items:
        return "[" + ", ".join(fmt(float(v), digits) for v in a.reshape(-1)) + "]"
    fin = a[np.isfinite(a)]
    if fin.size == 0:
        return "all non-finite"
    bad = "" if fin.size == a.size else f" ({a.size - fin.size} NaN/Inf)"
    return f"μ {fmt(float(fin.mean()), 3)} σ {fmt(float(fin.std()), 3)}{bad}"
