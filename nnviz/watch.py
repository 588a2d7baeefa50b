"""``nnviz.watch``: record any training script into a run folder.

::

    import nnviz
    with nnviz.watch(model, "runs/exp1", every=10) as probe:
        for x, y in loader:
            loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
            probe.log(loss=loss)            # one call a step, after backward

Every ``every`` steps the probe records a snapshot: per layer of neurons
(each ``nn.Linear`` and the activation after it) z, a and their gradients
for row 0 of the batch, batch statistics, and every parameter (as the
forward used it) with its gradient. Hooks are installed only for those
steps: :meth:`Probe.log` of step N-1 arms them for step N's forward and
backward, and :meth:`Probe.log` of step N takes them off again, so the
other steps run the plain loop. The disk is written on a background thread,
which also computes the snapshot's per-layer rows and statistics; the
training thread only copies what the next step overwrites (weights,
gradients). A metric logged as a tensor on an accelerator is not converted
each step (``.item()`` would wait for the device): it is kept and converted
with the others on the next recording step, within DEFER_STEPS steps or
DEFER_S seconds, or at close.

Under ``torch.distributed`` (torchrun, DDP) rank 0 writes the run folder and
the other ranks write nothing; at each recording step every rank sends rank
0 a few numbers (its loss, per-layer activation mean/std, per-layer gradient
and parameter norms), gathered with ``torch.distributed`` collectives (so
every rank must call ``log`` at the same steps, as a DDP loop does), and
``nnviz inspect`` flags gradients or parameters that differ across ranks.
The probe opens no connection of its own.
"""

from __future__ import annotations

import math
import sys
import time
import types
from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from nnviz.core.arrays import frozen
from nnviz.core.errors import NnvizError
from nnviz.core.models import neuron_layers, param_count
from nnviz.core.module_capture import ModuleCapture, is_linear_chain
from nnviz.core.runfolder import DEFAULT_BUDGET, RunWriter
from nnviz.core.snapshot import Snapshot
from nnviz.core.step_capture import BufferPool, layer_snapshot

__all__ = ["Probe", "watch"]


def watch(
    model: nn.Module,
    run_dir,
    every: int = 10,
    tensorboard: bool = False,
    meta: dict | None = None,
    snapshot_budget_bytes: int = DEFAULT_BUDGET,
    overwrite: bool = False,
    snapshot_duty: float | None = 0.25,
) -> Probe:
    """Record ``model``'s training into ``run_dir`` (a snapshot every ``every``
    steps; metrics every step). Use as a context manager, or call
    ``probe.close()`` at the end. ``tensorboard=True`` also writes TensorBoard
    event files into ``run_dir/tensorboard``. ``overwrite``: replace a run
    already recorded in ``run_dir``. ``snapshot_duty``: a recording step is
    skipped (no hooks, no copies) while the disk writer has been busy more
    than this fraction of the time, so a big model at ``every=1`` keeps
    training at speed; None records every ``every``-th step whatever it costs."""
    return Probe(
        model, run_dir, every, tensorboard, meta, snapshot_budget_bytes, overwrite, snapshot_duty
    )


def _dist() -> tuple[int, int]:
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


def _first_tensor(obj):
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, list | tuple):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(obj, dict):
        for o in obj.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _row(t: torch.Tensor | None) -> np.ndarray:
    if t is None:
        return frozen(np.zeros(0, dtype=np.float32))
    return frozen(t.detach()[0].reshape(-1) if t.dim() >= 1 and t.shape[0] else t.reshape(-1))


class _Capture:
    """Hooks for one recording step: the model's input/output and weights
    (as its first forward used them), and z, a, dL/dz, dL/da of each layer of
    neurons. Only the step's first gradient-taking forward is kept."""

    def __init__(self, model: nn.Module, layers, full: bool, pool: BufferPool) -> None:
        self.model, self.layers, self.full = model, layers, full
        self.records: dict[str, dict[str, torch.Tensor]] = {}
        self.x = self.out = None
        self.params: dict[str, np.ndarray] | None = None
        self._handles: list = []
        self._done = False  # the first gradient-taking forward has finished

        def pre(_m, args, kwargs):
            if self._done or self.x is not None:
                return
            self.x = _first_tensor(args) if args else _first_tensor(kwargs or {})
            if self.full:  # the weights this forward uses (the update comes later)
                self.params = pool.copy(list(model.named_parameters()))

        def post(_m, _args, out):
            if self._done:
                return
            self.out = _first_tensor(out)
            if torch.is_grad_enabled():
                self._done = True
            else:  # an evaluation forward: wait for the training one
                self.x, self.params = None, None
                self.records.clear()

        # any other model: one block per module call (nnviz.core.module_capture)
        self.modules = None
        if full and not is_linear_chain(model):
            self.modules = ModuleCapture(model, row=0).__enter__()
        self._handles.append(model.register_forward_pre_hook(pre, with_kwargs=True))
        self._handles.append(model.register_forward_hook(post))
        for spec in layers:
            self._hook(spec.linear, spec.linear, "z", "dz")
            if spec.act is not None:
                self._hook(spec.act, spec.linear, "a", "da")

    def _hook(self, path: str, layer: str, key: str, gkey: str) -> None:
        def fwd(_m, _inp, out):
            if self._done or not isinstance(out, torch.Tensor):
                return
            rec = self.records.setdefault(layer, {})
            rec[key] = out.detach()
            if out.requires_grad:

                def grad_hook(g, rec=rec, gkey=gkey):
                    rec[gkey] = g.detach()

                out.register_hook(grad_hook)

        self._handles.append(self.model.get_submodule(path).register_forward_hook(fwd))

    def remove(self) -> None:
        if self.modules is not None:
            self.modules.__exit__(None, None, None)
        for h in self._handles:
            h.remove()
        self._handles.clear()


class Probe:
    """What :func:`watch` returns: call :meth:`log` once a step."""

    def __init__(
        self,
        model: nn.Module,
        run_dir,
        every: int = 10,
        tensorboard: bool = False,
        meta: dict | None = None,
        snapshot_budget_bytes: int = DEFAULT_BUDGET,
        overwrite: bool = False,
        snapshot_duty: float | None = 0.25,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise NnvizError(f"nnviz.watch needs a torch.nn.Module, got {type(model).__name__}")
        every = int(every)
        if every < 1:
            raise NnvizError(f"every must be 1 or more (steps between snapshots), got {every}")
        self.every = every
        self.wrapper = model
        # DistributedDataParallel, DataParallel, torch.compile: hook the module inside
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        self.model: nn.Module = inner if isinstance(inner, nn.Module) else model
        self.rank, self.world_size = _dist()
        self.layers = neuron_layers(self.model)
        self.step = 0  # the step the next log() records, unless given step=
        self.closed = False
        self._capture: _Capture | None = None
        self.writer: RunWriter | None = None
        self.skipped = 0  # recording steps skipped while the disk was behind
        self.snapshot_duty = snapshot_duty
        self._params_pool, self._grads_pool = BufferPool(), BufferPool()
        self._metrics = _Metrics(self)
        if self.rank == 0:
            info = {
                "source": "nnviz.watch",
                "model": type(self.model).__name__,
                "parameters": param_count(self.model),
                "layers": [
                    {
                        "name": s.linear,
                        "activation": s.activation,
                        "width": s.width,
                        "fan_in": s.fan_in,
                    }  # fmt: skip
                    for s in self.layers
                ],
                "every": every,
                "world_size": self.world_size,
                **(meta or {}),
            }
            self.writer = RunWriter(
                run_dir,
                info,
                snapshot_budget_bytes,
                tensorboard,
                self.world_size,
                overwrite,
                max_duty=snapshot_duty,
            )
        self._arm(self.step)

    # --- the user's side -----------------------------------------------------------------------

    def records(self, step: int) -> bool:
        """Whether ``step`` takes a snapshot."""
        return step % self.every == 0

    def log(self, step: int | None = None, **scalars) -> None:
        """The metrics of one step (tensors or numbers), after its backward.

        ``step``: the step's number (default: counted, from 0). On a
        recording step it also takes the snapshot the hooks captured."""
        if self.closed:
            raise NnvizError("this nnviz.watch probe is closed; start a new one to record more")
        s = self.step if step is None else int(step)
        values = {k: _scalar(k, v) for k, v in scalars.items()}
        recording = self.records(s)
        if self.writer is not None:
            self._metrics.add(s, values, flush=recording)
        cap, self._capture = self._capture, None
        if cap is not None:
            cap.remove()
        if recording:
            loss = values.get("loss", math.nan)
            if isinstance(loss, torch.Tensor):  # (rank > 0: not converted by the writer's side)
                loss = float(loss.item())
            if self.world_size > 1:
                self._gather_ranks(s, cap, loss)
            if cap is not None and cap.full and cap.x is not None:
                self.writer.add_snapshot(self._snapshot(s, cap, loss, values))
        self.step = s + 1
        self._arm(self.step)

    def close(self, complete: bool = True, reason: str | None = None) -> None:
        """Take the hooks off and finish the run folder (marks it complete
        unless ``complete`` is False)."""
        if self.closed:
            return
        self.closed = True
        if self.writer is not None:
            self._metrics.flush()
        if self._capture is not None:
            self._capture.remove()
            self._capture = None
        if self.writer is not None:
            self.writer.close(complete, reason)

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # the loop raised: what was recorded stays readable, not "complete"
            self.close(complete=False, reason=f"{exc_type.__name__}: {exc}")

    # --- inside ------------------------------------------------------------------------------

    def _arm(self, step: int) -> None:
        if not self.records(step) or self._capture is not None:
            return
        full = self.writer is not None and (
            self.snapshot_duty is None or self.writer.snapshot_due()
        )
        if self.writer is not None and not full:
            self.skipped += 1
            if self.world_size == 1:
                return  # the disk is behind: this step runs the plain loop
        # (other ranks capture the few numbers of their statistics only)
        self._capture = _Capture(self.model, self.layers, full, self._params_pool)

    def _snapshot(self, step: int, cap: _Capture, loss: float, values: dict):
        """The snapshot of a recording step, as a function the writer thread
        calls: what the next step changes (the gradients, the input and
        output rows, the module blocks) is copied now; the layers' rows and
        statistics are computed there, from the captured activations and
        gradients, which no later step touches."""
        model, specs = self.model, self.layers
        params = cap.params or {n: frozen(p) for n, p in model.named_parameters()}
        named = [(n, p.grad) for n, p in model.named_parameters() if p.grad is not None]
        grads = self._grads_pool.copy(named)
        records = cap.records
        for spec in specs:  # a Linear missing from the copies (shared): copied now
            if records.get(spec.linear, {}).get("z") is not None:
                _copy_linear(spec.linear, model, params, grads)
        x = cap.x
        inp = _row(x)
        input_shape = tuple(int(n) for n in x.shape[1:]) if x.dim() > 1 else (1,)
        out = _row(cap.out)
        blocks = cap.modules.blocks() if cap.modules is not None else ()
        epoch = int(values.get("epoch", 0) or 0)

        def make() -> Snapshot:
            layers = []
            for spec in specs:
                layer = layer_snapshot(spec, records.get(spec.linear, {}), params, grads, model, 0)
                if layer is not None:
                    layers.append(layer)
            return Snapshot(
                step=step,
                epoch=epoch,
                loss=float(loss),
                sample_row=0,
                sample_index=0,
                input=inp,
                input_shape=input_shape,
                target=frozen(np.zeros(0, dtype=np.float32)),
                output=out,
                layers=tuple(layers),
                params=MappingProxyType(params),
                grads=MappingProxyType(grads),
                blocks=blocks,
            )

        return make

    def _gather_ranks(self, step: int, cap: _Capture | None, loss: float) -> None:
        stats = rank_stats(self.model, self.layers, cap, loss)
        gathered: list = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, stats)
        if self.writer is not None:
            self.writer.add_ranks(step, gathered)


@torch.no_grad()
def rank_stats(model: nn.Module, layers, cap: _Capture | None, loss: float) -> dict:
    """This rank's few numbers for the desync check (plain floats)."""
    gnames, pnames = [], []
    sq_g, sq_p, abs_p = [], [], []
    for name, p in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else name
        pf = p.detach().double()
        sq_p.append(pf.pow(2).sum())
        abs_p.append(pf.abs().sum())
        pnames.append(owner)
        if p.grad is not None:
            sq_g.append(p.grad.detach().double().pow(2).sum())
            gnames.append(owner)
    act_mean, act_std = {}, {}
    if cap is not None:
        for spec in layers:
            rec = cap.records.get(spec.linear, {})
            a = rec.get("a", rec.get("z"))
            if a is not None and a.numel():
                af = a.double()
                act_mean[spec.linear] = float(af.mean())
                act_std[spec.linear] = float(af.std()) if af.numel() > 1 else 0.0
    p_vals = torch.stack(sq_p).tolist() if sq_p else []
    a_vals = torch.stack(abs_p).tolist() if abs_p else []
    g_vals = torch.stack(sq_g).tolist() if sq_g else []

    def by_owner(names, vals) -> dict[str, float]:
        out: dict[str, float] = {}
        for n, v in zip(names, vals):
            out[n] = out.get(n, 0.0) + v
        return {n: math.sqrt(v) for n, v in out.items()}

    return {
        "rank": _dist()[0],
        "loss": float(loss),
        "act_mean": act_mean,
        "act_std": act_std,
        "grad_norm": by_owner(gnames, g_vals),
        "layer_param_norm": by_owner(pnames, p_vals),
        "param_norm": math.sqrt(sum(p_vals)),
        "param_abs_sum": float(sum(a_vals)),
    }


def _copy_linear(name: str, model: nn.Module, params: dict, grads: dict) -> None:
    """A Linear's weight and bias (and their gradients) into the step's
    copies when ``named_parameters`` did not give them (a shared layer)."""
    w_name, b_name = f"{name}.weight", f"{name}.bias"
    if w_name in params:
        return
    lin = model.get_submodule(name)
    params[w_name] = frozen(lin.weight)
    if lin.weight.grad is not None:
        grads[w_name] = frozen(lin.weight.grad)
    if lin.bias is not None:
        params[b_name] = frozen(lin.bias)
        if lin.bias.grad is not None:
            grads[b_name] = frozen(lin.bias.grad)


DEFER_STEPS = 32  # metrics on an accelerator: converted at most this many steps late...
DEFER_S = 0.25  # ...or this many seconds (one device sync then, not one a step)


def _deferred(t: torch.Tensor) -> bool:
    """Whether a logged tensor is kept and converted later, with others: one
    on an accelerator (``.item()`` would wait for the device every step)."""
    return t.device.type != "cpu"


class _Metrics:
    """Each step's metrics on their way to the writer. Numbers go at once;
    tensors on an accelerator wait, detached, and are converted together
    (one sync for many steps), at the latest on a recording step, after
    DEFER_STEPS steps or DEFER_S seconds, and at close."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.pending: list[tuple[int, dict]] = []
        self.since = 0.0

    def add(self, step: int, values: dict, flush: bool) -> None:
        if not self.pending and not any(isinstance(v, torch.Tensor) for v in values.values()):
            self.probe.writer.log(step, **values)
            return
        if not self.pending:
            self.since = time.perf_counter()
        self.pending.append((step, values))
        if flush or len(self.pending) >= DEFER_STEPS or time.perf_counter() - self.since > DEFER_S:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        groups: dict[tuple, list] = {}
        for _, values in pending:
            for k, v in values.items():
                if isinstance(v, torch.Tensor):
                    groups.setdefault((v.device, v.dtype), []).append((values, k, v))
        for items in groups.values():
            nums = torch.stack([v.reshape(()) for _, _, v in items]).tolist()  # the one sync
            for (values, k, _), x in zip(items, nums):
                values[k] = float(x)
        for step, values in pending:
            self.probe.writer.log(step, **values)


def _scalar(name: str, v):
    if isinstance(v, bool | int | float):
        return v
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise NnvizError(
                f"probe.log({name}=...) takes one number; got a tensor of shape {tuple(v.shape)}"
            )
        if _deferred(v):
            return v.detach()
        return float(v.detach().item())
    try:
        return float(v)
    except (TypeError, ValueError):
        raise NnvizError(f"probe.log({name}=...) takes a number, got {type(v).__name__}") from None


class _CallableModule(types.ModuleType):
    """Importing ``nnviz.watch`` (the module) makes it the package attribute
    ``nnviz.watch``; calling it calls :func:`watch`, so ``nnviz.watch(model,
    ...)`` works whichever was imported first."""

    def __call__(self, *args, **kwargs) -> Probe:
        return watch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
