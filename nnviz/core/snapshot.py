"""Immutable snapshots of a model mid-training, for the views.

A snapshot is captured by the engine only when asked (through forward and
tensor hooks installed for that one step), copied off the device into numpy
and write-protected, so the GUI thread can read it while training goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from nnviz.core.arrays import frozen
from nnviz.core.block_snapshot import BlockSnapshot  # module blocks (issue 9)

__all__ = ["DecisionField", "LayerSnapshot", "Snapshot", "frozen"]


@dataclass(frozen=True)
class LayerSnapshot:
    """One layer of neurons (a Linear and the activation after it).

    Per-sample vectors are for the chosen sample (row ``Snapshot.sample_row``
    of the batch), shape ``(width,)``. ``dz``/``da`` are what autograd
    computed for that row during the step (for a mean-reduced loss they carry
    the 1/m factor). Batch statistics are over the whole batch.
    """

    name: str  # module path of the Linear layer
    activation: str
    z: np.ndarray
    a: np.ndarray
    dz: np.ndarray | None
    da: np.ndarray | None
    weight: np.ndarray  # (width, fan_in)
    bias: np.ndarray | None  # (width,)
    weight_grad: np.ndarray | None
    bias_grad: np.ndarray | None
    a_mean: np.ndarray  # batch mean of a, (width,)
    a_std: np.ndarray
    dz_abs_mean: np.ndarray | None  # batch mean of |dL/dz|
    dead_fraction: float  # fraction of (sample, neuron) pairs with a == 0 (relu)

    @property
    def width(self) -> int:
        return int(self.z.shape[0])


@dataclass(frozen=True)
class DecisionField:
    """A 2-D scenario's model evaluated on a grid over the input plane."""

    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    output: np.ndarray  # (res, res), the positive-class probability
    hidden: tuple[np.ndarray, ...]  # per hidden layer, (width, res/2, res/2) activations


@dataclass(frozen=True)
class Snapshot:
    step: int
    epoch: int
    loss: float
    sample_row: int  # row of the batch the per-sample vectors are taken from
    sample_index: int  # that row's index in the training set
    input: np.ndarray  # the chosen sample's input, flattened
    input_shape: tuple[int, ...]  # e.g. (2,), (28, 28)
    target: np.ndarray  # its target (class index or values)
    output: np.ndarray  # the model's output for it
    layers: tuple[LayerSnapshot, ...]
    params: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    grads: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    field: DecisionField | None = None
    # --- module blocks (issue 9): one per module call, in forward order, for
    # models that are not plain Linear chains (see nnviz/core/module_capture.py)
    blocks: tuple[BlockSnapshot, ...] = ()
    # --- health (issue 12): a HealthReport (nnviz/core/health_types.py) on the
    # steps the engine measured; None on the others ---
    health: object | None = None

    @property
    def widths(self) -> tuple[int, ...]:
        """Neurons per drawn layer, input first."""
        return (int(self.input.size), *(layer.width for layer in self.layers))
