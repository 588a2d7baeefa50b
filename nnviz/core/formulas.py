"""Backprop in numbers: the seed's formulas with one neuron's real numbers in them.

For a drawn layer ``l`` (0 is the input, ``l`` ≥ 1 is ``snap.layers[l - 1]``,
so ``l`` is the seed's superscript [l]) and a neuron ``j`` of it, and for the
snapshot's chosen sample, :func:`neuron_formulas` writes the chain of seed 002::

    z      = Σᵢ wᵢ aᵢ + b
    a      = g(z)
    dL/da  = Σₖ dL/dzₖ[l+1] · W[l+1]ₖⱼ      (or, on the output layer, from the loss)
    g'(z)  = the activation's derivative (its own formula)
    dL/dz  = dL/da · g'(z)
    dL/dwᵢ = dL/dz · aᵢ                    (this sample's share)
    dL/db  = dL/dz

and :func:`layer_formulas` the vectorised lines with their shapes.

Every value shown is one the snapshot holds (z, a, dL/da, dL/dz, weights, the
batch gradients), except g'(z), evaluated with the activation's numpy twin,
and the sums and products the lines display (each term of a sum is shown, or
the biggest few and "+ N more"). The snapshot's dL/d· are autograd's: for a
mean-reduced loss they carry the 1/m (see ``nnviz.core.reference``), so the
lines say so, and the output layer's dL/da names the loss it comes from.

Qt-free: the panel (``nnviz.qt.formula_panel``) only renders these lines.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from nnviz.core.activations import ACTIVATIONS
from nnviz.core.errors import NnvizError
from nnviz.core.snapshot import LayerSnapshot, Snapshot

#: terms of a sum shown before "+ N more"
TOP_TERMS = 4

#: roles of the pieces of an expression: plain text, a forward quantity (z, a,
#: an input), a backward one (dL/d· and its values), a weight, a muted note
PLAIN, FWD, BWD, WEIGHT, NOTE = "", "fwd", "bwd", "w", "note"

#: losses reduced by a mean over the batch (their dL/d· carry 1/m)
MEAN_LOSSES = ("mse", "l1_mean", "bce", "cross_entropy")

LOSS_NAMES = {
    "mse": "MSE (mean)",
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


# --- numbers as text ------------------------------------------------------------------

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
MINUS = "−"


def fmt(v: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, a real minus sign and
    ×10ⁿ for very small or big magnitudes."""
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


def fmt_factor(v: float) -> str:
    """A number as a factor in a product: negatives in brackets."""
    s = fmt(v)
    return f"({s})" if s.startswith(MINUS) else s


def sub(i: int) -> str:
    return str(i).translate(_SUB)


def shape_text(*dims: int | str) -> str:
    return "(" + "×".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


# --- helpers ----------------------------------------------------------------------------

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


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def top_indices(contrib: np.ndarray, top: int = TOP_TERMS) -> np.ndarray:
    """All indices in order when there are few (≤ top + 2), else the ``top``
    largest by |contrib|, biggest first."""
    n = contrib.size
    if n <= top + 2:
        return np.arange(n)
    idx = np.argpartition(-np.abs(contrib), top)[:top]
    return idx[np.argsort(-np.abs(contrib[idx]), kind="stable")]


def _sum_segments(
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


def _layer_input(snap: Snapshot, li: int) -> np.ndarray:
    return _f64(snap.input if li == 0 else snap.layers[li - 1].a).reshape(-1)


def _a_name(li: int) -> str:
    return "x" if li == 0 else "a"


def infer_batch_size(snap: Snapshot, loss: str) -> int | None:
    """m recovered from the output layer's dL/da for a mean-reduced loss (the
    snapshot holds dL/da = per-sample derivative / m); None when it cannot be
    told (a sum-reduced loss, no gradients, or a zero derivative)."""
    if loss not in MEAN_LOSSES or not snap.layers:
        return None
    out = snap.layers[-1]
    if out.da is None:
        return None
    per = _per_sample_dloss(loss, _f64(out.a), _f64(snap.target), None)
    if per is None:
        return None
    da = _f64(out.da)
    j = int(np.argmax(np.abs(per)))
    if per[j] == 0 or da[j] == 0:
        return None
    est = per[j] / da[j]
    m = int(round(est))
    if m < 1 or abs(est - m) > 1e-3 * max(m, 1):
        return None
    return m


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def _per_sample_dloss(loss: str, a: np.ndarray, y: np.ndarray, _m) -> np.ndarray | None:
    """The loss's derivative for this sample before the 1/(m·k) of a mean."""
    if loss == "cross_entropy":
        if y.size != 1:
            return None
        p = _softmax(a)
        p[int(y[0])] -= 1.0
        return p
    if y.size != a.size:
        return None
    d = a - y
    if loss in ("mse",):
        return 2.0 * d / a.size
    if loss in ("half_sse",):
        return d
    if loss in ("l1_mean", "l1_sum"):
        return np.sign(d) / (a.size if loss == "l1_mean" else 1)
    if loss == "bce":
        with np.errstate(divide="ignore", invalid="ignore"):
            return (-y / a + (1.0 - y) / (1.0 - a)) / a.size
    return None


# --- activation lines ------------------------------------------------------------------

_G_TEXT = {
    "sigmoid": "σ(z)",
    "tanh": "tanh(z)",
    "relu": "max(0, z)",
    "leaky_relu": "max(0.01z, z)",
}


def _gprime_segments(act: str, z: float, a: float, gp: float) -> list[Segment]:
    v = fmt(gp)
    if act == "sigmoid":
        return [
            ("σ'(z) = a(1 − a) = ", PLAIN),
            (fmt_factor(a), FWD),
            ("·(1 − ", PLAIN),
            (fmt_factor(a), FWD),
            (f") = {v}", PLAIN),
        ]
    if act == "tanh":
        return [("tanh'(z) = 1 − a² = 1 − ", PLAIN), (fmt_factor(a), FWD), (f"² = {v}", PLAIN)]
    if act == "relu":
        cond = "z > 0" if z > 0 else "z ≤ 0"
        return [("relu'(z) = 1[z > 0] = ", PLAIN), (v, PLAIN), (f"   ({cond}: z = ", NOTE),
                (fmt(z), FWD), (")", NOTE)]  # fmt: skip
    if act == "leaky_relu":
        cond = "z > 0" if z > 0 else "z ≤ 0"
        return [("g'(z) = 1 if z > 0 else 0.01 = ", PLAIN), (v, PLAIN), (f"   ({cond})", NOTE)]
    if act == "linear":
        return [("g'(z) = 1   (no activation: a = z)", PLAIN)]
    formula = ACTIVATIONS[act].formula if act in ACTIVATIONS else act
    return [(f"g'(z) = {v}   ({formula})", PLAIN)]


# --- the neuron's chain ----------------------------------------------------------------


def neuron_formulas(
    snap: Snapshot,
    layer: int,
    neuron: int,
    *,
    loss: str | None = None,
    batch_size: int | None = None,
    top: int = TOP_TERMS,
) -> NeuronFormulas:
    """The seed's chain for neuron ``neuron`` of drawn layer ``layer`` (≥ 1),
    followed by the layer's vectorised lines (:func:`layer_formulas`).

    ``loss`` is the loss's name (``nnviz.core.training_parts.LOSSES``), used to
    write the output layer's dL/da; ``batch_size`` m (inferred from the
    snapshot for a mean loss when not given)."""
    li = layer_index(snap, layer)
    ls = snap.layers[li]
    if not 0 <= neuron < ls.width:
        raise NnvizError(f"layer {layer} has neurons 0..{ls.width - 1}; {neuron} is not one")
    j = neuron
    last = li == len(snap.layers) - 1
    act = ls.activation
    m = batch_size if batch_size is not None else (infer_batch_size(snap, loss) if loss else None)
    m_txt = str(m) if m is not None else "m"
    lines: list[FormulaLine] = []
    where = "output layer" if last else f"hidden layer {layer}"
    title = f"Layer {layer} ({where}), neuron {j} · {act} · sample #{snap.sample_index}"
    lines.append(
        FormulaLine(
            "info",
            "",
            (
                (
                    f"step {snap.step} · loss {fmt(snap.loss)}"
                    + (f" · {LOSS_NAMES.get(loss, loss)}" if loss else "")
                    + (f" · batch m = {m}" if m is not None else ""),
                    NOTE,
                ),
            ),
            section="info",
        )
    )

    # forward ---------------------------------------------------------------------
    a_prev = _layer_input(snap, li)
    w = _f64(ls.weight[j])
    z = float(ls.z[j])
    a = float(ls.a[j])
    an = _a_name(li)
    b = float(ls.bias[j]) if ls.bias is not None else None
    segs: list[Segment] = [(f"z = Σᵢ wᵢ {an}ᵢ" + (" + b" if b is not None else "") + " = ", PLAIN)]
    if a_prev.size == w.size:
        terms, _ = _sum_segments(w, a_prev, WEIGHT, FWD, top)
        segs += terms
    else:
        segs.append(("…", NOTE))
    if b is not None:
        segs += [(" + ", PLAIN), (fmt_factor(b), WEIGHT)]
    segs += [(" = ", PLAIN), (fmt(z), FWD)]
    lines.append(FormulaLine("z", "z", tuple(segs), z))
    if act == "linear":
        a_segs = [("a = z = ", PLAIN), (fmt(a), FWD), ("   (no activation)", NOTE)]
    else:
        g = _G_TEXT.get(act, f"{act}(z)")
        a_segs = [(f"a = {g} = ", PLAIN), (fmt(a), FWD)]
    lines.append(FormulaLine("a", "a", tuple(a_segs), a))

    if ls.dz is None or ls.da is None:
        lines.append(
            FormulaLine(
                "nograd",
                "",
                (("no gradients in this snapshot (forward only)", NOTE),),
                section="backward",
            )
        )
        lines += layer_formulas(snap, layer, loss=loss, batch_size=m)
        return NeuronFormulas(layer, j, title, tuple(lines))

    # backward --------------------------------------------------------------------
    da = float(ls.da[j])
    dz = float(ls.dz[j])
    if not last:
        nxt = snap.layers[li + 1]
        if nxt.dz is not None:
            dzn = _f64(nxt.dz)
            wk = _f64(nxt.weight[:, j])
            terms, _ = _sum_segments(dzn, wk, BWD, WEIGHT, top)
            segs = [*sym(f"dL/da = Σₖ dL/dzₖ[{layer + 1}] · W[{layer + 1}]ₖ{sub(j)} = ")]
            segs += terms + [(" = ", PLAIN), (fmt(da), BWD)]
        else:
            segs = [*sym("dL/da = "), (fmt(da), BWD), ("   (from the layer above)", NOTE)]
        lines.append(FormulaLine("da", "dL/da", tuple(segs), da, section="backward"))
    else:
        lines.append(_output_da_line(snap, ls, j, da, loss, m, m_txt))

    gp = None
    if act in ACTIVATIONS:
        gp = float(ACTIVATIONS[act].dg(np.array([z], dtype=np.float64))[0])
        lines.append(
            FormulaLine(
                "gprime", "g'(z)", tuple(_gprime_segments(act, z, a, gp)), gp, section="backward"
            )
        )
    else:
        lines.append(
            FormulaLine(
                "gprime",
                "g'(z)",
                ((f"g'(z): nnviz has no formula for {act}; autograd's dL/dz below", NOTE),),
                section="backward",
            )
        )
    segs = [*sym("dL/dz = dL/da · g'(z) = ")]
    if gp is not None:
        segs += [(fmt_factor(da), BWD), (" × ", PLAIN), (fmt_factor(gp), PLAIN), (" = ", PLAIN)]
    segs.append((fmt(dz), BWD))
    lines.append(FormulaLine("dz", "dL/dz", tuple(segs), dz, section="backward"))
    if last:
        short = _output_dz_shortcut(snap, ls, j, dz, loss, m, m_txt)
        if short is not None:
            lines.append(short)

    # parameters: this sample's share, and the batch gradient the snapshot holds
    if a_prev.size == w.size:
        idx = top_indices(a_prev, top)  # dL/dz is a common factor: order by |aᵢ|
        share = dz * a_prev[idx]
        segs = [*sym(f"dL/dwᵢ = dL/dz · {an}ᵢ = "), (fmt_factor(dz), BWD), ("·(", PLAIN)]
        for n, i in enumerate(idx):
            segs += [(", " if n else "", PLAIN), (fmt(a_prev[i]), FWD)]
        more = idx.size < a_prev.size
        segs += [(", …) = (" if more else ") = (", PLAIN)]
        segs += [(", ".join(fmt(v) for v in share) + (", …" if more else "") + ")", BWD)]
        if more:
            segs.append((f"   for i = {', '.join(str(int(i)) for i in idx)}", NOTE))
        segs.append(("   this sample's share", NOTE))
        lines.append(
            FormulaLine(
                "dw",
                "dL/dw",
                tuple(segs),
                None,
                tuple(float(s) for s in share),
                tuple(int(i) for i in idx),
                section="backward",
            )
        )
        if ls.weight_grad is not None:
            wg = _f64(ls.weight_grad[j])
            segs = [(f"batch dL/dW[{layer}]{sub(j)},ᵢ = Σ of the shares over the batch = ", NOTE)]
            segs.append(("(" + ", ".join(fmt(wg[i]) for i in idx), BWD))
            segs.append(((", …" if idx.size < wg.size else "") + ")", BWD))
            lines.append(
                FormulaLine(
                    "dw_batch",
                    "ΣdL/dw",
                    tuple(segs),
                    None,
                    tuple(float(wg[i]) for i in idx),
                    tuple(int(i) for i in idx),
                    section="backward",
                )
            )
    if ls.bias is not None:
        segs = [*sym("dL/db = dL/dz = "), (fmt(dz), BWD)]
        bg = float(ls.bias_grad[j]) if ls.bias_grad is not None else None
        if bg is not None:
            segs += [("   (batch Σ: ", NOTE), (fmt(bg), BWD), (")", NOTE)]
        lines.append(FormulaLine("db", "dL/db", tuple(segs), dz, section="backward"))
    if li > 0:
        back = dz * w
        idx = top_indices(back, top)
        segs = [*sym(f"to layer {layer - 1}: dL/dz · wᵢ = ")]
        segs.append(("(" + ", ".join(fmt(back[i]) for i in idx), BWD))
        segs.append(((", …" if idx.size < back.size else "") + ")", BWD))
        if idx.size < back.size:
            segs.append((f"  for i = {', '.join(str(int(i)) for i in idx)}", NOTE))
        lines.append(
            FormulaLine(
                "da_prev",
                "→ dA",
                tuple(segs),
                None,
                tuple(float(back[i]) for i in idx),
                tuple(int(i) for i in idx),
                section="backward",
            )
        )
    lines += layer_formulas(snap, layer, loss=loss, batch_size=m)
    return NeuronFormulas(layer, j, title, tuple(lines))


def _scale_text(loss: str, k: int, m_txt: str) -> str:
    if loss not in MEAN_LOSSES:
        return ""
    if loss == "cross_entropy" or k == 1:
        return f"/{m_txt}"
    return f"/({m_txt}·{k})"


def _output_da_line(
    snap: Snapshot, ls: LayerSnapshot, j: int, da: float, loss: str | None, m, m_txt: str
) -> FormulaLine:
    a_all = _f64(ls.a)
    y_all = _f64(snap.target).reshape(-1)
    k = ls.width
    a = float(a_all[j])
    if loss is None:
        segs = [*sym("dL/da = "), (fmt(da), BWD), ("   (from the loss)", NOTE)]
        return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")
    name = LOSS_NAMES.get(loss, loss)
    sc = _scale_text(loss, k, m_txt)
    ok = (loss == "cross_entropy" and y_all.size == 1) or y_all.size == k
    if not ok or loss not in LOSS_NAMES:
        segs = [*sym("dL/da = "), (fmt(da), BWD), (f"   (from the loss: {name})", NOTE)]
        return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")
    if loss == "cross_entropy":
        c = int(y_all[0])
        p = float(_softmax(a_all)[j])
        oh = 1.0 if c == j else 0.0
        segs = [
            *sym(f"dL/da = (softmax(a)ⱼ − onehotⱼ){sc} = ("),
            (fmt(p), FWD),
            (f" − {fmt(oh)}){sc} = ", PLAIN),
            (fmt(da), BWD),
            (f"   ({name}, class y = {c})", NOTE),
        ]
        return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")
    y = float(y_all[j])
    if loss == "bce":
        segs = [
            *sym(f"dL/da = (−y/a + (1 − y)/(1 − a)){sc} = (−"),
            (fmt(y), PLAIN),
            ("/", PLAIN),
            (fmt(a), FWD),
            (" + ", PLAIN),
            (fmt(1 - y), PLAIN),
            ("/", PLAIN),
            (fmt(1 - a), FWD),
            (f"){sc} = ", PLAIN),
        ]
    elif loss in ("mse", "half_sse"):
        two = "2" if loss == "mse" else ""
        segs = [*sym(f"dL/da = {two}(a − y){sc} = {two}("), (fmt(a), FWD),
                (f" − {fmt(y)}){sc} = ", PLAIN)]  # fmt: skip
    else:  # l1
        segs = [*sym(f"dL/da = sign(a − y){sc} = sign("), (fmt(a), FWD),
                (f" − {fmt(y)}){sc} = ", PLAIN)]  # fmt: skip
    segs += [(fmt(da), BWD), (f"   ({name})", NOTE)]
    return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")


def _output_dz_shortcut(
    snap: Snapshot, ls: LayerSnapshot, j: int, dz: float, loss: str | None, m, m_txt: str
) -> FormulaLine | None:
    """Seed 002's simplification on the output: dz = a − y for BCE on a sigmoid
    (and softmax − onehot for cross-entropy on logits), /m for a mean loss."""
    y_all = _f64(snap.target).reshape(-1)
    k = ls.width
    sc = _scale_text(loss, k, m_txt) if loss else ""
    if loss == "bce" and ls.activation == "sigmoid" and y_all.size == k:
        a, y = float(ls.a[j]), float(y_all[j])
        segs = [*sym(f"     = (a − y){sc} = ("), (fmt(a), FWD), (f" − {fmt(y)}){sc} = ", PLAIN),
                (fmt(dz), BWD), ("   (seed 002: σ' cancels BCE's denominator)", NOTE)]  # fmt: skip
        return FormulaLine("dz_short", "dL/dz", tuple(segs), dz, section="backward")
    if loss == "cross_entropy" and ls.activation == "linear" and y_all.size == 1:
        c = int(y_all[0])
        p = float(_softmax(_f64(ls.z))[j])
        segs = [*sym(f"     = (softmax(z)ⱼ − onehotⱼ){sc} = ("), (fmt(p), FWD),
                (f" − {fmt(1.0 if c == j else 0.0)}){sc} = ", PLAIN), (fmt(dz), BWD)]  # fmt: skip
        return FormulaLine("dz_short", "dL/dz", tuple(segs), dz, section="backward")
    return None


# --- the whole layer --------------------------------------------------------------------


def layer_formulas(
    snap: Snapshot, layer: int, *, loss: str | None = None, batch_size: int | None = None
) -> list[FormulaLine]:
    """Seed 002's vectorised lines for drawn layer ``layer`` with their shapes
    (m rows: the batch size when known)."""
    li = layer_index(snap, layer)
    ls = snap.layers[li]
    n, fan_in = ls.width, int(ls.weight.shape[1])
    m = batch_size if batch_size is not None else (infer_batch_size(snap, loss) if loss else None)
    M = str(m) if m is not None else "m"
    L, P = f"[{layer}]", f"[{layer - 1}]"
    prev = "X" if li == 0 else f"A{P}"
    rows = [
        (
            "vec_z",
            f"Z{L} = {prev} W{L}ᵀ + b{L}",
            f"{shape_text(M, n)} = {shape_text(M, fan_in)}·{shape_text(fan_in, n)} + {shape_text(n)}",
        ),
        ("vec_a", f"A{L} = g(Z{L})", f"{shape_text(M, n)}   g = {ls.activation}"),
        (
            "vec_dz",
            f"dZ{L} = dA{L} ⊙ g'(Z{L})",
            f"{shape_text(M, n)} = {shape_text(M, n)} ⊙ {shape_text(M, n)}",
        ),
        (
            "vec_dw",
            f"dW{L} = (1/{M}) dZ{L}ᵀ {prev}",
            f"{shape_text(n, fan_in)} = {shape_text(n, M)}·{shape_text(M, fan_in)}",
        ),
        ("vec_db", f"db{L} = (1/{M}) Σ_rows dZ{L}", shape_text(n)),
    ]
    if li > 0:
        rows.append(
            (
                "vec_da_prev",
                f"dA{P} = dZ{L} W{L}",
                f"{shape_text(M, fan_in)} = {shape_text(M, n)}·{shape_text(n, fan_in)}",
            )
        )
    out = [
        FormulaLine(key, "", (*sym(f"{lhs:<27} ", FWD), (rhs, NOTE)), section="layer")
        for key, lhs, rhs in rows
    ]
    if loss in MEAN_LOSSES:
        note = (
            f"the numbers above are autograd's, with the mean loss's 1/{M} inside; "
            f"the seed's dZ = {M}·dL/dZ"
        )
    elif loss is not None:
        note = (
            "a summed loss: autograd's dL/dZ has no 1/m; the seed's dZ is m·dL/dZ, "
            "so its (1/m) gives back the same dW"
        )
    else:
        note = "dL/d· above are autograd's; a batch gradient is the sum of the samples' shares"
    out.append(FormulaLine("vec_note", "", ((note, NOTE),), section="layer"))
    return out


def input_formulas(snap: Snapshot, neuron: int) -> NeuronFormulas:
    """Layer 0: the input has no formula, only its value."""
    x = _f64(snap.input)
    if not 0 <= neuron < x.size:
        raise NnvizError(f"the input has {x.size} values; {neuron} is not one of them")
    v = float(x[neuron])
    line = FormulaLine("x", "x", ((f"x{sub(neuron)} = ", PLAIN), (fmt(v), FWD)), v)
    note = FormulaLine(
        "info",
        "",
        (("the input has no weights; pick a neuron in layer 1 or later", NOTE),),
        section="info",
    )
    return NeuronFormulas(0, neuron, f"Input {neuron} · sample #{snap.sample_index}", (line, note))


def formulas(
    snap: Snapshot,
    layer: int,
    neuron: int,
    *,
    loss: str | None = None,
    batch_size: int | None = None,
    top: int = TOP_TERMS,
) -> NeuronFormulas:
    """:func:`neuron_formulas`, or :func:`input_formulas` for layer 0."""
    if layer == 0:
        return input_formulas(snap, neuron)
    return neuron_formulas(snap, layer, neuron, loss=loss, batch_size=batch_size, top=top)


__all__ = [
    "TOP_TERMS",
    "FormulaLine",
    "NeuronFormulas",
    "fmt",
    "formulas",
    "infer_batch_size",
    "input_formulas",
    "layer_formulas",
    "neuron_formulas",
]
