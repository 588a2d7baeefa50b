"""Hand-editing one weight, as TensorFlow Playground allows (issue 11).

The run keeps the model as it was for undo: the trainer kept is a copy with
its own model and optimizer (``Trainer.fork`` shares them, since ``reset``
replaces them; an edit changes them in place)."""

from __future__ import annotations

import copy
import math

import torch

from nnviz.core.errors import NnvizError
from nnviz.core.regularisation import regularised


def kept_copy(t):
    """A fork of trainer ``t`` with its own copy of the model and optimizer."""
    old = t.fork()
    if old.model is t.model:
        old.model, old.optimizer = copy.deepcopy((t.model, t.optimizer))
        old.layers = old._neuron_layers(old.model)
        if getattr(t, "_user_model", None) is not None:
            old._user_model = old.model
    if hasattr(t, "_train_loss"):
        old._train_loss = regularised(old.loss_fn, old.model, t.config.reg, t.config.reg_rate)
    return old


def set_weight(model: torch.nn.Module, layer: str, row: int, col: int | None, value) -> float:
    """Set ``layer``'s weight ``[row, col]`` (its bias ``[row]`` when ``col`` is None)
    to ``value``; returns the value it had."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (ok and math.isfinite(value)):
        raise NnvizError(f"a weight must be a finite number, got {value!r}")
    try:
        lin = model.get_submodule(layer)
    except AttributeError:
        raise NnvizError(f"no layer {layer!r} in this model") from None
    p = getattr(lin, "weight" if col is not None else "bias", None)
    if not isinstance(p, torch.Tensor) or p.dim() != (2 if col is not None else 1):
        raise NnvizError(f"layer {layer!r} has no {'weight matrix' if col is not None else 'bias'}")
    index = (int(row), int(col)) if col is not None else (int(row),)
    if any(not 0 <= i < n for i, n in zip(index, p.shape)):
        raise NnvizError(f"no weight {index} in layer {layer!r}, whose shape is {tuple(p.shape)}")
    with torch.no_grad():
        before = float(p[index])
        p[index] = float(value)
    return before
