"""What nnviz knows about each autograd op: one table, one row per op.

A row says how the chain-rule panel puts the op's local derivative into words,
whether the op is elementwise (then passed-on / upstream is its local
derivative, entry by entry), how to recover its output from its input when
the op ran inside C++ where Python never saw it, and which saved tensor of
the op holds each of its inputs (torch's private ``_saved_*`` attributes).
Ops are named as ``short_op`` names torch's backward classes: ``MulBackward0``
is ``Mul``. numpy only: the views read the formulas without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

_SAVED_DEFAULT = {0: "_saved_self", 1: "_saved_other"}


@dataclass(frozen=True)
class OpRule:
    name: str  # the short op name: Mul, Addmm, ...
    formula: str = ""  # the local derivative in words ("" when there is no rule to show)
    elementwise: bool = False  # output entry k depends only on entry k of each input
    value_fn: Callable[[np.ndarray], np.ndarray] | None = None  # unary: value from input
    saved: Mapping[int, str] | None = None  # input slot -> the saved tensor holding it


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


_E = True  # elementwise, in the table below
_MATMUL_SAVED = {0: "_saved_self", 1: "_saved_mat2"}

OPS: dict[str, OpRule] = {
    r.name: r
    for r in (
        OpRule("Mul", "the other factor", _E),
        OpRule("Add", "1", _E),
        OpRule("Sub", "+1 / −1", _E),
        OpRule("Rsub", "", _E),
        OpRule("Div", "1/b, −a/b²", _E),
        OpRule("Neg", "−1", _E, np.negative),
        OpRule("Sigmoid", "σ(z)(1 − σ(z))", _E, _sigmoid),
        OpRule("Tanh", "1 − tanh²(z)", _E, np.tanh),
        OpRule("Relu", "1 if z > 0 else 0", _E, lambda x: np.maximum(x, 0)),
        OpRule("Exp", "exp(z)", _E, np.exp),
        OpRule("Log", "1/z", _E),
        OpRule("Pow", "p·z^(p−1)", _E),
        OpRule("Abs", "sign(z)", _E, np.abs),
        OpRule("Sqrt", "1/(2√z)", _E),
        OpRule("Clone", "", _E),
        OpRule("Gelu", "", _E),
        OpRule("Silu", "", _E),
        OpRule("Elu", "", _E),
        OpRule("LeakyRelu", "", _E),
        OpRule("Hardtanh", "", _E),
        OpRule("Softplus", "", _E),
        OpRule("Reciprocal", "", _E),
        OpRule("Square", "", _E),
        OpRule("Sin", "", _E),
        OpRule("Cos", "", _E),
        OpRule("Mean", "1/n"),
        OpRule("Sum", "1"),
        OpRule(
            "Addmm",
            "z = b + x·Wᵀ, so dL/dx = dL/dz·W, dL/dWᵀ = xᵀ·dL/dz, dL/db = Σ_rows dL/dz",
            saved={1: "_saved_mat1", 2: "_saved_mat2"},
        ),
        OpRule("Mm", "z = x·W, so dL/dx = dL/dz·Wᵀ, dL/dW = xᵀ·dL/dz", saved=_MATMUL_SAVED),
        OpRule("Bmm", saved=_MATMUL_SAVED),
        OpRule("T", "transposes the gradient back", value_fn=lambda x: x.T),
        OpRule("View", "reshapes the gradient back"),
        OpRule("Reshape", "reshapes the gradient back"),
        OpRule("Stack", "splits the gradient back to each input"),
        OpRule("LogSoftmax", "g − softmax(z)·Σg row by row (g: upstream)"),
        OpRule("NllLoss", "−1/m at each row's target class, 0 elsewhere"),
        OpRule("BinaryCrossEntropy", "(a − y) / (a(1 − a)·m)"),
        OpRule("MseLoss", "2(ŷ − y)/m"),
    )
}


def short_op(grad_fn_name: str) -> str:
    """``MulBackward0`` → ``Mul``; ``AccumulateGrad`` stays."""
    name = grad_fn_name
    for suffix in ("Backward0", "Backward1", "Backward2", "Backward"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def rule(op: str) -> OpRule:
    """The row of ``op`` (a short name); an op without a row gets an empty one."""
    return OPS.get(op) or OpRule(op)


def local_formula(op: str) -> str:
    """The local derivative of ``op`` in words, "" where the table has none."""
    return rule(op).formula


def saved_input_attr(op: str, slot: int) -> str | None:
    """The saved tensor of an ``op`` node that holds its input at ``slot``."""
    return (rule(op).saved or _SAVED_DEFAULT).get(slot)


def value_from_input(op: str, x: np.ndarray) -> np.ndarray | None:
    """The output of a unary ``op`` from its input's value (float64), where the
    table knows how; else None."""
    fn = rule(op).value_fn
    if fn is None:
        return None
    with np.errstate(all="ignore"):
        return np.asarray(fn(np.asarray(x, dtype=np.float64)))


def local_derivative(op: str, up: np.ndarray | None, passed: np.ndarray | None):
    """The local derivative, passed_on / upstream, where it is one: for an
    elementwise op, or when the op's output is a single number."""
    if up is None or passed is None:
        return None
    if up.size != 1 and not (rule(op).elementwise and up.shape == passed.shape):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        loc = np.where(up != 0, passed / np.where(up != 0, up, 1), np.nan)
    out = np.asarray(loc, dtype=np.float64).reshape(passed.shape)
    out.setflags(write=False)
    return out
