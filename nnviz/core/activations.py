"""Activation functions: the torch module, and numpy twins of g and g'.

The numpy twins serve the reference backprop (``nnviz.core.reference``) and the
formula panels; torch's modules serve the models. Both are keyed by one name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

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
    module: Callable[[], nn.Module]
    g: Callable[[np.ndarray], np.ndarray]
    dg: Callable[[np.ndarray], np.ndarray]  # g'(z), as a function of z
    formula: str  # shown in tooltips and the formula panel


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            nn.Sigmoid,
            _sigmoid,
            lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
            "σ(z) = 1/(1+e⁻ᶻ),  σ'(z) = σ(z)(1−σ(z))",
        ),
        Activation(
            "tanh", nn.Tanh, np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "tanh(z),  1 − tanh²(z)"
        ),
        Activation(
            "relu",
            nn.ReLU,
            lambda z: np.maximum(z, 0.0),
            lambda z: (z > 0).astype(np.result_type(z, np.float64)),
            "max(0, z),  1[z > 0]",
        ),
        Activation(
            "leaky_relu",
            nn.LeakyReLU,
            lambda z: np.where(z > 0, z, 0.01 * z),
            lambda z: np.where(z > 0, 1.0, 0.01),
            "max(0.01z, z),  1 or 0.01",
        ),
        Activation(
            "linear",
            nn.Identity,
            lambda z: np.asarray(z, dtype=np.result_type(z, np.float64)),
            lambda z: np.ones_like(z, dtype=np.result_type(z, np.float64)),
            "z,  1",
        ),
    )
}

#: torch module types that are elementwise activations, by activation name
MODULE_ACTIVATIONS: dict[type, str] = {
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.Identity: "linear",
    nn.GELU: "gelu",
    nn.ELU: "elu",
    nn.SiLU: "silu",
    nn.Softplus: "softplus",
}


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise NnvizError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None


def activation_of(module: nn.Module) -> str | None:
    """The activation name of an elementwise activation module, else None."""
    return MODULE_ACTIVATIONS.get(type(module))


__all__ = ["ACTIVATIONS", "Activation", "activation_of", "get_activation"]
