"""Capturing what every module of any model did in one step, for the network view.

:class:`ModuleCapture` installs forward pre-hooks and forward hooks on every
module of a model for one step only (unwatched steps run the plain torch
loop). Each module call becomes a :class:`BlockSnapshot` in forward order,
with statistics of its output, computed when the module returns (before a
later in-place op such as ``ReLU(inplace=True)`` can change it), and of the
gradient of the loss w.r.t. that output, from a tensor hook on it. A
``Conv2d`` also keeps the chosen sample's feature maps, their gradients and
its kernels; a narrow ``Linear`` or activation (at most ``MAX_UNITS``
outputs a sample) keeps the chosen sample's units and their gradients.
Everything is copied off the device into read-only numpy.

:class:`SnapshotCapture` is the engine's one capture: the neuron layers of
:class:`~nnviz.core.step_capture.LayerCapture` plus, for a model that is
not a plain Linear chain, the module blocks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnviz.core.arrays import frozen
from nnviz.core.block_snapshot import HIST_BINS, MAX_UNITS, BlockSnapshot, TensorStats
from nnviz.core.models import activation_of
from nnviz.core.step_capture import LayerCapture

__all__ = ["ModuleCapture", "SnapshotCapture", "is_linear_chain", "tensor_stats"]

MAX_MAP_CHANNELS = 64  # feature maps kept per Conv2d (the first ones)
MAX_KERNEL_IN = 16  # kernel input channels kept
MAX_UNIT_INPUTS = 4096  # a narrow Linear's input for the sample, kept up to this fan-in
DEAD_TYPES = ("ReLU", "ReLU6")  # outputs exactly 0 mean a dead unit
_CHAIN_TYPES = (nn.Linear, nn.Flatten, nn.Dropout, nn.Identity)


def is_linear_chain(model: nn.Module) -> bool:
    """True when every leaf module is a Linear, an activation, a Flatten, a
    Dropout or an Identity: the neuron view draws such a model whole."""
    for m in model.modules():
        if next(m.children(), None) is not None:
            continue
        if not isinstance(m, _CHAIN_TYPES) and activation_of(m) is None:
            return False
    return True


def _first_tensor(out):
    """The tensors a module returned (tuples, lists and dicts looked into)."""
    found: list[torch.Tensor] = []

    def walk(o, depth=0):
        if isinstance(o, torch.Tensor):
            found.append(o)
        elif depth < 3 and isinstance(o, (tuple, list)):
            for v in o:
                walk(v, depth + 1)
        elif depth < 3 and isinstance(o, dict):
            for v in o.values():
                walk(v, depth + 1)

    walk(out)
    return found


@torch.no_grad()
def tensor_stats(t: torch.Tensor) -> TensorStats | None:
    """:class:`TensorStats` of a tensor, in its own precision (float64 stays
    float64; integers and booleans are counted as float64)."""
    x = t.detach().reshape(-1)
    if x.is_complex():
        x = x.abs()
    if not x.is_floating_point():
        x = x.double()
    total = int(x.numel())
    if total == 0:
        return None
    lo, hi = torch.aminmax(x)
    nonfinite = 0
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):  # NaN or inf: left out
        finite = torch.isfinite(x)
        x = x[finite]
        nonfinite = total - int(x.numel())
        if x.numel() == 0:
            nan = float("nan")
            hist = frozen(torch.zeros(HIST_BINS, dtype=torch.int64))
            return TensorStats(nan, nan, nan, nan, nan, 0.0, hist, 0, nonfinite)
        lo, hi = torch.aminmax(x)
    n = int(x.numel())
    mean = x.mean()
    if n > 1:  # written out: torch.std_mean was ~10× slower on the CPU (measured)
        d = x - mean
        std = torch.dot(d, d).div_(n - 1).sqrt_()
    else:
        std = torch.zeros((), dtype=x.dtype)
    norm = torch.linalg.vector_norm(x)
    nonzero = torch.count_nonzero(x)
    width = float(hi - lo)
    if width > 0:
        # x - lo ≥ 0, so truncating is flooring; hi itself goes in the last bin
        idx = ((x - lo) * (HIST_BINS / (hi - lo))).to(torch.int32).clamp_max_(HIST_BINS - 1)
        hist = torch.bincount(idx, minlength=HIST_BINS)
    else:
        hist = torch.zeros(HIST_BINS, dtype=torch.int64)
        hist[0] = n
    m, sd, a, b, nm = torch.stack([mean, std, lo, hi, norm]).double().cpu().tolist()
    return TensorStats(m, sd, a, b, nm, (n - int(nonzero)) / n, frozen(hist), n, nonfinite)


class _Record:
    __slots__ = ("name", "type", "parent", "depth", "container", "shapes", "act", "grad",
                 "dead", "params", "maps", "map_grads", "kernels", "units", "unit_grads",
                 "unit_inputs")  # fmt: skip

    def __init__(self, name: str, type_: str, parent: str, depth: int, params: int) -> None:
        self.name, self.type, self.parent, self.depth = name, type_, parent, depth
        self.container = False
        self.shapes: tuple = ()
        self.act = self.grad = self.dead = None
        self.params = params
        self.maps = self.map_grads = self.kernels = None
        self.units = self.unit_grads = self.unit_inputs = None

    def freeze(self) -> BlockSnapshot:
        return BlockSnapshot(
            name=self.name,
            type=self.type,
            parent=self.parent,
            depth=self.depth,
            container=self.container,
            shape=self.shapes[0] if self.shapes else (),
            out_shapes=self.shapes,
            act=self.act,
            grad=self.grad,
            dead_fraction=self.dead,
            params=self.params,
            maps=self.maps,
            map_grads=self.map_grads,
            kernels=self.kernels,
            units=self.units,
            unit_grads=self.unit_grads,
            unit_inputs=self.unit_inputs,
        )


class ModuleCapture:
    """Forward hooks on every module and a tensor hook on each output, for
    one forward and backward; :meth:`blocks` gives what they saw.

    ``row`` is the batch row whose Conv2d feature maps are kept (it wraps
    around the batch). The model itself is not a block unless it has no
    submodules."""

    def __init__(self, model: nn.Module, row: int = 0, grads: bool = True) -> None:
        self.model, self.row, self.grads = model, int(row), grads
        self.records: list[_Record] = []
        self._stack: list[_Record] = []
        self._calls: dict[str, int] = {}
        self._handles: list = []

    def __enter__(self) -> ModuleCapture:
        root_is_leaf = next(self.model.children(), None) is None
        for name, module in self.model.named_modules():
            if module is self.model and not root_is_leaf:
                continue
            self._handles.append(module.register_forward_pre_hook(self._pre(name, module)))
            self._handles.append(module.register_forward_hook(self._post(module)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._stack.clear()

    def blocks(self) -> tuple[BlockSnapshot, ...]:
        return tuple(r.freeze() for r in self.records if r.shapes)

    # --- hooks ----------------------------------------------------------------------------

    def _pre(self, name: str, module: nn.Module):
        params = sum(p.numel() for p in module.parameters())
        type_ = type(module).__name__

        def pre(_m, _args):
            k = self._calls[name] = self._calls.get(name, 0) + 1
            parent = self._stack[-1] if self._stack else None
            if parent is not None:
                parent.container = True
            rec = _Record(
                name if k == 1 else f"{name}#{k}",
                type_,
                parent.name if parent is not None else "",
                len(self._stack),
                params,
            )
            self.records.append(rec)
            self._stack.append(rec)

        return pre

    def _post(self, module: nn.Module):
        is_conv = isinstance(module, nn.Conv2d)
        is_linear = isinstance(module, nn.Linear)
        narrow = is_linear or activation_of(module) is not None  # may keep its units
        dead = type(module).__name__ in DEAD_TYPES

        def post(_m, args, out):
            if not self._stack:
                return
            rec = self._stack.pop()
            tensors = _first_tensor(out)
            if not tensors:
                return
            rec.shapes = tuple(tuple(int(s) for s in t.shape) for t in tensors)
            t = tensors[0]
            rec.act = tensor_stats(t)
            if dead and rec.act is not None:
                rec.dead = rec.act.zero_fraction
            sample = None
            if is_conv and t.dim() in (3, 4):
                sample = t[self.row % t.shape[0]] if t.dim() == 4 else t
                rec.maps = frozen(sample[:MAX_MAP_CHANNELS])
                rec.kernels = frozen(module.weight[:, :MAX_KERNEL_IN][:MAX_MAP_CHANNELS])
            units = narrow and t.dim() == 2 and 0 < t.shape[1] <= MAX_UNITS and t.shape[0] > 0
            if units:  # (batch, units): the chosen sample's units, as the neuron view has them
                r = self.row % t.shape[0]
                rec.units = frozen(t[r])
                x = args[0] if is_linear and args and isinstance(args[0], torch.Tensor) else None
                if x is not None and x.dim() == 2 and x.shape[0] == t.shape[0]:
                    rec.unit_inputs = frozen(x[r]) if x.shape[1] <= MAX_UNIT_INPUTS else None
            if self.grads and t.requires_grad:
                t.register_hook(self._grad_hook(rec, is_conv and sample is not None, units))

        return post

    def _grad_hook(self, rec: _Record, maps: bool, units: bool = False):
        def hook(g):
            rec.grad = tensor_stats(g)
            if maps:
                gs = g[self.row % g.shape[0]] if g.dim() == 4 else g
                rec.map_grads = frozen(gs[:MAX_MAP_CHANNELS])
            if units:
                rec.unit_grads = frozen(g[self.row % g.shape[0]])

        return hook


class SnapshotCapture(LayerCapture):
    """The engine's capture for one snapshot: the neuron layers (as
    :class:`LayerCapture`) and, unless the model is a plain Linear chain,
    one block per module call (:class:`ModuleCapture`)."""

    def __init__(self, model: nn.Module, layers, grads: bool = True, row: int = 0) -> None:
        super().__init__(model, layers, grads)
        self.modules = None if is_linear_chain(model) else ModuleCapture(model, row, grads)

    def __enter__(self) -> SnapshotCapture:
        super().__enter__()
        if self.modules is not None:
            self.modules.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.modules is not None:
            self.modules.__exit__(*exc)
        super().__exit__(*exc)

    def blocks(self) -> tuple[BlockSnapshot, ...]:
        return () if self.modules is None else self.modules.blocks()
