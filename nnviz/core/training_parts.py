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
        LossInfo("half_sse", "½·SSE (sum)", HalfSSE, "any"),
        LossInfo("l1_mean", "L1 (mean)", lambda: nn.L1Loss(reduction="mean"), "any"),
        LossInfo("l1_sum", "L1 (sum)", lambda: nn.L1Loss(reduction="sum"), "any"),
        LossInfo("bce", "Binary cross-entropy", lambda: nn.BCELoss(), "binary"),
        LossInfo("cross_entropy", "Cross-entropy", lambda: nn.CrossEntropyLoss(), "multiclass"),
    )
}


def make_loss(name: str) -> nn.Module:
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


def make_optimizer(name: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
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
