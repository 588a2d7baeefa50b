"""Activation functions: the torch module, and numpy twins of g and g'.

The numpy twins serve the reference backprop (``nnviz.core.reference``) and the
formula panels; torch's modules serve the models. Both are keyed by one name.
Modules are named here (``torch.nn`` class names) and made in
``nnviz.core.models``, so the formula panel (numpy twins only) imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnviz.core.errors import NnvizError


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so that exp never overflows.
    out = np.empty_like(z, dtype=np.result_type(z, np.float64))
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass(frozen=True)
class Activation:
    name: str
    module_name: str  # the torch.nn class, e.g. "Sigmoid"
    g: Callable[[np.ndarray], np.ndarray]
    dg: Callable[[np.ndarray], np.ndarray]  # g'(z), as a function of z
    formula: str  # shown in tooltips and the formula panel


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            "Sigmoid",
            _sigmoid,
            lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
            "σ(z) = 1/(1+e⁻ᶻ),  σ'(z) = σ(z)(1−σ(z))",
        ),
        Activation(
            "tanh", "Tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "tanh(z),  1 − tanh²(z)"
        ),
        Activation(
            "relu",
            "ReLU",
            lambda z: np.maximum(z, 0.0),
            lambda z: (z > 0).astype(np.result_type(z, np.float64)),
            "max(0, z),  1[z > 0]",
        ),
        Activation(
            "leaky_relu",
            "LeakyReLU",
            lambda z: np.where(z > 0, z, 0.01 * z),
            lambda z: np.where(z > 0, 1.0, 0.01),
            "max(0.01z, z),  1 or 0.01",
        ),
        Activation(
            "linear",
            "Identity",
            lambda z: np.asarray(z, dtype=np.result_type(z, np.float64)),
            lambda z: np.ones_like(z, dtype=np.result_type(z, np.float64)),
            "z,  1",
        ),
    )
}

#: torch.nn classes that are elementwise activations, by activation name
MODULE_ACTIVATIONS: dict[str, str] = {
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "Identity": "linear",
    "GELU": "gelu",
    "ELU": "elu",
    "SiLU": "silu",
    "Softplus": "softplus",
}


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise NnvizError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None


__all__ = ["ACTIVATIONS", "MODULE_ACTIVATIONS", "Activation", "get_activation"]
