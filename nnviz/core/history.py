"""A run's history: every metric, and snapshots bounded by bytes (Qt-free).

The session owns one :class:`History`; views read from it and keep nothing
beyond what they draw. Time travel is a view handed ``snapshots.at(step)``
instead of the newest snapshot.

- :class:`MetricsHistory` keeps the train loss of every step, the
  evaluations (validation loss and accuracy, train accuracy) and the wall
  clock, in growable numpy arrays; the smoothed curve is computed
  incrementally and cached per smoothing weight.
- :class:`SnapshotHistory` keeps snapshots in step order within a byte
  budget: when over it, the snapshot whose gap is smallest for its age is
  dropped, so recent steps stay dense, the gaps grow in proportion to age
  and a whole run (its first snapshot included) stays scrubbable.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import time
from collections.abc import Iterable, Mapping

import numpy as np

from nnviz.core.smoothing import DebiasedEma
from nnviz.core.snapshot import Snapshot

DEFAULT_SNAPSHOT_BUDGET = 256 * 2**20  # bytes
DEFAULT_SMOOTHING = 0.9
_SMOOTHINGS_KEPT = 4  # smoothed curves cached, one per weight asked for


class Growable:
    """A 1-D float64 array that grows by doubling; ``view`` is what is filled.

    A value, once written, is never overwritten: growing copies into a new
    array and ``clear`` starts a new one, so a view handed out earlier (a
    curve a view drew) keeps its numbers."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = int(capacity)
        self._a = np.empty(self._capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def view(self) -> np.ndarray:
        """The filled part, read-only (a view: no copy)."""
        v = self._a[: self._n]
        v.flags.writeable = False
        return v

    def append(self, values) -> None:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        need = self._n + v.size
        if need > self._a.size:
            grown = np.empty(max(need, 2 * self._a.size), dtype=np.float64)
            grown[: self._n] = self._a[: self._n]
            self._a = grown
        self._a[self._n : need] = v
        self._n = need

    def clear(self) -> None:
        self._a = np.empty(self._capacity, dtype=np.float64)
        self._n = 0

    @property
    def nbytes(self) -> int:
        return int(self._a.nbytes)


class MetricsHistory:
    """Train loss per step, evaluations, and when they happened.

    ``version`` changes with every change, so a view redraws only when it
    differs from the version it last drew.
    """

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING) -> None:
        self.steps_per_epoch = 1
        self.version = 0
        # train loss, finite values only (a NaN/Inf is counted, not stored)
        self.train_step, self.train_epoch, self.train_loss = Growable(), Growable(), Growable()
        self.nonfinite_count = 0
        # evaluations (accuracy NaN where there is none)
        self.eval_step, self.eval_epoch = Growable(64), Growable(64)
        self.val_loss, self.val_accuracy = Growable(64), Growable(64)
        self.train_accuracy, self.eval_train_loss = Growable(64), Growable(64)
        # wall clock: seconds since the history started, at each chunk's last step
        self.wall_step, self.wall_s = Growable(64), Growable(64)
        self._t0 = time.perf_counter()
        # smoothed train loss per weight (a few: views with their own sliders)
        self._smooth: dict[float, tuple[DebiasedEma, Growable]] = {}
        self.smoothed(smoothing)
        self.rate = 0.0  # steps per second over the newest chunk

    # --- in ------------------------------------------------------------------------------

    def set_steps_per_epoch(self, n: int) -> None:
        n = max(1, int(n))
        if n != self.steps_per_epoch:
            self.steps_per_epoch = n
            self.version += 1

    def append_train(self, steps, losses, epochs=None) -> None:
        """Losses of training steps (``steps``: the 0-based step that computed each)."""
        steps = np.asarray(steps, dtype=np.float64).reshape(-1)
        losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        if steps.shape != losses.shape:
            raise ValueError(f"{steps.size} steps but {losses.size} losses")
        if epochs is None:
            epochs = steps / self.steps_per_epoch
        epochs = np.asarray(epochs, dtype=np.float64).reshape(-1)
        ok = np.isfinite(losses)
        if not ok.all():
            self.nonfinite_count += int((~ok).sum())
            steps, losses, epochs = steps[ok], losses[ok], epochs[ok]
        self.train_step.append(steps)
        self.train_epoch.append(epochs)
        self.train_loss.append(losses)
        self.version += 1
        _bound_metrics(self)  # issue 13: memory stays bounded over long runs

    def append_eval(
        self,
        step: float,
        val_loss: float | None,
        val_accuracy: float | None = None,
        train_accuracy: float | None = None,
        epoch: float | None = None,
        train_loss: float | None = None,
    ) -> None:
        """One evaluation (accuracies as fractions 0..1, or None)."""
        self.eval_step.append(step)
        self.eval_epoch.append(step / self.steps_per_epoch if epoch is None else epoch)
        self.val_loss.append(_nan(val_loss))
        self.val_accuracy.append(_nan(val_accuracy))
        self.train_accuracy.append(_nan(train_accuracy))
        self.eval_train_loss.append(_nan(train_loss))
        self.version += 1

    def append_metrics(self, event) -> None:
        """A run's ``Metrics`` event (see :mod:`nnviz.core.run`)."""
        self.set_steps_per_epoch(event.steps_per_epoch)
        if len(event.losses):
            steps = np.asarray(event.steps, dtype=np.float64)
            self.append_train(steps, event.losses, steps / self.steps_per_epoch)
            self.wall_step.append(float(event.steps[-1]) + 1)
            self.wall_s.append(time.perf_counter() - self._t0)
        for ev in event.evals:
            if ev is None:
                continue
            self.append_eval(
                ev.step,
                ev.val_loss,
                ev.val_accuracy,
                ev.train_accuracy,
                epoch=ev.epoch,
                train_loss=ev.train_loss,
            )
        self.rate = float(event.rate)

    def clear(self) -> None:
        for g in self._arrays():
            g.clear()
        self._smooth.clear()
        self.nonfinite_count = 0
        self.rate = 0.0
        self._t0 = time.perf_counter()
        self.version += 1

    # --- out ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def last_step(self) -> int:
        """Steps trained so far, as far as this history knows."""
        return int(self.train_step.view[-1]) + 1 if len(self.train_step) else 0

    @property
    def last_loss(self) -> float:
        return float(self.train_loss.view[-1]) if len(self.train_loss) else math.nan

    def smoothed(self, weight: float) -> np.ndarray:
        """The train loss smoothed with ``weight`` (TensorBoard's debiased EMA);
        only what arrived since the last call is computed."""
        entry = self._smooth.pop(weight, None)
        if entry is None:
            entry = (DebiasedEma(weight), Growable())
            while len(self._smooth) >= _SMOOTHINGS_KEPT:
                self._smooth.pop(next(iter(self._smooth)))  # the least recently used
        self._smooth[weight] = entry  # the most recently used last
        ema, out = entry
        done, n = len(out), len(self.train_loss)
        if done < n:
            out.append(ema.update(self.train_loss.view[done:]))
        return out.view

    @property
    def nbytes(self) -> int:
        return sum(g.nbytes for g in self._arrays()) + sum(
            g.nbytes for _, g in self._smooth.values()
        )

    def _arrays(self) -> Iterable[Growable]:
        return (
            self.train_step,
            self.train_epoch,
            self.train_loss,
            self.eval_step,
            self.eval_epoch,
            self.val_loss,
            self.val_accuracy,
            self.train_accuracy,
            self.eval_train_loss,
            self.wall_step,
            self.wall_s,
        )


def _nan(v) -> float:
    return math.nan if v is None else float(v)


# --- metrics thinning (issue 13) ---------------------------------------------------------
# A run of hours appends a loss every step (2,000 steps/s: ~60 bytes a step, 250 MB an
# hour). Once the losses number more than MAX_POINTS, the newest RECENT_POINTS stay at
# full resolution and older steps are averaged in buckets of equal size (mean step,
# mean epoch, mean loss; the smoothed curves alike); when the old part grows past half
# the points, its buckets merge in pairs. So memory stays bounded, the whole run stays
# drawn, and every part of it keeps about the same density.
MAX_POINTS = 100_000
RECENT_POINTS = 25_000


def _bucket_means(a: np.ndarray, start: int, stop: int, size: int) -> np.ndarray:
    """``a`` with ``a[start:stop]`` replaced by the means of its buckets of ``size``."""
    merged = a[start:stop].reshape(-1, size).mean(axis=1)
    return np.concatenate([a[:start], merged, a[stop:]])


def _bound_metrics(m: MetricsHistory) -> None:
    n = len(m.train_loss)
    state = m.__dict__.setdefault("_thinning", [1, 0, 0])  # bucket size, old points, n
    if n < state[2]:  # cleared since: start again
        state[:] = [1, 0, 0]
    if n > MAX_POINTS:
        for weight in list(m._smooth):
            m.smoothed(weight)  # every cached curve computed up to the newest step
        curves = (m.train_step, m.train_epoch, m.train_loss, *(o for _, o in m._smooth.values()))
        size, n_old = state[0], state[1]
        moved = (n - n_old - RECENT_POINTS) // size * size
        arrays = [_bucket_means(g.view, n_old, n_old + moved, size) for g in curves]
        n_old += moved // size
        while n_old > MAX_POINTS // 2:  # the old part's buckets merge in pairs
            even = n_old // 2 * 2
            arrays = [_bucket_means(a, 0, even, 2) for a in arrays]
            n_old, size = even // 2 + (n_old - even), size * 2
        for g, a in zip(curves, arrays, strict=True):
            g.clear()  # a new array: a view handed out earlier keeps its numbers
            g.append(a)
        state[0], state[1] = size, n_old
    state[2] = len(m.train_loss)
    for series in ((m.wall_step, m.wall_s), (m.eval_step, m.eval_epoch, m.val_loss,
                   m.val_accuracy, m.train_accuracy, m.eval_train_loss)):  # fmt: skip
        k = len(series[0])
        if k > MAX_POINTS:  # few of these (one per chunk or evaluation): thin the older
            keep = np.r_[np.arange(0, k - RECENT_POINTS, 2), np.arange(k - RECENT_POINTS, k)]
            for g in series:
                values = g.view[keep]
                g.clear()
                g.append(values)


# --- end metrics thinning (issue 13) ------------------------------------------------------


_LAYER_ARRAYS = ("z", "a", "dz", "da", "weight", "bias", "weight_grad", "bias_grad", "a_mean",
                 "a_std", "dz_abs_mean")  # fmt: skip


def snapshot_nbytes(snap: Snapshot) -> int:
    """Bytes of the arrays a snapshot holds (parameters and gradients included),
    each array counted once: layers share theirs with ``params``/``grads``."""
    arrays: dict[int, np.ndarray] = {}
    for a in (snap.input, snap.target, snap.output, *snap.params.values(), *snap.grads.values()):
        arrays[id(a)] = a
    for layer in snap.layers:
        for name in _LAYER_ARRAYS:
            a = getattr(layer, name)
            if a is not None:
                arrays[id(a)] = a
    if snap.field is not None:
        for a in (snap.field.output, *snap.field.hidden):
            arrays[id(a)] = a
    # issue 9: a non-chain model's blocks (feature maps, their gradients, kernels,
    # histograms) and a health report's distributions are kept with the snapshot too
    _arrays_in((snap.blocks, snap.health), arrays)
    return sum(int(a.nbytes) for a in arrays.values())


def _arrays_in(obj, into: dict[int, np.ndarray]) -> None:
    """Every numpy array in ``obj`` (dataclasses, tuples, lists, mappings), by identity."""
    if isinstance(obj, np.ndarray):
        into[id(obj)] = obj
    elif isinstance(obj, tuple | list):
        for v in obj:
            _arrays_in(v, into)
    elif isinstance(obj, Mapping):
        for v in obj.values():
            _arrays_in(v, into)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _arrays_in(getattr(obj, f.name), into)


class SnapshotHistory:
    """Snapshots in step order, within ``budget`` bytes.

    ``min_interval_s``: while training races, snapshots arrive up to the
    frame rate; one is kept at most this often (a step shown on its own —
    Step, teaching pace — is always kept: consecutive steps are never
    closer than that at full speed only). Keeping a snapshot keeps its
    parameter copies alive, so the engine allocates new ones; kept at a few
    a second that costs training little.
    """

    def __init__(self, budget: int = DEFAULT_SNAPSHOT_BUDGET, min_interval_s: float = 0.2) -> None:
        self.budget = int(budget)
        self.min_interval_s = float(min_interval_s)
        self._steps: list[int] = []
        self._snaps: list[Snapshot] = []
        self._sizes: list[int] = []
        self._times: list[float] = []  # when each was added
        self.nbytes = 0
        self.version = 0
        self._provisional = False  # the newest goes when a newer one comes too soon

    def __len__(self) -> int:
        return len(self._snaps)

    def add(self, snap: Snapshot, now: float | None = None) -> bool:
        """Keep ``snap`` as the newest. The newest is always kept; the one it
        replaces stays only if it came at least ``min_interval_s`` after the
        one before it (or was a step shown on its own), so racing training
        leaves a few snapshots a second behind it, not thirty."""
        now = time.perf_counter() if now is None else now
        if self._steps:
            last = self._steps[-1]
            if snap.step == last:  # the same step seen again (a new sample row): newest wins
                self._drop(len(self._snaps) - 1)
            elif snap.step < last:  # the run went back (undo, reset): forget the future
                cut = bisect.bisect_left(self._steps, snap.step)
                for i in range(len(self._snaps) - 1, cut - 1, -1):
                    self._drop(i)
            elif self._provisional and snap.step - last > 1:
                self._drop(len(self._snaps) - 1)  # too close to the one before it
        if self._steps:
            gap_s = now - self._times[-1]
            self._provisional = gap_s < self.min_interval_s and snap.step - self._steps[-1] > 1
        else:
            self._provisional = False
        size = snapshot_nbytes(snap)
        self._steps.append(snap.step)
        self._snaps.append(snap)
        self._sizes.append(size)
        self._times.append(now)
        self.nbytes += size
        self._thin()
        self.version += 1
        return True

    def _drop(self, i: int) -> None:
        self.nbytes -= self._sizes.pop(i)
        self._steps.pop(i)
        self._snaps.pop(i)
        self._times.pop(i)

    def _thin(self) -> None:
        while self.nbytes > self.budget and len(self._snaps) > 1:
            self._drop(self._thinnest() if len(self._snaps) > 2 else 0)

    def _thinnest(self) -> int:
        """The snapshot to drop: the one whose loss leaves the smallest gap for
        its age (steps before the newest). Dropping it keeps the gaps about
        proportional to age, so a budget of N snapshots covers a run of T
        steps with about N / log2(T) in each doubling of age; the first and
        the newest are never dropped, so the whole run stays scrubbable."""
        s = np.asarray(self._steps, dtype=np.float64)
        gap = s[2:] - s[:-2]
        age = s[-1] - s[1:-1] + 1.0
        return 1 + int(np.argmin(gap / age))

    def clear(self) -> None:
        self._steps.clear()
        self._snaps.clear()
        self._sizes.clear()
        self._times.clear()
        self.nbytes = 0
        self._provisional = False
        self.version += 1

    # --- out ------------------------------------------------------------------------------

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def latest(self) -> Snapshot | None:
        return self._snaps[-1] if self._snaps else None

    def at(self, step: int) -> Snapshot | None:
        """The newest snapshot taken at or before ``step`` (the first one if
        ``step`` comes before every snapshot); None when empty."""
        if not self._snaps:
            return None
        i = bisect.bisect_right(self._steps, step) - 1
        return self._snaps[max(i, 0)]

    def index_of(self, step: int) -> int:
        """Position of :meth:`at`'s snapshot (-1 when empty)."""
        if not self._snaps:
            return -1
        return max(bisect.bisect_right(self._steps, step) - 1, 0)

    def __getitem__(self, i: int) -> Snapshot:
        return self._snaps[i]

    def series(
        self, layer: int, index: int, key: str = "a", until: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One neuron's value over the kept snapshots: (steps, values).

        ``layer`` 0 is the input (its value; ``key`` ignored), layer ``k ≥ 1``
        the k-th layer of neurons (``key``: ``a``, ``z``, ``dz``, ``da``).
        ``until``: only snapshots up to that step (time travel)."""
        n = len(self._snaps) if until is None else bisect.bisect_right(self._steps, until)
        steps, values = [], []
        for snap, step in zip(self._snaps[:n], self._steps[:n]):
            if layer == 0:
                v = snap.input
            elif layer - 1 < len(snap.layers):
                v = getattr(snap.layers[layer - 1], key)
            else:
                continue
            if v is None or index >= v.size:
                continue
            steps.append(step)
            values.append(float(v[index]))
        return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


class History:
    """Everything a session remembers of its run: metrics and snapshots."""

    def __init__(
        self, snapshot_budget: int = DEFAULT_SNAPSHOT_BUDGET, smoothing: float = DEFAULT_SMOOTHING
    ) -> None:
        self.metrics = MetricsHistory(smoothing)
        self.snapshots = SnapshotHistory(snapshot_budget)
        # --- health (issue 12): the health report a snapshot carries goes into
        # history.health as the snapshot is added (nnviz/core/health_history.py)
        from nnviz.core.health_history import HealthHistory

        self.health = HealthHistory()
        add_snapshot = self.snapshots.add

        def add(snap: Snapshot, now: float | None = None) -> bool:
            self.health.add(getattr(snap, "health", None))
            return add_snapshot(snap, now)

        self.snapshots.add = add
        # --- end health (issue 12) ---

    def clear(self) -> None:
        self.metrics.clear()
        self.snapshots.clear()
        self.health.clear()  # --- health (issue 12) ---
