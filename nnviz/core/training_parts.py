"""Losses and optimizers, by the names the app and the command line use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from nnviz.core.errors import NnvizError


class HalfSSE(nn.Module):
    """½ Σ (y − ŷ)²: the error seed 000's from-scratch network descends."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((output - target) ** 2).sum()


class HalfMSE(nn.Module):
    """½ Σ (y − ŷ)² / (m·k): MSE halved, TensorFlow Playground's ½(out − label)²
    averaged over the batch (the Playground preset's loss, issue 11)."""

    reduction = "mean"

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((output - target) ** 2).mean()


@dataclass(frozen=True)
class LossInfo:
    name: str
    label: str
    make: Callable[[], nn.Module]
    classification: str  # "binary" (one probability output), "multiclass" (logits), "any"


LOSSES: dict[str, LossInfo] = {
    i.name: i
    for i in (
        LossInfo("mse", "MSE (mean)", lambda: nn.MSELoss(), "any"),
        LossInfo("half_mse", "½·MSE (mean)", HalfMSE, "any"),
        LossInfo("half_sse", "½·SSE (sum)", HalfSSE, "any"),
        LossInfo("l1_mean", "L1 (mean)", lambda: nn.L1Loss(reduction="mean"), "any"),
        LossInfo("l1_sum", "L1 (sum)", lambda: nn.L1Loss(reduction="sum"), "any"),
        LossInfo("bce", "Binary cross-entropy", lambda: nn.BCELoss(), "binary"),
        LossInfo("cross_entropy", "Cross-entropy", lambda: nn.CrossEntropyLoss(), "multiclass"),
    )
}


# A model file's own loss callable or optimizer factory: the name the config carries
# for it (the callable itself lives in :class:`CustomParts`, never in the config,
# which crosses to the training process).
CUSTOM = "custom"


@dataclass(frozen=True)
class CustomParts:
    """What a user's model file brings beyond names: its loss callable (used when
    the config's loss is ``CUSTOM``), its optimizer factory ``optimizer(params)``
    (when the config's optimizer is ``CUSTOM``), and its task, which decides the
    accuracy: ``"classify"`` (argmax over the class dimension, or a threshold for
    0/1 targets) or ``"regress"`` (no accuracy)."""

    loss: Callable | None = None
    loss_label: str = ""
    optimizer: Callable | None = None
    default_lr: float | None = None  # the factory's own learning rate
    task: str = "classify"
    logits: bool = False  # 0/1 targets against logits (threshold 0, not 0.5)


def make_loss(name: str, parts: CustomParts | None = None) -> Callable:
    if name == CUSTOM:
        if parts is None or parts.loss is None:
            raise NnvizError("the custom loss comes from a model file; choose a named loss")
        return parts.loss
    try:
        return LOSSES[name].make()
    except KeyError:
        raise NnvizError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
    "adamw": torch.optim.AdamW,
    "sparseadam": torch.optim.SparseAdam,
    "adamax": torch.optim.Adamax,
    "asgd": torch.optim.ASGD,
    "rmsprop": torch.optim.RMSprop,
    "rprop": torch.optim.Rprop,
}

OPTIMIZER_LABELS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adadelta": "Adadelta",
    "adagrad": "Adagrad",
    "adamw": "AdamW",
    "sparseadam": "SparseAdam",
    "adamax": "Adamax",
    "asgd": "ASGD",
    "rmsprop": "RMSprop",
    "rprop": "Rprop",
}


def has_sparse_gradients(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse for m in model.modules())


def make_optimizer(
    name: str, model: nn.Module, lr: float, parts: CustomParts | None = None
) -> torch.optim.Optimizer:
    if name == CUSTOM:
        if parts is None or parts.optimizer is None:
            raise NnvizError("the custom optimizer comes from a model file; choose a named one")
        opt = parts.optimizer([p for p in model.parameters() if p.requires_grad])
        if parts.default_lr is None or lr != parts.default_lr:  # --lr / the app's setting
            for group in opt.param_groups:
                group["lr"] = lr
        return opt
    key = name.strip().lower()
    if key not in OPTIMIZERS:
        raise NnvizError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_LABELS.values())}"
        )
    if not (lr > 0 and lr < float("inf")):
        raise NnvizError(f"the learning rate must be a positive number, got {lr!r}")
    params: Iterable[nn.Parameter] = [p for p in model.parameters() if p.requires_grad]
    if key == "sparseadam" and not has_sparse_gradients(model):
        raise NnvizError(
            "SparseAdam only works on sparse gradients (nn.Embedding(sparse=True)); "
            "this model's layers have dense gradients, so choose Adam or AdamW instead"
        )
    return OPTIMIZERS[key](params, lr=lr)


# --- any model (a model file's): its output, accuracy and shape ----------------------


def first_tensor(out) -> torch.Tensor | None:
    """The output a model returned, or the first tensor in it (a tuple, a dict)."""
    if isinstance(out, torch.Tensor):
        return out
    items = out.values() if isinstance(out, dict) else out if isinstance(out, list | tuple) else ()
    for item in items:
        found = first_tensor(item)
        if found is not None:
            return found
    return None


def accuracy_of(out, y: torch.Tensor, parts: CustomParts) -> float | None:
    """A model file's accuracy, decided by the shapes: class indices against
    scores with one more dimension (the class dimension: last, or torch's dim 1),
    0/1 targets against one score each; None for regression or shapes that say
    nothing about classes."""
    out = first_tensor(out)
    if parts.task != "classify" or out is None:
        return None
    if y.dtype == torch.long and out.ndim == y.ndim + 1:
        if out.shape[:-1] == y.shape:
            pred = out.argmax(dim=-1)
        elif out.shape[:1] + out.shape[2:] == y.shape:
            pred = out.argmax(dim=1)
        else:
            return None
        return float((pred == y).float().mean())
    if y.is_floating_point() and out.shape == y.shape:
        cut = 0.0 if parts.logits else 0.5
        return float(((out > cut) == (y > 0.5)).float().mean())
    return None


_CHAIN_MODULES = (nn.Linear, nn.Flatten, nn.Dropout, nn.Identity)


def is_linear_chain(model: nn.Module) -> bool:
    """Whether a model is Linear layers and elementwise activations only, each
    Linear's input the previous one's output: what the neuron view draws."""
    from nnviz.core.models import activation_of

    leaves = [m for m in model.modules() if not list(m.children())]
    linears = [m for m in leaves if isinstance(m, nn.Linear)]
    if not linears or any(
        not isinstance(m, _CHAIN_MODULES) and activation_of(m) is None for m in leaves
    ):
        return False
    return all(a.out_features == b.in_features for a, b in zip(linears, linears[1:]))
