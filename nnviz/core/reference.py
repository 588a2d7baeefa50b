"""A numpy reference backprop for layer-list MLPs, written with the seeds' formulas.

It serves two purposes: the tests check autograd against it (and it against
autograd), and the formula panel shows its numbers next to the formulas.

Forward, for layer l (seed 002, mini-batch of m rows)::

    Z[l] = A[l-1] W[l]ᵀ + b[l]          A[l] = g[l](Z[l])

Backward, for layer l, literally as seed 002 writes it::

    dZ[l]      = dA[l] ⊙ g[l]'(Z[l])
    dW[l]      = (1/m) dZ[l]ᵀ A[l-1]
    db[l]      = (1/m) Σ_rows dZ[l]
    dA[l-1]    = dZ[l] W[l]

The 1/m convention. The seed's formulas assume ``dA`` is the per-sample
derivative of a per-sample loss, and that the loss is the mean over the batch.
Torch's mean-reduced losses instead fold the 1/m into the gradient of the
output. Here ``dA`` and ``dZ`` are always **m times** autograd's dL/dA and
dL/dZ ("seed scale"): for a mean-reduced loss that is exactly the seed's
per-sample derivative (e.g. ``dz = a − y`` for BCE on a sigmoid unit); for a
sum-reduced loss (``l1_sum``, ``half_sse``) it is m times the derivative, so
that the seed's 1/m in dW and db gives back the true gradient. Either way
``dW`` and ``db`` equal torch's ``param.grad`` for every supported loss, and
``LayerGrads.dL_dZ`` / ``dL_dA`` (= dZ/m, dA/m) equal what tensor hooks record
(the engine's snapshot ``dz`` / ``da``).

Everything here is float64 numpy; torch is used only to read parameters and
inputs. The seed-001 OR-gate numpy loop is here too (``or_gate_numpy_twin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nnviz.core.activations import get_activation
from nnviz.core.errors import NnvizError
from nnviz.core.models import MLPSpec, neuron_layers

#: losses the reference knows, by the names of ``nnviz.core.training_parts.LOSSES``
REFERENCE_LOSSES = ("mse", "half_mse", "half_sse", "l1_mean", "l1_sum", "bce", "cross_entropy")

_BCE_EPS = 1e-12  # torch's clamp of a(1 − a) in BCE's backward


@dataclass(frozen=True)
class LayerCache:
    """What the forward pass keeps for layer l: its input, z and a, each (m, ·)."""

    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray


@dataclass(frozen=True)
class LayerGrads:
    """Backward results for layer l. ``dA``/``dZ``/``dA_prev`` are at seed scale
    (m × autograd's dL/d·); ``dW``/``db`` are the true gradients (= param.grad)."""

    dA: np.ndarray  # (m, width)
    dZ: np.ndarray  # (m, width)
    dW: np.ndarray  # (width, fan_in)
    db: np.ndarray  # (width,)
    dA_prev: np.ndarray  # (m, fan_in)
    m: int

    @property
    def dL_dA(self) -> np.ndarray:
        """dL/dA as autograd (a tensor hook) reports it."""
        return self.dA / self.m

    @property
    def dL_dZ(self) -> np.ndarray:
        """dL/dZ as autograd (a tensor hook) reports it."""
        return self.dZ / self.m


def _as_float64(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    return np.asarray(a, dtype=np.float64)


def forward(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None],
    activations: Sequence[str],
    X,
) -> list[LayerCache]:
    """Z = A_prev Wᵀ + b, A = g(Z), layer by layer. ``weights[l]`` is (out, in)
    as torch stores it; ``biases[l]`` (out,) or None. X is flattened to (m, n)."""
    if not (len(weights) == len(biases) == len(activations)):
        raise NnvizError("weights, biases and activations need one entry per layer")
    A = _as_float64(X)
    A = A.reshape(A.shape[0], -1)
    caches: list[LayerCache] = []
    for W, b, act in zip(weights, biases, activations):
        W = _as_float64(W)
        Z = A @ W.T
        if b is not None:
            Z = Z + _as_float64(b)
        A_next = get_activation(act).g(Z)
        caches.append(LayerCache(A_prev=A, Z=Z, A=A_next))
        A = A_next
    return caches


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def loss_and_grad(name: str, A_L, Y) -> tuple[float, np.ndarray]:
    """The loss torch's loss ``name`` computes on the output ``A_L`` (m, k), and
    ``dA_L`` = m · dL/dA_L (seed scale, see the module docstring).

    - ``mse``: mean (A − Y)² over all m·k elements; dA = 2(A − Y)/k.
    - ``half_mse``: ½ · mean (A − Y)² (the Playground preset's); dA = (A − Y)/k.
    - ``half_sse``: ½ Σ (A − Y)²; dA = m (A − Y).
    - ``l1_mean`` / ``l1_sum``: |A − Y|; dA = sign(A − Y)/k, resp. m · sign(A − Y).
    - ``bce`` (A are probabilities): dA = (−Y/A + (1 − Y)/(1 − A))/k, computed as
      (A − Y)/(A(1 − A))/k with torch's 1e-12 floor on A(1 − A); after a sigmoid
      this gives the seed's dz = a − y.
    - ``cross_entropy`` (A are logits, Y class indices (m,)): softmax and CE taken
      together, dA = softmax(A) − onehot(Y); after a linear last layer this is dZ.
    """
    A = _as_float64(A_L)
    if A.ndim == 1:
        A = A.reshape(-1, 1)
    m, k = A.shape[0], int(np.prod(A.shape[1:]))
    if name == "cross_entropy":
        y = np.asarray(Y.detach().cpu().numpy() if isinstance(Y, torch.Tensor) else Y)
        y = y.reshape(-1)
        if y.shape[0] != m or not np.issubdtype(y.dtype, np.integer):
            raise NnvizError(
                "cross-entropy needs one whole-number class index per row; "
                f"got targets of shape {y.shape} and type {y.dtype}"
            )
        if y.size and (y.min() < 0 or y.max() >= A.shape[1]):
            raise NnvizError(f"class indices must lie in 0..{A.shape[1] - 1}")
        logp = _log_softmax(A)
        rows = np.arange(m)
        loss = float(-logp[rows, y].mean())
        dA = np.exp(logp)
        dA[rows, y] -= 1.0
        return loss, dA
    Yf = _as_float64(Y)
    if Yf.size != A.size:
        raise NnvizError(
            f"targets have {Yf.size} values but the output has {A.size}; give one target per output"
        )
    Yf = Yf.reshape(A.shape)
    diff = A - Yf
    if name == "mse":
        return float((diff**2).mean()), 2.0 * diff / k
    if name == "half_mse":
        return float(0.5 * (diff**2).mean()), diff / k
    if name == "half_sse":
        return float(0.5 * (diff**2).sum()), m * diff
    if name == "l1_mean":
        return float(np.abs(diff).mean()), np.sign(diff) / k
    if name == "l1_sum":
        return float(np.abs(diff).sum()), m * np.sign(diff)
    if name == "bce":
        if np.any((A < 0) | (A > 1)):
            raise NnvizError("binary cross-entropy needs outputs in [0, 1]: end with a sigmoid")
        with np.errstate(divide="ignore"):
            log_a = np.maximum(np.log(A), -100.0)  # torch clamps the logs at -100
            log_1a = np.maximum(np.log1p(-A), -100.0)
        loss = float(-(Yf * log_a + (1.0 - Yf) * log_1a).mean())
        return loss, diff / np.maximum(A * (1.0 - A), _BCE_EPS) / k
    raise NnvizError(
        f"the reference backprop knows no loss {name!r}; use one of {REFERENCE_LOSSES}"
    )


def backward(
    caches: Sequence[LayerCache],
    dA_L: np.ndarray,
    weights: Sequence[np.ndarray],
    activations: Sequence[str],
) -> list[LayerGrads]:
    """The seed's backward pass, last layer first; returned in layer order.

    ``dA_L`` is at seed scale (as ``loss_and_grad`` returns it), m = its rows."""
    dA = _as_float64(dA_L)
    m = dA.shape[0]
    out: list[LayerGrads] = []
    for cache, W, act in zip(reversed(caches), reversed(weights), reversed(activations)):
        W = _as_float64(W)
        dZ = dA * get_activation(act).dg(cache.Z)  # dZ = dA ⊙ g'(Z)
        dW = (1.0 / m) * dZ.T @ cache.A_prev  # dW = (1/m) dZᵀ A_prev
        db = (1.0 / m) * np.sum(dZ, axis=0)  # db = (1/m) Σ dZ
        dA_prev = dZ @ W  # dA_prev = dZ W
        out.append(LayerGrads(dA=dA, dZ=dZ, dW=dW, db=db, dA_prev=dA_prev, m=m))
        dA = dA_prev
    return out[::-1]


@dataclass(frozen=True)
class ReferencePass:
    """One forward and backward pass of a layer-list model, in numpy."""

    names: tuple[str, ...]  # module path of each layer's Linear ("0", "2", ...)
    activations: tuple[str, ...]
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    caches: tuple[LayerCache, ...]
    grads: tuple[LayerGrads, ...]
    loss: float

    @property
    def m(self) -> int:
        return int(self.caches[0].A_prev.shape[0])


def model_layers(
    model: nn.Module, spec: MLPSpec | None = None
) -> tuple[list[str], list[np.ndarray], list[np.ndarray | None], list[str]]:
    """(Linear paths, weights, biases, activation names) of a layer-list model,
    as float64 numpy copies. With ``spec``, checks that the model matches it."""
    layers = neuron_layers(model)
    acts = [nl.activation for nl in layers]
    if spec is not None and (
        tuple(acts) != tuple(spec.activations) or len(layers) != len(spec.sizes) - 1
    ):
        raise NnvizError(
            f"the model's layers ({', '.join(acts)}) do not match the spec "
            f"({', '.join(spec.activations)}); build the model with build_mlp(spec)"
        )
    for a in acts:
        get_activation(a)  # the reference needs a numpy twin for each
    names, weights, biases = [], [], []
    for nl in layers:
        lin = model.get_submodule(nl.linear)
        names.append(nl.linear)
        weights.append(_as_float64(lin.weight))
        biases.append(_as_float64(lin.bias) if lin.bias is not None else None)
    return names, weights, biases, acts


def reference_pass(model: nn.Module, spec: MLPSpec | None, x, y, loss: str) -> ReferencePass:
    """Forward and backward through ``model``'s parameters on (x, y) in numpy."""
    names, weights, biases, acts = model_layers(model, spec)
    caches = forward(weights, biases, acts, x)
    value, dA_L = loss_and_grad(loss, caches[-1].A, y)
    grads = backward(caches, dA_L, weights, acts)
    return ReferencePass(
        tuple(names),
        tuple(acts),
        tuple(weights),
        tuple(biases),
        tuple(caches),
        tuple(grads),
        value,
    )


def reference_gradients(
    model: nn.Module, spec: MLPSpec | None, x, y, loss: str
) -> dict[str, np.ndarray]:
    """The numpy reference's gradients, keyed like ``model.named_parameters()``
    (``"0.weight"``, ``"0.bias"``, ...), each equal to torch's ``param.grad``;
    plus, per layer, ``"<path>.dz"`` and ``"<path>.da"``: dL/dZ and dL/dA over the
    batch (m, width) as autograd's tensor hooks record them (the engine's
    snapshot ``dz``/``da`` are one row of these), and ``"loss"`` (0-d)."""
    ref = reference_pass(model, spec, x, y, loss)
    out: dict[str, np.ndarray] = {}
    for name, b, g in zip(ref.names, ref.biases, ref.grads):
        out[f"{name}.weight"] = g.dW
        if b is not None:
            out[f"{name}.bias"] = g.db
        out[f"{name}.dz"] = g.dL_dZ
        out[f"{name}.da"] = g.dL_dA
    out["loss"] = np.asarray(ref.loss)
    return out


@dataclass(frozen=True)
class LayerTerms:
    """The numbers in layer l's backprop formulas for one sample (row), at seed
    scale: dz = da ⊙ g'(z); this row's share of dW is dz ⊗ a_prev / m, of db
    dz / m; da_prev = dz W. ``m`` is the batch size."""

    name: str
    activation: str
    formula: str  # g and g' as the activation table writes them
    a_prev: np.ndarray
    z: np.ndarray
    a: np.ndarray
    da: np.ndarray
    g_prime: np.ndarray
    dz: np.ndarray
    dw_outer: np.ndarray  # dz ⊗ a_prev, (width, fan_in)
    da_prev: np.ndarray
    m: int


def formula_terms(ref: ReferencePass, row: int = 0) -> list[LayerTerms]:
    """Per layer, the factors of dZ = dA ⊙ g'(Z) (and what follows) for one row."""
    if not 0 <= row < ref.m:
        raise NnvizError(f"row {row} is not in this batch of {ref.m}")
    terms = []
    for name, act, W, c, g in zip(ref.names, ref.activations, ref.weights, ref.caches, ref.grads):
        a_fn = get_activation(act)
        dz = g.dZ[row]
        terms.append(
            LayerTerms(
                name=name,
                activation=act,
                formula=a_fn.formula,
                a_prev=c.A_prev[row],
                z=c.Z[row],
                a=c.A[row],
                da=g.dA[row],
                g_prime=a_fn.dg(c.Z[row]),
                dz=dz,
                dw_outer=np.outer(dz, c.A_prev[row]),
                da_prev=dz @ W,
                m=ref.m,
            )
        )
    return terms


# --- seed 001: the OR gate, by hand ------------------------------------------------

OR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
OR_TRUTH = np.array([0, 1, 1, 1], dtype=np.float64).reshape(-1, 1)


@dataclass(frozen=True)
class OrGateTwin:
    losses: np.ndarray  # (steps,): the summed L1 error before each step's update
    logged: dict[int, float]  # step -> loss, every ``log_every`` steps, as the seed prints
    initial_weights: np.ndarray  # (2,)
    initial_bias: float
    weights: np.ndarray  # (2,) after the last step
    bias: float
    predictions: np.ndarray  # (4,) the trained model on the truth table


def or_gate_numpy_twin(steps: int = 10_000, lr: float = 0.05, log_every: int = 1000) -> OrGateTwin:
    """Seed 001's hand-written numpy loop (its lost minus signs restored).

    ``numpy.random.seed(1)``, weights ``rand(2, 1)``, bias ``rand(1)[0]`` (drawn
    from a private ``RandomState(1)``: the same numbers, no global side effect);
    f = 1/(1 + e^−(x·w + b)), E = Σ|f − f0|, dE/df = sign(f − f0) (the seed's
    |f − f0|/(f − f0)), df/dy = f(1 − f); w −= lr · xᵀ dE/dy, b −= lr · Σ dE/dy.
    """
    rng = np.random.RandomState(1)
    weights = rng.rand(OR_INPUTS.shape[1], 1)
    bias = rng.rand(1)[0]
    w0, b0 = weights.ravel().copy(), float(bias)

    def sigmoid(v: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-v))

    x, truth = OR_INPUTS, OR_TRUTH
    losses = np.empty(steps, dtype=np.float64)
    logged: dict[int, float] = {}
    for i in range(steps):
        y = np.dot(x, weights) + bias
        f = sigmoid(y)
        error = np.abs(f - truth)
        dE_df = np.sign(f - truth)
        df_dy = f * (1.0 - f)
        dE_dy = dE_df * df_dy
        dE_dw = np.dot(x.T, dE_dy)
        weights = weights - lr * dE_dw
        bias = bias - lr * dE_dy.sum()
        losses[i] = error.sum()
        if log_every and i % log_every == 0:
            logged[i] = float(losses[i])
    preds = sigmoid(np.dot(x, weights) + bias).ravel()
    return OrGateTwin(losses, logged, w0, b0, weights.ravel().copy(), float(bias), preds)


__all__ = [
    "REFERENCE_LOSSES",
    "LayerCache",
    "LayerGrads",
    "LayerTerms",
    "OrGateTwin",
    "ReferencePass",
    "backward",
    "formula_terms",
    "forward",
    "loss_and_grad",
    "model_layers",
    "or_gate_numpy_twin",
    "reference_gradients",
    "reference_pass",
]
