"""What a health report holds: numpy-only frozen types (views import them).

A :class:`HealthReport` rides on the snapshot of the step it describes
(``Snapshot.health``) and is kept by the session's history as a series
(:class:`nnviz.core.health_history.HealthHistory`). Computed by
:mod:`nnviz.core.health` on the training thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: the distributions kept per layer, in this order
KINDS = ("weight", "grad", "a", "z")
KIND_LABELS = {
    "weight": "weights",
    "grad": "gradients",
    "a": "activations",
    "z": "pre-activations",
}
#: percentiles of the distribution bands (TensorBoard's: min, ±1.5σ, ±1σ, ±0.5σ, median, max)
PERCENTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
RELU_FAMILY = ("relu", "leaky_relu")  # units can die: never active
SATURATING = ("sigmoid", "tanh")  # units can saturate: g'(z) near 0
#: the customary size of an update, as a fraction of the weights (a rule of thumb)
UPDATE_RATIO_GOOD = 1e-3
UPDATE_BAND = (1e-4, 1e-2)


@dataclass(frozen=True)
class Distribution:
    """A histogram with its bins (``edges``, n+1) and percentiles of the finite
    values (``PERCENTILES``); ``nonfinite`` counts NaN/±inf, left out.
    ``sampled``: the values were a strided sample of a larger tensor."""

    edges: np.ndarray
    counts: np.ndarray
    percentiles: np.ndarray
    nonfinite: int = 0
    sampled: bool = False

    @property
    def total(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class LayerHealth:
    """One layer of neurons (a Linear and its activation) at one step.

    ``grad_norm``/``grad_max`` are ‖∂L/∂W‖ and max |∂L/∂W| of the Linear's
    weight; ``update_ratio`` is ‖ΔW‖/‖W‖ of the optimizer step taken after
    it (NaN when there was none); ``dead_fraction`` (ReLU family) the units
    never active over the last batches seen, ``saturated_fraction``
    (sigmoid, tanh) the (sample, unit) pairs whose g'(z) is below 5 % of
    its peak; None where the activation has no such notion.
    """

    name: str
    activation: str
    width: int
    grad_norm: float
    grad_max: float
    weight_norm: float
    update_ratio: float
    dead_fraction: float | None
    saturated_fraction: float | None
    dists: tuple[Distribution | None, ...]  # one per KINDS entry
    # which units are dead (ReLU family: never active over the window), for marking them
    dead_units: np.ndarray | None = None

    def dist(self, kind: str) -> Distribution | None:
        return self.dists[KINDS.index(kind)]

    def to_json(self) -> dict:
        out = {
            "name": self.name,
            "activation": self.activation,
            "grad_norm": _num(self.grad_norm),
            "grad_max": _num(self.grad_max),
            "weight_norm": _num(self.weight_norm),
            "update_ratio": _num(self.update_ratio),
        }
        if self.dead_fraction is not None:
            out["dead_fraction"] = _num(self.dead_fraction)
        if self.saturated_fraction is not None:
            out["saturated_fraction"] = _num(self.saturated_fraction)
        return out


@dataclass(frozen=True)
class HealthReport:
    """Every layer's health at one step (``step``: steps done before it, as
    ``Snapshot.step``) and the warnings in plain words."""

    step: int
    layers: tuple[LayerHealth, ...]
    warnings: tuple[str, ...] = ()
    dead_window: int = 1  # batches the dead fractions are over

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "layers": [layer.to_json() for layer in self.layers],
            "warnings": list(self.warnings),
        }


def _num(v: float | None):
    """JSON has no NaN: None for a missing or non-finite number."""
    if v is None or not math.isfinite(v):
        return None
    return float(v)
