"""What one module did in a snapshot's step, for models that are not Linear chains.

Numpy only (views import it): :mod:`nnviz.core.module_capture` fills these
from forward and tensor hooks. Statistics are over the whole batch; the
feature maps of a ``Conv2d`` are the chosen sample's only, so a snapshot
stays small enough to send between processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIST_BINS = 16  # bins of every activation / gradient histogram
MAX_UNITS = 64  # a Linear (or activation) this wide or narrower keeps its units


@dataclass(frozen=True)
class TensorStats:
    """Statistics of one tensor (a module's output or its gradient).

    ``hist`` counts the finite values in ``HIST_BINS`` equal bins over
    ``[lo, hi]``: value ``x`` falls in bin ``floor((x - lo) * B / (hi - lo))``
    (the last bin includes ``hi``); ``std`` is the sample standard deviation;
    ``nonfinite`` counts NaN and ±inf, left out of everything else.
    """

    mean: float
    std: float
    lo: float
    hi: float
    norm: float  # the L2 norm of the whole tensor
    zero_fraction: float
    hist: np.ndarray  # (HIST_BINS,) int64 counts
    count: int
    nonfinite: int = 0


@dataclass(frozen=True)
class BlockSnapshot:
    """One call of one module in the forward pass, in forward order.

    ``name`` is the module's qualified name (``"features.0"``; a second call
    of the same module is ``"features.0#2"``), ``parent`` the name of the
    module it ran inside (``""``: the model itself), ``depth`` how many
    modules it ran inside. A ``container`` ran other modules; the view folds
    and unfolds it. ``act`` are the statistics of its output (the first
    tensor when it returns several; ``out_shapes`` lists them all), ``grad``
    those of dL/d(output) as autograd computed it during the step.
    ``dead_fraction`` (ReLU family only) is the fraction of outputs == 0.
    For a ``Conv2d``: ``maps`` (C, H, W) and ``map_grads`` are the chosen
    sample's output and its gradient, ``kernels`` (out, in, kh, kw) its
    weights (the first ``MAX_*`` of each, see module_capture).
    For a ``Linear`` or an elementwise activation whose output is
    (batch, units) with at most ``MAX_UNITS`` units: ``units`` (units,) is
    the chosen sample's output and ``unit_grads`` its dL/d(output); a
    ``Linear`` also keeps that sample's input, ``unit_inputs`` (fan_in,).
    """

    name: str
    type: str
    parent: str
    depth: int
    container: bool
    shape: tuple[int, ...]
    out_shapes: tuple[tuple[int, ...], ...]
    act: TensorStats | None
    grad: TensorStats | None
    dead_fraction: float | None
    params: int
    maps: np.ndarray | None = None
    map_grads: np.ndarray | None = None
    kernels: np.ndarray | None = None
    units: np.ndarray | None = None
    unit_grads: np.ndarray | None = None
    unit_inputs: np.ndarray | None = None

    @property
    def label(self) -> str:
        """The name a user reads: its last part, else the type."""
        return self.name.rsplit(".", 1)[-1] if self.name else self.type

    @property
    def nbytes(self) -> int:
        arrays = (self.maps, self.map_grads, self.kernels, self.units, self.unit_grads,
                  self.unit_inputs)  # fmt: skip
        hists = [s.hist for s in (self.act, self.grad) if s is not None]
        return sum(int(a.nbytes) for a in (*arrays, *hists) if a is not None)
