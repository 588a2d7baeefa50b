"""The micrograd-style graph of a tiny MLP: every weight its own scalar node.

``scalar_mlp_forward`` computes the same forward as the model with each neuron
expanded into scalar multiplies, adds and an activation, so that capturing it
(``nnviz.core.autograd_capture``) shows every weight's gradient on its own
node. Only for networks of at most ``MAX_SCALAR_WEIGHTS`` weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nnviz.core.autograd_capture import module_scope
from nnviz.core.errors import NnvizError
from nnviz.core.models import neuron_layers
from nnviz.core.trace import MAX_SCALAR_WEIGHTS

SCALAR_NODE_BUDGET = 60  # rows of the batch are added while a row adds fewer nodes

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "linear": lambda z: z,
    "identity": lambda z: z,
}


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in _ACTIVATIONS:
        raise NnvizError(
            f"the scalar graph handles sigmoid, tanh, relu and linear neurons, not {name!r}; "
            "use the tensor graph for this model"
        )
    return _ACTIVATIONS[name]


def scalar_rows(model: nn.Module, max_rows: int = 4) -> int:
    """How many rows of a batch the scalar graph shows: as many as keep it near
    ``SCALAR_NODE_BUDGET`` nodes (at least one, at most ``max_rows``)."""
    layers = neuron_layers(model)
    if not layers:
        return 1
    per_row = layers[0].fan_in + sum(la.width * (2 * la.fan_in + 1) for la in layers)
    return max(1, min(max_rows, SCALAR_NODE_BUDGET // max(per_row, 1)))


def scalar_mlp_forward(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable
) -> tuple[Callable[[], tuple[torch.Tensor, dict]], dict[str, torch.Tensor]]:
    """The same forward as ``model`` with every neuron expanded into scalar ops.

    Each weight and bias becomes its own scalar leaf (``0.weight[j,i]``), each
    input ``x[r,i]`` too, so every weight's gradient appears on its own node
    (micrograd style). A neuron's sum is named ``z{l}[r,j]`` and its activation
    ``a{l}[r,j]`` (layer ``l`` from 1, row ``r``, neuron ``j``), and its ops belong
    to the Linear's and the activation's module paths. Returns
    ``(forward, leaves)``; ``forward()`` returns ``(loss, named results)``.
    """
    layers = neuron_layers(model)
    mods = dict(model.named_modules())
    n_w = sum(layer.width * (layer.fan_in + 1) for layer in layers)
    if not layers or n_w > MAX_SCALAR_WEIGHTS:
        raise NnvizError(
            f"the scalar graph is for tiny networks (at most {MAX_SCALAR_WEIGHTS} weights, "
            f"this one has {n_w}); use the tensor graph"
        )
    dtype = next(model.parameters()).dtype
    leaves: dict[str, torch.Tensor] = {}

    def leaf(name: str, v: float, param: bool = True) -> torch.Tensor:
        t = torch.tensor(float(v), dtype=dtype, requires_grad=True)
        t = nn.Parameter(t) if param else t  # weights look like parameters
        leaves[name] = t
        return t

    params = []
    for layer in layers:
        lin = mods[layer.linear]
        W = lin.weight.detach().cpu()
        B = lin.bias.detach().cpu() if lin.bias is not None else None
        w = [
            [leaf(f"{layer.linear}.weight[{j},{i}]", W[j, i]) for i in range(W.shape[1])]
            for j in range(W.shape[0])
        ]
        b = (
            [leaf(f"{layer.linear}.bias[{j}]", B[j]) for j in range(W.shape[0])]
            if B is not None
            else None
        )
        params.append((layer, w, b))
    xs = x.detach().cpu().reshape(x.shape[0], -1)
    inputs = [
        [leaf(f"x[{r},{i}]", xs[r, i], param=False) for i in range(xs.shape[1])]
        for r in range(xs.shape[0])
    ]

    def forward() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        named: dict[str, torch.Tensor] = {}
        outs = []
        for r in range(len(inputs)):
            a = inputs[r]
            for li, (layer, w, b) in enumerate(params, start=1):
                act = _activation(layer.activation)
                nxt = []
                for j in range(len(w)):
                    with module_scope(layer.linear):
                        z = w[j][0] * a[0]
                        for i in range(1, len(a)):
                            z = z + w[j][i] * a[i]
                        if b is not None:
                            z = z + b[j]
                    named[f"z{li}[{r},{j}]"] = z
                    with module_scope(layer.act or layer.linear):
                        aj = act(z)
                    if aj is not z:
                        named[f"a{li}[{r},{j}]"] = aj
                    nxt.append(aj)
                a = nxt
            outs.extend(a)
        out = torch.stack(outs)  # one Stack for every output of every row
        target = y.detach().cpu()
        if target.dtype.is_floating_point:  # regression-style targets: match entry by entry
            target = target.reshape(out.shape)
        else:  # class labels: rows of logits
            out = out.reshape(len(inputs), -1)
        return loss_fn(out, target), named

    return forward, leaves
