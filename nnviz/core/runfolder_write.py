"""Writing a run folder off the training thread (see :mod:`nnviz.core.runfolder_format`).

:class:`RunWriter` takes metrics, snapshots, per-rank statistics and traces
from the training thread and hands them to one background thread that
writes them, so a training step never waits on the disk. Metrics are never
dropped; when snapshots arrive faster than the disk takes them, the queue
keeps the newest few and drops older ones still waiting. Snapshots on disk
are thinned oldest-first to a byte budget the way the app's history is
(:class:`nnviz.core.history.SnapshotHistory`): the first and newest stay,
gaps grow with age, so the whole run stays scrubbable at decreasing density.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import datetime as _dt
import json
import platform
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path

from nnviz.core import runfolder_format as fmt
from nnviz.core.errors import NnvizError
from nnviz.core.history import SnapshotHistory
from nnviz.core.snapshot import Snapshot

DEFAULT_BUDGET = 200_000_000  # bytes of snapshots kept on disk
PENDING_SNAPSHOTS = 8  # snapshots waiting for the disk; older ones are dropped
METRICS_LATENCY_S = 0.1  # metrics reach the disk this soon (batched: no wake-up per step)


_OPEN: weakref.WeakSet = weakref.WeakSet()  # writers not closed yet


@atexit.register
def _close_at_exit() -> None:
    """A script that ends without close(): write what is queued (not complete)."""
    for w in list(_OPEN):
        with contextlib.suppress(Exception):  # exiting: nothing to report to
            w.close(complete=False, reason="the process exited without closing the run")


class _Budget:
    """Steps and sizes of the snapshots on disk; picks which to thin."""

    _thinnest = SnapshotHistory._thinnest  # the app's rule, on our list of steps

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self._steps: list[int] = []
        self._sizes: list[int] = []
        self.nbytes = 0

    def add(self, step: int, size: int) -> list[int]:
        """Note a new snapshot; return the steps to delete to fit the budget."""
        if self._steps and step <= self._steps[-1]:  # the same step again: replaced
            dropped = [s for s in self._steps if s >= step]
            while self._steps and self._steps[-1] >= step:
                self._pop(len(self._steps) - 1)
        else:
            dropped = []
        self._steps.append(int(step))
        self._sizes.append(int(size))
        self.nbytes += int(size)
        while self.nbytes > self.budget and len(self._steps) > 1:
            i = self._thinnest() if len(self._steps) > 2 else 0
            dropped.append(self._steps[i])
            self._pop(i)
        return dropped

    def _pop(self, i: int) -> None:
        self.nbytes -= self._sizes.pop(i)
        self._steps.pop(i)


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("nnviz", "numpy", "torch"):  # (the package is loaded: we are inside it)
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


class RunWriter:
    """Record one run into ``run_dir``.

    ``meta``: anything JSON-able describing the run (model summary, config);
    ``snapshot_budget_bytes``: snapshots kept on disk, thinned oldest-first;
    ``tensorboard``: also write TensorBoard event files into
    ``run_dir/tensorboard`` (scalars every step, weight and gradient
    histograms at each snapshot); ``world_size``: ranks of a distributed run
    (rank 0 writes); ``overwrite``: replace a run already in ``run_dir``;
    ``max_duty``: :meth:`snapshot_due` keeps the writer busy with snapshots
    at most this fraction of the time (None: no limit).

    Every method is cheap on the calling thread: the writing happens on a
    background thread. Use as a context manager or call :meth:`close`, which
    writes everything still queued and marks the run complete.
    """

    def __init__(
        self,
        run_dir,
        meta: dict | None = None,
        snapshot_budget_bytes: int = DEFAULT_BUDGET,
        tensorboard: bool = False,
        world_size: int = 1,
        overwrite: bool = False,
        max_duty: float | None = 0.25,
    ) -> None:
        self.run_dir = Path(run_dir)
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise NnvizError(f"{self.run_dir} is a file, not a folder; pick a folder for the run")
        if (self.run_dir / fmt.META).exists() and not overwrite:
            raise NnvizError(
                f"{self.run_dir} already holds a recorded run; remove it or pick another folder"
            )
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / fmt.SNAPSHOT_DIR).mkdir(exist_ok=True)
            if overwrite:
                self._clear_old()
            header = {
                "format": fmt.FORMAT,
                "version": fmt.FORMAT_VERSION,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "versions": _versions(),
                "world_size": int(world_size),
                "meta": fmt.clean(meta or {}),
            }
            fmt.write_atomic(self.run_dir / fmt.META, json.dumps(header, indent=1).encode())
            self._files = {
                name: open(self.run_dir / name, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
                for name in (fmt.METRICS, fmt.SNAPSHOTS, fmt.RANKS, fmt.TRACES)
            }
        except OSError as exc:
            raise NnvizError(
                f"cannot write the run folder {self.run_dir}: {exc.strerror or exc}"
            ) from None
        self.snapshot_budget_bytes = int(snapshot_budget_bytes)
        self._budget = _Budget(self.snapshot_budget_bytes)
        self._tb = None
        if tensorboard:
            from nnviz.core.tensorboard_io import TensorBoardSink

            self._tb = TensorBoardSink(self.run_dir / fmt.TENSORBOARD_DIR)
        self._cv = threading.Condition()
        self._metrics: collections.deque = collections.deque()
        self._ranks: collections.deque = collections.deque()
        self._snaps: collections.deque = collections.deque()
        self._traces: collections.deque = collections.deque()
        self._busy = False
        self._closing = False
        self._flushing = 0  # threads waiting in flush()
        self.closed = False
        self.error: BaseException | None = None
        self.dropped_snapshots = 0  # dropped in the queue (the disk was behind)
        self.max_duty = None if max_duty is None else min(max(float(max_duty), 0.01), 1.0)
        self._snap_ok_at = 0.0  # when the writer has rested enough for the next snapshot
        self._snap_busy = False
        self.steps_logged = 0
        self.last_step: int | None = None
        self._thread = threading.Thread(target=self._loop, name="nnviz-run-writer", daemon=True)
        self._thread.start()
        _OPEN.add(self)

    def _clear_old(self) -> None:
        for name in (fmt.METRICS, fmt.SNAPSHOTS, fmt.RANKS, fmt.TRACES, fmt.END):
            (self.run_dir / name).unlink(missing_ok=True)
        for folder in (fmt.SNAPSHOT_DIR, fmt.TRACE_DIR):
            for f in (self.run_dir / folder).glob("*.npz"):
                f.unlink()

    # --- the training thread's side -------------------------------------------------------

    def log(self, step: int, **scalars) -> None:
        """The metrics of one step (numbers, or 0-d tensors); never dropped."""
        rec = {"step": int(step)}
        for k, v in scalars.items():
            rec[k] = _number(v)
        self.steps_logged += 1
        self.last_step = int(step)
        self._put(self._metrics, rec)

    def add_snapshot(self, snapshot: Snapshot | Callable[[], Snapshot]) -> None:
        """A snapshot (its arrays must not change afterwards: snapshots are
        frozen), or a function that makes one, called on the writer thread
        (only if the snapshot is written: one dropped while the disk is behind
        is never made)."""
        with self._cv:
            self._check_open()
            if len(self._snaps) >= PENDING_SNAPSHOTS:
                self._snaps.popleft()  # the disk is behind: the newest wins
                self.dropped_snapshots += 1
            self._snaps.append(snapshot)
            self._cv.notify()

    def snapshot_due(self) -> bool:
        """Whether a snapshot handed over now would be written without delay:
        none is queued or being written, and the writer has rested in
        proportion to its last one (``max_duty``). A capture can ask first
        and skip the copying when the disk is behind."""
        return (
            not self._snaps
            and not self._snap_busy
            and (self.max_duty is None or time.perf_counter() >= self._snap_ok_at)
        )

    def add_ranks(self, step: int, ranks: list[dict]) -> None:
        """Per-rank statistics of one step, one dict per rank (rank order)."""
        self._put(self._ranks, {"step": int(step), "ranks": list(ranks)})

    def add_trace(self, step: int, trace) -> None:
        """An :class:`nnviz.core.trace.AutogradTrace` captured at ``step``."""
        with self._cv:
            self._check_open()
            if len(self._traces) >= PENDING_SNAPSHOTS:
                self._traces.popleft()
            self._traces.append((int(step), trace))
            self._cv.notify()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until everything handed over so far is on disk."""
        with self._cv:
            self._flushing += 1
            self._cv.notify_all()
            try:
                self._cv.wait_for(lambda: self._idle() or self.error is not None, timeout)
            finally:
                self._flushing -= 1
        self._raise_error()

    def close(self, complete: bool = True, reason: str | None = None) -> None:
        """Write what is queued, stop the thread and write end.json: the run
        is marked complete, unless ``complete`` is False (the training
        failed or was interrupted: ``reason`` says how)."""
        if self.closed:
            return
        _OPEN.discard(self)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join()
        self.closed = True
        try:
            for f in self._files.values():
                f.close()
            if self._tb is not None:
                self._tb.close()
            if self.error is None:
                end = {
                    "complete": bool(complete),
                    "ended": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "steps": self.steps_logged,
                    "last_step": self.last_step,
                    "dropped_snapshots": self.dropped_snapshots,
                }
                if reason:
                    end["reason"] = str(reason)
                fmt.write_atomic(self.run_dir / fmt.END, json.dumps(end).encode())
        except OSError as exc:
            self.error = self.error or exc
        self._raise_error()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # what was recorded stays readable; the run is not marked complete
            self.close(complete=False, reason=f"{exc_type.__name__}: {exc}")

    def _put(self, queue: collections.deque, item) -> None:
        with self._cv:  # no wake-up: the writer collects metrics every METRICS_LATENCY_S
            self._check_open()
            queue.append(item)

    def _check_open(self) -> None:
        if self._closing:
            raise NnvizError("the run writer is closed; open a new one to record more")

    def _raise_error(self) -> None:
        if self.error is not None:
            exc = self.error
            msg = getattr(exc, "strerror", None) or str(exc)
            raise NnvizError(f"recording into {self.run_dir} failed: {msg}")

    def _idle(self) -> bool:
        return not (self._busy or self._metrics or self._ranks or self._snaps or self._traces)

    # --- the writer thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(
                    lambda: self._snaps or self._traces or self._flushing or self._closing,
                    METRICS_LATENCY_S,
                )
                if self._idle():
                    if self._closing:
                        self._cv.notify_all()
                        return
                    continue
                metrics = list(self._metrics)
                ranks = list(self._ranks)
                self._metrics.clear()
                self._ranks.clear()
                snap = self._snaps.popleft() if self._snaps else None
                trace = self._traces.popleft() if self._traces else None
                self._busy = True
                self._snap_busy = snap is not None
            try:
                if self.error is None:
                    self._write(metrics, ranks, snap, trace)
            except Exception as exc:  # disk full, folder removed: stop writing, keep training
                self.error = exc
                warnings.warn(f"nnviz: recording into {self.run_dir} stopped: {exc}", stacklevel=1)
            snap = trace = None  # (the snapshot's buffers may be reused once released)
            with self._cv:
                self._busy = self._snap_busy = False
                self._cv.notify_all()

    def _write(self, metrics, ranks, snap, trace) -> None:
        if metrics:
            f = self._files[fmt.METRICS]
            f.write("".join(fmt.dumps(r) for r in metrics))
            f.flush()
            if self._tb is not None:
                for r in metrics:
                    self._tb.scalars(r["step"], {k: v for k, v in r.items() if k != "step"})
        if ranks:
            f = self._files[fmt.RANKS]
            f.write("".join(fmt.dumps(r) for r in ranks))
            f.flush()
        if snap is not None:
            self._write_snapshot(snap)
        if trace is not None:
            from nnviz.core.runfolder_trace import trace_arrays

            step, tr = trace
            info, arrays = trace_arrays(tr)
            name = f"{fmt.TRACE_DIR}/step_{step:09d}.npz"
            (self.run_dir / fmt.TRACE_DIR).mkdir(exist_ok=True)
            fmt.write_npz_atomic(self.run_dir / name, arrays)
            f = self._files[fmt.TRACES]
            f.write(fmt.dumps({"step": step, "file": name, "info": info}))
            f.flush()

    def _write_snapshot(self, snap: Snapshot | Callable[[], Snapshot]) -> None:
        t0 = time.perf_counter()
        if callable(snap):
            snap = snap()
        info, arrays = fmt.snapshot_arrays(snap)
        step = int(snap.step)
        name = f"{fmt.SNAPSHOT_DIR}/step_{step:09d}.npz"
        size = fmt.write_npz_atomic(self.run_dir / name, arrays)
        del arrays
        dropped = self._budget.add(step, size)
        f = self._files[fmt.SNAPSHOTS]
        lines = [fmt.dumps({"step": s, "drop": True}) for s in dropped if s == step]
        lines.append(fmt.dumps({"step": step, "file": name, "bytes": size, "info": info}))
        for s in dropped:
            if s != step:
                lines.append(fmt.dumps({"step": s, "drop": True}))
        f.write("".join(lines))
        f.flush()
        for s in dropped:  # delete after the index says so: a reader never finds a hole
            if s != step:
                (self.run_dir / f"{fmt.SNAPSHOT_DIR}/step_{s:09d}.npz").unlink(missing_ok=True)
        if self._tb is not None:
            self._tb.histograms(step, snap)
        if self.max_duty is not None:  # rest in proportion to the work: busy <= max_duty
            # (wall time, not this thread's CPU time: measured, CPU time let twice as
            # many mnist-mlp snapshots through at every=1, and training slowed 1.5x)
            end = time.perf_counter()
            self._snap_ok_at = end + (end - t0) * (1.0 / self.max_duty - 1.0)


def _number(v):
    """A float from a number or a one-element tensor/array; bools and ints kept."""
    if isinstance(v, bool | int):
        return v
    if hasattr(v, "detach"):
        v = v.detach()
        if v.numel() != 1:
            raise NnvizError(
                f"a logged value must be one number, got a tensor of shape {tuple(v.shape)}"
            )
        return float(v.item())
    try:
        return float(v)
    except (TypeError, ValueError):
        raise NnvizError(f"a logged value must be a number, got {type(v).__name__}") from None
