"""The formula model: lines of text made of coloured pieces (Qt-free).

A :class:`FormulaLine` is an expression split into segments, each with a
role (a forward quantity, a backward one, a weight, a note) so that a view
can colour it; :class:`NeuronFormulas` holds one neuron's lines. The helpers
here build the pieces every formula uses: symbolic text with its dL/d· terms
marked, sums of products shown term by term, shapes. Numbers are written by
:mod:`nnviz.core.numfmt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.core.numfmt import fmt, fmt_factor
from nnviz.core.snapshot import Snapshot

#: terms of a sum shown before "+ N more"
TOP_TERMS = 4

#: roles of the pieces of an expression: plain text, a forward quantity (z, a,
#: an input), a backward one (dL/d· and its values), a weight, a muted note
PLAIN, FWD, BWD, WEIGHT, NOTE = "", "fwd", "bwd", "w", "note"

#: losses reduced by a mean over the batch (their dL/d· carry 1/m)
MEAN_LOSSES = ("mse", "half_mse", "l1_mean", "bce", "cross_entropy")

LOSS_NAMES = {
    "mse": "MSE (mean)",
    "half_mse": "½·MSE (mean)",
    "half_sse": "½·SSE (sum)",
    "l1_mean": "L1 (mean)",
    "l1_sum": "L1 (sum)",
    "bce": "binary cross-entropy (mean)",
    "cross_entropy": "cross-entropy (mean)",
}

Segment = tuple[str, str]  # (text, role)


@dataclass(frozen=True)
class FormulaLine:
    """One line of the panel.

    ``label`` names the quantity ("z", "dL/dz", ...); ``segments`` are the
    expression's pieces, each with a role (``FWD``/``BWD``/``WEIGHT``/``NOTE``
    or plain) so a view can colour them; ``value`` is the number the line
    ends with (None for lines that list several, see ``values``).
    """

    key: str  # stable id: "z", "a", "da", "gprime", "dz", "dw", "db", "vec_dz", ...
    label: str
    segments: tuple[Segment, ...]
    value: float | None = None
    values: tuple[float, ...] = ()  # several numbers (dL/dwᵢ, batch dL/dW row, ...)
    indices: tuple[int, ...] = ()  # which i each of ``values`` belongs to
    section: str = "forward"  # "forward", "backward", "layer" or "info"

    @property
    def expression(self) -> str:
        return "".join(t for t, _ in self.segments)


@dataclass(frozen=True)
class NeuronFormulas:
    """All the lines for one neuron (and its layer) of one snapshot."""

    layer: int
    neuron: int
    title: str
    lines: tuple[FormulaLine, ...]

    def line(self, key: str) -> FormulaLine:
        for ln in self.lines:
            if ln.key == key:
                return ln
        raise KeyError(key)

    def has(self, key: str) -> bool:
        return any(ln.key == key for ln in self.lines)

    @property
    def text(self) -> str:
        """Plain text of every line (what a test or a clipboard copy reads)."""
        return "\n".join([self.title, *(ln.expression for ln in self.lines)])


def shape_text(*dims: int | str) -> str:
    return "(" + "×".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


_BACKWARD_SYMBOL = re.compile(r"dL/d[^\s=·()×,;/]+|\bd[ZAWb]\[\d+\]")


def sym(text: str, rest: str = PLAIN) -> list[Segment]:
    """Symbolic text as segments: its dL/d· (and dZ[l], dW[l] ...) terms in the
    backward role, the rest in ``rest``."""
    out: list[Segment] = []
    pos = 0
    for mt in _BACKWARD_SYMBOL.finditer(text):
        if mt.start() > pos:
            out.append((text[pos : mt.start()], rest))
        out.append((mt.group(0), BWD))
        pos = mt.end()
    if pos < len(text):
        out.append((text[pos:], rest))
    return out


def f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def top_indices(contrib: np.ndarray, top: int = TOP_TERMS) -> np.ndarray:
    """All indices in order when there are few (≤ top + 2), else the ``top``
    largest by |contrib|, biggest first."""
    n = contrib.size
    if n <= top + 2:
        return np.arange(n)
    idx = np.argpartition(-np.abs(contrib), top)[:top]
    return idx[np.argsort(-np.abs(contrib[idx]), kind="stable")]


def sum_segments(
    left: np.ndarray,
    right: np.ndarray,
    left_role: str,
    right_role: str,
    top: int = TOP_TERMS,
) -> tuple[list[Segment], np.ndarray]:
    """Σᵢ leftᵢ·rightᵢ as "l₀·r₀ + l₁·r₁ + … + N more (Σ s)": the segments and
    the indices shown."""
    prod = left * right
    idx = top_indices(prod, top)
    few = idx.size == prod.size
    segs: list[Segment] = []
    for n, i in enumerate(idx):
        if n:
            segs.append((" + ", PLAIN))
        if not few:
            segs.append((f"[{i}]", NOTE))
        segs.append((fmt_factor(left[i]), left_role))
        segs.append(("·", PLAIN))
        segs.append((fmt_factor(right[i]), right_role))
    if not few:
        rest = np.ones(prod.size, dtype=bool)
        rest[idx] = False
        segs.append((f" + … {int(rest.sum())} more (Σ {fmt(prod[rest].sum())})", NOTE))
    return segs, idx


def layer_index(snap: Snapshot, layer: int) -> int:
    """``snap.layers`` index of drawn layer ``layer`` (≥ 1), with a clear error."""
    n = len(snap.layers)
    if not 1 <= layer <= n:
        raise NnvizError(
            f"layer {layer} is not a layer of neurons here; pick 1..{n} (0 is the input)"
        )
    return layer - 1
