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

import numpy as np

from nnviz.core.activations import ACTIVATIONS
from nnviz.core.errors import NnvizError
from nnviz.core.formula_loss import infer_batch_size, output_da_line, output_dz_shortcut
from nnviz.core.formula_model import (
    BWD,
    FWD,
    LOSS_NAMES,
    MEAN_LOSSES,
    NOTE,
    PLAIN,
    TOP_TERMS,
    WEIGHT,
    FormulaLine,
    NeuronFormulas,
    Segment,
    f64,
    layer_index,
    shape_text,
    sum_segments,
    sym,
    top_indices,
)
from nnviz.core.numfmt import MINUS, fmt, fmt_factor
from nnviz.core.numfmt import subscript as sub
from nnviz.core.snapshot import Snapshot


def _layer_input(snap: Snapshot, li: int) -> np.ndarray:
    return f64(snap.input if li == 0 else snap.layers[li - 1].a).reshape(-1)


def _a_name(li: int) -> str:
    return "x" if li == 0 else "a"


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
    w = f64(ls.weight[j])
    z = float(ls.z[j])
    a = float(ls.a[j])
    an = _a_name(li)
    b = float(ls.bias[j]) if ls.bias is not None else None
    segs: list[Segment] = [(f"z = Σᵢ wᵢ {an}ᵢ" + (" + b" if b is not None else "") + " = ", PLAIN)]
    if a_prev.size == w.size:
        terms, _ = sum_segments(w, a_prev, WEIGHT, FWD, top)
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
            dzn = f64(nxt.dz)
            wk = f64(nxt.weight[:, j])
            terms, _ = sum_segments(dzn, wk, BWD, WEIGHT, top)
            segs = [*sym(f"dL/da = Σₖ dL/dzₖ[{layer + 1}] · W[{layer + 1}]ₖ{sub(j)} = ")]
            segs += terms + [(" = ", PLAIN), (fmt(da), BWD)]
        else:
            segs = [*sym("dL/da = "), (fmt(da), BWD), ("   (from the layer above)", NOTE)]
        lines.append(FormulaLine("da", "dL/da", tuple(segs), da, section="backward"))
    else:
        lines.append(output_da_line(snap, ls, j, da, loss, m, m_txt))

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
        short = output_dz_shortcut(snap, ls, j, dz, loss, m, m_txt)
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
            wg = f64(ls.weight_grad[j])
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
    x = f64(snap.input)
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
    "BWD",
    "FWD",
    "LOSS_NAMES",
    "MEAN_LOSSES",
    "MINUS",
    "NOTE",
    "PLAIN",
    "TOP_TERMS",
    "WEIGHT",
    "FormulaLine",
    "NeuronFormulas",
    "Segment",
    "fmt",
    "fmt_factor",
    "formulas",
    "infer_batch_size",
    "input_formulas",
    "layer_formulas",
    "neuron_formulas",
    "shape_text",
    "sub",
    "sym",
    "top_indices",
]
