"""Autograd graphs of models, trainers and scenarios: what the app, ``nnviz graph``
and ``nnviz render`` capture.

The pieces live in modules of one job each:

- ``nnviz.core.trace``: the frozen trace types (numpy only, no torch),
- ``nnviz.core.autograd_ops``: the op table, one row per op,
- ``nnviz.core.autograd_capture``: recording a forward + backward,
- ``nnviz.core.scalar_graph``: the micrograd-style expansion of a tiny MLP.

This module puts them together for a model and its loss, a trainer's next
batch and a scenario, and re-exports the names callers have always imported
from here. Captures run torch: call them on a worker thread, never the GUI's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import torch
from torch import nn

from nnviz.core.arrays import frozen
from nnviz.core.autograd_capture import Outputs, capture_autograd_graph, module_scope
from nnviz.core.autograd_ops import short_op
from nnviz.core.errors import NnvizError
from nnviz.core.scalar_graph import SCALAR_NODE_BUDGET, scalar_mlp_forward, scalar_rows
from nnviz.core.trace import (
    MAX_SCALAR_WEIGHTS,
    OUTPUT_ID,
    AutogradTrace,
    BackwardStep,
    EdgeGrad,
    GraphNode,
)

__all__ = [
    "MAX_SCALAR_WEIGHTS",
    "OUTPUT_ID",
    "SCALAR_NODE_BUDGET",
    "AutogradTrace",
    "Outputs",
    "BackwardStep",
    "EdgeGrad",
    "GraphNode",
    "call_model",
    "capture_autograd_graph",
    "capture_expression_graph",
    "capture_module_graph",
    "capture_scenario_graph",
    "capture_trainer_graph",
    "module_scope",
    "scalar_mlp_forward",
    "scalar_rows",
    "short_op",
]


def call_model(model: nn.Module, x, kwargs: Mapping | None = None):
    """``model`` applied to one batch ``x``: a tensor is the one argument, a tuple
    or list the positional arguments, a dict the keyword arguments (torchview's
    convention); ``kwargs`` are added as keyword arguments."""
    kw = dict(kwargs or {})
    if isinstance(x, tuple | list):
        return model(*x, **kw)
    if isinstance(x, Mapping):
        return model(**{**x, **kw})
    return model(x, **kw)


def capture_module_graph(
    model: nn.Module,
    x,
    y: torch.Tensor | None = None,
    loss_fn: Callable | None = None,
    *,
    title: str = "",
    note: str = "",
    kwargs: Mapping | None = None,
) -> AutogradTrace:
    """``loss_fn(model(x), y)`` (or ``model(x)`` without a loss), grouped by module;
    a loss that is an ``nn.Module`` groups as module ``loss``. ``x`` is one batch
    as ``call_model`` takes it (a tensor, a tuple or list of arguments, a dict of
    keyword arguments); without a loss the model may return a tuple, list or
    dict of tensors (each is an output of the graph). The model's BatchNorm
    statistics, ``training`` flags and torch's RNG state are as before."""

    def forward():
        out = call_model(model, x, kwargs)
        return (loss_fn(out, y), {}) if loss_fn is not None else (Outputs(out), {})

    extra = {"loss": loss_fn} if isinstance(loss_fn, nn.Module) else None
    trace = capture_autograd_graph(forward, model, title=title, note=note, extra_modules=extra)
    if y is not None and loss_fn is not None:
        trace = replace(trace, target=frozen(y))
    return trace


def capture_trainer_graph(trainer, scalar: bool = False, max_rows: int = 4) -> AutogradTrace:
    """One forward + backward of ``trainer``'s next batch (no update).

    ``scalar``: the micrograd-style graph of the first rows of the batch (at
    most ``max_rows``, fewer when a row alone makes a big graph).
    """
    x, y = trainer.sample_batch()
    trace = _capture_batch(trainer, x, y, scalar, max_rows)
    return replace(trace, train_step=trainer.step_count)


def _capture_batch(trainer, x, y, scalar: bool, max_rows: int) -> AutogradTrace:
    sc = trainer.scenario
    if not scalar:
        return capture_module_graph(
            trainer.model,
            x,
            y,
            trainer.loss_fn,
            title=sc.title,
            note=f"one batch of {int(x.shape[0])}",
        )
    rows = min(scalar_rows(trainer.model, max_rows), int(x.shape[0]))
    fwd, leaves = scalar_mlp_forward(trainer.model, x[:rows], y[:rows], trainer.loss_fn)
    loss = trainer.loss_fn
    trace = capture_autograd_graph(
        fwd,
        leaves,
        title=sc.title,
        note=f"scalar graph of {rows} row{'s' if rows != 1 else ''} of the batch",
        local_names=False,
        extra_modules={"loss": loss} if isinstance(loss, nn.Module) else None,
    )
    trace.module_types.update({p: type(m).__name__ for p, m in trainer.model.named_modules() if p})
    return replace(trace, target=frozen(y[:rows]), scalar=True)


def capture_expression_graph(scenario) -> AutogradTrace:
    """The graph of an expression scenario (``chain-rule``, ``autograd-mean``):
    a handful of scalars, its intermediate results named after its variables."""
    if scenario.kind != "expression":
        raise NnvizError(f"{scenario.id} is a model, not an expression; capture its trainer")
    return capture_autograd_graph(scenario.expression, title=scenario.title)


def capture_scenario_graph(scenario_id: str, scalar: bool = False, seed: int = 0, data_dir=None):
    """The trace ``nnviz graph ID`` prints."""
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario(scenario_id)
    if sc.kind == "expression":
        if scalar:
            raise NnvizError(f"{sc.id} is already a scalar expression; drop --scalar")
        return capture_expression_graph(sc)
    from nnviz.core.engine import TrainConfig, Trainer

    trainer = Trainer(sc, TrainConfig.for_scenario(sc, seed=seed), data_dir=data_dir)
    return capture_trainer_graph(trainer, scalar=scalar)
