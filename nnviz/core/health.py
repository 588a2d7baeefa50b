"""Training health: per-layer statistics of snapshot steps (Qt-free).

The engine calls :func:`observe` after the optimizer step of every step that
took a snapshot (``Trainer.step``). Everything needed is at hand then: the
snapshot holds each layer's weights and gradients as they were before the
update, the capture holds the whole batch's pre-activations and
activations, and the model holds the updated weights. :class:`HealthTracker`
turns them into a small :class:`~nnviz.core.health_types.HealthReport`
that travels with the snapshot (``Snapshot.health``):

- histograms of weights, gradients, activations and pre-activations, with
  bins fixed per layer (chosen from the first values seen, widened when
  values leave them) and percentile bands;
- per layer ‖∂L/∂W‖, max |∂L/∂W|, and the update ratio ‖ΔW‖/‖W‖;
- dead units (ReLU family: never active over the last ``dead_window``
  batches seen) and saturated units (sigmoid, tanh);
- warnings in plain words (:mod:`nnviz.core.health_warnings`).

Cost: big tensors are histogrammed from a strided sample of at most
``MAX_VALUES`` values, and in the app (snapshots at the frame rate) a full
report is made only as often as keeps its cost under ``COST_SHARE`` of the
training time; a headless run that asks for reports every k steps
(``Trainer.health_every``) gets one on each of them.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import replace

import numpy as np

from nnviz.core.health_types import (
    KINDS,
    PERCENTILES,
    RELU_FAMILY,
    SATURATING,
    Distribution,
    HealthReport,
    LayerHealth,
)
from nnviz.core.health_warnings import health_warnings

__all__ = ["BinRange", "HealthTracker", "distribution", "observe", "tracker_of"]

N_BINS = 30
MAX_VALUES = 4096  # values per histogram; larger tensors: a strided sample
DEAD_WINDOW = 8  # batches a ReLU unit must stay inactive in to count as dead
SATURATION = 0.05  # g'(z) below this fraction of its peak: saturated
COST_SHARE = 0.02  # in the app: reports cost at most this share of the time
MIN_INTERVAL_S = 0.1  # ... and come at most this often
_PEAK_DG = {"sigmoid": 0.25, "tanh": 1.0}


class BinRange:
    """Fixed histogram bins for one series: chosen from the first values
    seen (padded by 5 % each side), widened when values leave them (to
    cover them, plus 10 %), never narrowed, so a layer's histograms over
    time share their bins except where they had to grow."""

    def __init__(self, n_bins: int = N_BINS) -> None:
        self.n_bins = n_bins
        self.lo = self.hi = None
        self.widened = 0  # times the range grew after it was chosen
        self._edges: np.ndarray | None = None

    def edges_for(self, lo: float, hi: float) -> np.ndarray:
        """Bins covering [lo, hi] (finite values' range)."""
        if self.lo is None:
            span = hi - lo
            pad = 0.05 * span if span > 0 else max(abs(lo) * 0.1, 1e-6)
            self._set(lo - pad, hi + pad)
        elif lo < self.lo or hi > self.hi:
            new_lo, new_hi = min(lo, self.lo), max(hi, self.hi)
            pad = 0.1 * (new_hi - new_lo)
            self._set(
                new_lo - pad if lo < self.lo else new_lo, new_hi + pad if hi > self.hi else new_hi
            )
            self.widened += 1
        return self._edges

    def _set(self, lo: float, hi: float) -> None:
        self.lo, self.hi = float(lo), float(hi)
        self._edges = np.linspace(self.lo, self.hi, self.n_bins + 1)
        self._edges.setflags(write=False)


def _sample(values: np.ndarray, max_values: int) -> tuple[np.ndarray, bool]:
    flat = values.reshape(-1)
    if flat.size <= max_values:
        return flat, False
    stride = -(-flat.size // max_values)
    return flat[::stride], True


def distribution(values: np.ndarray, bins: BinRange, max_values: int = MAX_VALUES) -> Distribution:
    """Histogram (in ``bins``, widened if needed) and percentiles of ``values``."""
    v, sampled = _sample(np.asarray(values), max_values)
    finite = np.isfinite(v)
    nonfinite = int(v.size - np.count_nonzero(finite))
    if nonfinite:
        v = v[finite]
    if v.size == 0:
        edges = bins._edges if bins._edges is not None else np.linspace(-1.0, 1.0, bins.n_bins + 1)
        return Distribution(
            edges,
            np.zeros(bins.n_bins, np.int64),
            np.full(len(PERCENTILES), np.nan),
            nonfinite,
            sampled,
        )
    pct = np.percentile(v, PERCENTILES)
    edges = bins.edges_for(float(pct[0]), float(pct[-1]))
    counts = _counts(v, bins)
    pct.setflags(write=False)
    counts.setflags(write=False)
    return Distribution(edges, counts, pct, nonfinite, sampled)


def _counts(v: np.ndarray, bins: BinRange) -> np.ndarray:
    """Counts in ``bins``' equal bins (the last one includes its right edge),
    in float64: np.histogram refuses bins narrower than float32 can split."""
    n = bins.n_bins
    scale = n / (bins.hi - bins.lo)
    idx = ((v.astype(np.float64) - bins.lo) * scale).astype(np.int64)
    np.clip(idx, 0, n - 1, out=idx)
    return np.bincount(idx, minlength=n)


def _norm(a: np.ndarray | None) -> float:
    if a is None:
        return float("nan")
    v = a.reshape(-1)
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        n = float(np.sqrt(np.dot(v, v)))
    if math.isinf(n) and np.isfinite(v).all():  # float32 overflowed: again in float64
        v = v.astype(np.float64)
        n = float(np.sqrt(np.dot(v, v)))
    return n


def _absmax(a: np.ndarray | None) -> float:
    if a is None or a.size == 0:
        return float("nan")
    return float(np.max(np.abs(a)))


class HealthTracker:
    """Per-layer statistics over a run's snapshot steps (see the module docstring).

    ``every_snapshot``: a report on each snapshot step (headless, tests);
    else at most as often as keeps the cost under ``COST_SHARE``."""

    def __init__(
        self,
        dead_window: int = DEAD_WINDOW,
        max_values: int = MAX_VALUES,
        every_snapshot: bool = False,
    ) -> None:
        self.dead_window = dead_window
        self.max_values = max_values
        self.every_snapshot = every_snapshot
        self.reports: deque[HealthReport] = deque(maxlen=4)  # the newest, for warnings
        self._model_id: int | None = None
        self._last_step = -1
        self._bins: dict[tuple[str, str], BinRange] = {}
        self._active: dict[str, deque] = {}  # per layer: units active in each recent batch
        self._next_at = 0.0  # perf_counter time the next report may be made
        self.cost_s = 0.0  # the newest report's cost
        self.error: str | None = None  # why the last report could not be made

    def reset(self) -> None:
        self.reports.clear()
        self._bins.clear()
        self._active.clear()
        self._last_step = -1
        self._next_at = 0.0

    def observe(self, model, snap, capture, layers=None):
        """The snapshot, with a report if one is due (else as it was).

        Call after the optimizer step: ``snap`` holds the weights before it,
        ``model`` those after."""
        if id(model) != self._model_id or snap.step < self._last_step:
            self.reset()  # a new model, a reset or an undo: start over
            self._model_id = id(model)
        self._last_step = snap.step
        t0 = time.perf_counter()
        records = getattr(capture, "records", {}) if capture is not None else {}
        self._note_activity(snap, records)
        if not self.every_snapshot and t0 < self._next_at:
            return snap
        report = self.report(model, snap, records)
        self.cost_s = time.perf_counter() - t0
        self._next_at = time.perf_counter() + max(MIN_INTERVAL_S, self.cost_s / COST_SHARE)
        return replace(snap, health=report)

    def _note_activity(self, snap, records) -> None:
        for layer in snap.layers:
            if layer.activation not in RELU_FAMILY:
                continue
            z = records.get(layer.name, {}).get("z")
            if z is None:
                continue
            active = (z.reshape(z.shape[0], -1) > 0).any(0)
            window = self._active.setdefault(layer.name, deque(maxlen=self.dead_window))
            if window and window[-1].shape != active.shape:
                window.clear()
            window.append(active.cpu().numpy() if hasattr(active, "cpu") else active)

    def report(self, model, snap, records) -> HealthReport:
        named = dict(model.named_parameters())
        out = []
        for item in _layers_of(snap):
            name, activation, width, w_old, w_grad = item
            rec = records.get(name, {})
            z = rec.get("z")
            a = rec.get("a", z)
            p_new = named.get(f"{name}.weight")
            weight_norm = _norm(w_old)
            update = float("nan")
            if p_new is not None and w_old is not None:
                new = p_new.detach().to("cpu").numpy().reshape(w_old.shape)
                with np.errstate(over="ignore", invalid="ignore"):
                    d = new - w_old
                update = _norm(d) / weight_norm if weight_norm > 0 else float("nan")
            z_np = _np(z)
            a_np = _np(a)
            dead = self._dead(name, activation)
            dists = tuple(
                None if v is None else distribution(v, self._bin(name, kind), self.max_values)
                for kind, v in zip(KINDS, (w_old, w_grad, a_np, z_np))
            )
            out.append(
                LayerHealth(
                    name=name,
                    activation=activation,
                    width=width,
                    grad_norm=_norm(w_grad),
                    grad_max=_absmax(w_grad),
                    weight_norm=weight_norm,
                    update_ratio=update,
                    dead_fraction=None if dead is None else float(dead.mean()),
                    saturated_fraction=_saturated(activation, a_np),
                    dists=dists,
                    dead_units=dead,
                )
            )
        layers = tuple(out)
        warnings = health_warnings(layers, list(self.reports))
        window = max((len(w) for w in self._active.values()), default=1)
        report = HealthReport(snap.step, layers, warnings, window)
        self.reports.append(report)
        return report

    def _bin(self, layer: str, kind: str) -> BinRange:
        key = (layer, kind)
        b = self._bins.get(key)
        if b is None:
            b = self._bins[key] = BinRange()
        return b

    def _dead(self, name: str, activation: str) -> np.ndarray | None:
        """The units never active over the window (None: not a ReLU-family layer)."""
        if activation not in RELU_FAMILY:
            return None
        window = self._active.get(name)
        if not window:
            return None
        dead = ~np.logical_or.reduce(list(window))
        dead.setflags(write=False)
        return dead


def _layers_of(snap):
    """(name, activation, width, weight before the step, its gradient) per layer:
    the snapshot's neuron layers; for a model drawn as module blocks (not a
    Linear chain), every module with a weight, named as in the model, its
    type standing for the activation."""
    if snap.layers:
        return [
            (la.name, la.activation, la.width, snap.params.get(f"{la.name}.weight", la.weight),
             la.weight_grad)
            for la in snap.layers
        ]  # fmt: skip
    types = {b.name: b.type for b in getattr(snap, "blocks", ())}
    out = []
    for pname, w in snap.params.items():
        if not pname.endswith(".weight") or w.ndim < 2:
            continue
        name = pname[: -len(".weight")]
        out.append((name, types.get(name, "module"), int(w.shape[0]), w, snap.grads.get(pname)))
    return out


def _np(t) -> np.ndarray | None:
    if t is None:
        return None
    if hasattr(t, "detach"):
        t = t.detach()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        return t.to("cpu").numpy()
    return np.asarray(t)


def _saturated(activation: str, a: np.ndarray | None) -> float | None:
    """The fraction of (sample, unit) pairs whose g'(z) < SATURATION × its peak."""
    if activation not in SATURATING or a is None or a.size == 0:
        return None
    if activation == "sigmoid":
        dg = a * (1.0 - a)
    else:
        dg = 1.0 - a * a
    return float(np.count_nonzero(dg < SATURATION * _PEAK_DG[activation]) / a.size)


def tracker_of(trainer) -> HealthTracker:
    """The trainer's tracker, made on first use (kept in its ``__dict__``)."""
    tracker = trainer.__dict__.get("_health_tracker")
    if tracker is None:
        tracker = trainer.__dict__["_health_tracker"] = HealthTracker()
    return tracker


def observe(trainer, snap, capture):
    """The engine's probe (``Trainer.step``, after ``optimizer.step()``): the
    snapshot with a :class:`HealthReport` when one is due."""
    tracker = tracker_of(trainer)
    tracker.every_snapshot = bool(trainer.__dict__.get("health_every"))
    try:
        return tracker.observe(trainer.model, snap, capture)
    except Exception as exc:  # a model the statistics don't fit must still train
        tracker.error = f"{type(exc).__name__}: {exc}"
        return snap


# --- headless (nnviz train) ----------------------------------------------------------


def headless_every(total_steps: int) -> int:
    """Steps between health reports in a headless run: about 100 in all."""
    return max(1, int(total_steps) // 100)


def newest_report(trainer) -> HealthReport | None:
    tracker = trainer.__dict__.get("_health_tracker")
    return tracker.reports[-1] if tracker is not None and tracker.reports else None


def recent_warnings(trainer) -> list[str]:
    """The warnings of the newest report made before the gradients broke
    (NaN/Inf), else of the newest report; [] when there is none."""
    tracker = trainer.__dict__.get("_health_tracker")
    reports = list(tracker.reports) if tracker is not None else []
    for rep in reversed(reports):
        if all(math.isfinite(la.grad_norm) for la in rep.layers):
            return list(rep.warnings)
    return list(reports[-1].warnings) if reports else []


def health_json(trainer) -> dict | None:
    """``nnviz train --json``'s ``health`` object: the newest report's layers
    (grad_norm, update_ratio, dead_fraction or saturated_fraction) and warnings."""
    report = newest_report(trainer)
    return None if report is None else report.to_json()
