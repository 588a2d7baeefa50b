"""Models: layer-list specs built into ordinary ``torch.nn`` modules.

A layer-list model is ``nn.Sequential(Linear, act, Linear, act, ...)`` (with a
leading ``Flatten`` for image inputs), so ``named_parameters()`` gives the
familiar ``0.weight``, ``0.bias``, ``2.weight`` ... names. Any other
``nn.Module`` is accepted by the engine too; ``neuron_layers`` finds its
Linear layers and the activation that follows each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nnviz.core.activations import MODULE_ACTIVATIONS, get_activation
from nnviz.core.errors import NnvizError


def activation_of(module: nn.Module) -> str | None:
    """The activation name of an elementwise activation module, else None."""
    name = type(module).__name__
    if getattr(nn, name, None) is not type(module):  # a user's class of the same name
        return None
    return MODULE_ACTIVATIONS.get(name)


MAX_LAYER_WIDTH = 4096


@dataclass(frozen=True)
class MLPSpec:
    """A fully connected network.

    ``sizes`` includes the input and output widths (``(2, 4, 4, 1)``);
    ``activations`` has one entry per Linear layer (``len(sizes) - 1``).
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    flatten: bool = False
    bias: bool = True

    def __post_init__(self) -> None:
        if len(self.sizes) < 2:
            raise NnvizError("a network needs at least an input and an output layer")
        for s in self.sizes:
            if not isinstance(s, int) or s < 1:
                raise NnvizError(f"layer sizes must be positive whole numbers, got {s!r}")
            if s > MAX_LAYER_WIDTH * 4:
                raise NnvizError(f"a layer of {s} neurons is too wide for nnviz")
        if len(self.activations) != len(self.sizes) - 1:
            raise NnvizError(
                f"{len(self.sizes) - 1} layers need {len(self.sizes) - 1} activations, "
                f"got {len(self.activations)}"
            )
        for a in self.activations:
            get_activation(a)

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.sizes[1:-1]

    def with_hidden(self, hidden: Sequence[int], activation: str | None = None) -> MLPSpec:
        """The same input/output, other hidden layers (and hidden activation)."""
        hidden = tuple(int(h) for h in hidden)
        act = activation or (self.activations[0] if len(self.activations) > 1 else "tanh")
        return MLPSpec(
            (self.sizes[0], *hidden, self.sizes[-1]),
            (*([act] * len(hidden)), self.activations[-1]),
            self.flatten,
            self.bias,
        )


def build_mlp(spec: MLPSpec, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()] if spec.flatten else []
    for (n_in, n_out), act in zip(zip(spec.sizes[:-1], spec.sizes[1:]), spec.activations):
        layers.append(nn.Linear(n_in, n_out, bias=spec.bias, dtype=dtype))
        if act != "linear":
            layers.append(getattr(nn, get_activation(act).module_name)())
    return nn.Sequential(*layers)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class NeuronLayer:
    """One layer of neurons as the network view draws it.

    ``linear`` is the module path of the ``nn.Linear`` whose output is z;
    ``act`` the path of the elementwise activation applied to it (or None,
    then a = z), and ``activation`` that activation's name.
    """

    linear: str
    act: str | None
    activation: str
    width: int
    fan_in: int


def neuron_layers(model: nn.Module) -> list[NeuronLayer]:
    """Linear layers in registration order, each paired with the activation
    module registered right after it. Works for layer-list models and for
    ordinary modules built from Linear + activation modules."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    layers: list[NeuronLayer] = []
    for i, (name, m) in enumerate(leaves):
        if not isinstance(m, nn.Linear):
            continue
        act_name, act_path = "linear", None
        if i + 1 < len(leaves):
            nxt_name, nxt = leaves[i + 1]
            a = activation_of(nxt)
            if a is not None:
                act_name, act_path = a, nxt_name
        layers.append(NeuronLayer(name, act_path, act_name, m.out_features, m.in_features))
    return layers
