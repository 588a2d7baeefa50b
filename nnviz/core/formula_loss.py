"""The output layer's formulas: the loss's derivative dL/da written out with
this sample's numbers, the backprop lecture notes' shortcuts for dL/dz, and the batch size m
recovered from a mean-reduced loss's gradient (Qt-free)."""

from __future__ import annotations

import numpy as np

from nnviz.core.formula_model import (
    BWD,
    FWD,
    LOSS_NAMES,
    MEAN_LOSSES,
    NOTE,
    PLAIN,
    FormulaLine,
    f64,
    sym,
)
from nnviz.core.numfmt import fmt
from nnviz.core.snapshot import LayerSnapshot, Snapshot


def infer_batch_size(snap: Snapshot, loss: str) -> int | None:
    """m recovered from the output layer's dL/da for a mean-reduced loss (the
    snapshot holds dL/da = per-sample derivative / m); None when it cannot be
    told (a sum-reduced loss, no gradients, or a zero derivative)."""
    if loss not in MEAN_LOSSES or not snap.layers:
        return None
    out = snap.layers[-1]
    if out.da is None:
        return None
    per = per_sample_dloss(loss, f64(out.a), f64(snap.target), None)
    if per is None:
        return None
    da = f64(out.da)
    j = int(np.argmax(np.abs(per)))
    if per[j] == 0 or da[j] == 0:
        return None
    est = per[j] / da[j]
    m = int(round(est))
    if m < 1 or abs(est - m) > 1e-3 * max(m, 1):
        return None
    return m


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def per_sample_dloss(loss: str, a: np.ndarray, y: np.ndarray, _m) -> np.ndarray | None:
    """The loss's derivative for this sample before the 1/(m·k) of a mean."""
    if loss == "cross_entropy":
        if y.size != 1:
            return None
        p = softmax(a)
        p[int(y[0])] -= 1.0
        return p
    if y.size != a.size:
        return None
    d = a - y
    if loss == "mse":
        return 2.0 * d / a.size
    if loss == "half_mse":  # ½·2(a − y): the 2 cancels
        return d / a.size
    if loss in ("half_sse",):
        return d
    if loss in ("l1_mean", "l1_sum"):
        return np.sign(d) / (a.size if loss == "l1_mean" else 1)
    if loss == "bce":
        with np.errstate(divide="ignore", invalid="ignore"):
            return (-y / a + (1.0 - y) / (1.0 - a)) / a.size
    return None


def scale_text(loss: str, k: int, m_txt: str) -> str:
    if loss not in MEAN_LOSSES:
        return ""
    if loss == "cross_entropy" or k == 1:
        return f"/{m_txt}"
    return f"/({m_txt}·{k})"


def output_da_line(
    snap: Snapshot, ls: LayerSnapshot, j: int, da: float, loss: str | None, m, m_txt: str
) -> FormulaLine:
    a_all = f64(ls.a)
    y_all = f64(snap.target).reshape(-1)
    k = ls.width
    a = float(a_all[j])
    if loss is None:
        segs = [*sym("dL/da = "), (fmt(da), BWD), ("   (from the loss)", NOTE)]
        return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")
    name = LOSS_NAMES.get(loss, loss)
    sc = scale_text(loss, k, m_txt)
    ok = (loss == "cross_entropy" and y_all.size == 1) or y_all.size == k
    if not ok or loss not in LOSS_NAMES:
        segs = [*sym("dL/da = "), (fmt(da), BWD), (f"   (from the loss: {name})", NOTE)]
        return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")
    if loss == "cross_entropy":
        c = int(y_all[0])
        p = float(softmax(a_all)[j])
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
    elif loss in ("mse", "half_mse", "half_sse"):
        two = "2" if loss == "mse" else ""
        segs = [*sym(f"dL/da = {two}(a − y){sc} = {two}("), (fmt(a), FWD),
                (f" − {fmt(y)}){sc} = ", PLAIN)]  # fmt: skip
    else:  # l1
        segs = [*sym(f"dL/da = sign(a − y){sc} = sign("), (fmt(a), FWD),
                (f" − {fmt(y)}){sc} = ", PLAIN)]  # fmt: skip
    segs += [(fmt(da), BWD), (f"   ({name})", NOTE)]
    return FormulaLine("da", "dL/da", tuple(segs), da, section="backward")


def output_dz_shortcut(
    snap: Snapshot, ls: LayerSnapshot, j: int, dz: float, loss: str | None, m, m_txt: str
) -> FormulaLine | None:
    """Seed 002's simplification on the output: dz = a − y for BCE on a sigmoid
    (and softmax − onehot for cross-entropy on logits), /m for a mean loss."""
    y_all = f64(snap.target).reshape(-1)
    k = ls.width
    sc = scale_text(loss, k, m_txt) if loss else ""
    if loss == "bce" and ls.activation == "sigmoid" and y_all.size == k:
        a, y = float(ls.a[j]), float(y_all[j])
        segs = [*sym(f"     = (a − y){sc} = ("), (fmt(a), FWD), (f" − {fmt(y)}){sc} = ", PLAIN),
                (fmt(dz), BWD), ("   (the lecture notes on backprop: σ' cancels BCE's denominator)", NOTE)]  # fmt: skip
        return FormulaLine("dz_short", "dL/dz", tuple(segs), dz, section="backward")
    if loss == "cross_entropy" and ls.activation == "linear" and y_all.size == 1:
        c = int(y_all[0])
        p = float(softmax(f64(ls.z))[j])
        segs = [*sym(f"     = (softmax(z)ⱼ − onehotⱼ){sc} = ("), (fmt(p), FWD),
                (f" − {fmt(1.0 if c == j else 0.0)}){sc} = ", PLAIN), (fmt(dz), BWD)]  # fmt: skip
        return FormulaLine("dz_short", "dL/dz", tuple(segs), dz, section="backward")
    return None
