"""L1/L2 regularisation as TensorFlow Playground has it: ``rate · Σ|w|`` or
``rate · Σw²`` over the weights (not the biases), added to the training loss.
Evaluation reports the plain loss."""

from __future__ import annotations

import math

import torch
from torch import nn

from nnviz.core.errors import NnvizError

KINDS = ("none", "l1", "l2")


def check(kind: str, rate) -> None:
    if kind not in KINDS:
        raise NnvizError(f"unknown regularisation {kind!r}; choose one of {', '.join(KINDS)}")
    ok = isinstance(rate, int | float) and not isinstance(rate, bool)
    if not (ok and math.isfinite(rate) and rate >= 0):
        raise NnvizError(f"the regularisation rate must be a number ≥ 0, got {rate!r}")


def weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight matrices (parameters named ``weight`` with two or more dimensions)."""
    return [
        p
        for name, p in model.named_parameters()
        if p.requires_grad and name.rsplit(".", 1)[-1] == "weight" and p.dim() >= 2
    ]


def penalty(model: nn.Module, kind: str) -> torch.Tensor | None:
    """Σ|w| (l1) or Σw² (l2) over the model's weights; None for "none"."""
    ws = weights(model)
    if kind == "none" or not ws:
        return None
    if kind == "l1":
        return sum(w.abs().sum() for w in ws)
    return sum((w * w).sum() for w in ws)


def regularised(loss_fn, model: nn.Module, kind: str, rate: float):
    """``loss_fn`` with ``rate · penalty`` added (``loss_fn`` itself when there is none)."""
    if kind == "none" or not rate:
        return loss_fn
    rate = float(rate)

    def loss(out, y):
        return loss_fn(out, y) + rate * penalty(model, kind)

    return loss
