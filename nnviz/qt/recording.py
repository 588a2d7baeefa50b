"""The app's side of run folders: recording its own runs, writing a session's
run folder, and reading a run folder back into a :class:`History`.

The writing itself happens on :class:`~nnviz.core.runfolder.RunWriter`'s own
thread; the GUI thread only hands it what the session already received
(``Metrics`` and ``SnapshotReady`` events), so recording never waits on the
disk and training (in its own process) never notices it.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as _dt
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.core.history import History

# While training races, snapshots arrive up to the frame rate: one is written
# at most this often (a step shown on its own is always written).
RECORD_SNAPSHOT_INTERVAL_S = 1.0
RECORD_ENV = "NNVIZ_RECORD"  # "0": off; a folder: record there (the command line's flags)
EVAL_KEYS = ("val_loss", "val_accuracy", "train_accuracy", "train_loss")


def default_runs_dir() -> Path:
    """The runs folder in the user's data directory (per application)."""
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    return Path(base or Path.home() / ".nnviz") / "runs"


def recording_target() -> Path | None:
    """Where the app records: ``$NNVIZ_RECORD`` (``--record DIR`` / ``--no-record``),
    else the Recording setting (on by default: the runs folder)."""
    env = os.environ.get(RECORD_ENV, "").strip()
    if env.lower() in ("0", "off", "no", "false"):
        return None
    if env and env.lower() not in ("1", "on", "yes", "true"):
        return Path(env)
    from nnviz.qt.preferences import recording_enabled

    return default_runs_dir() if recording_enabled() else None


def run_folder_name(scenario_id: str, when: _dt.datetime | None = None) -> str:
    when = when or _dt.datetime.now()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario_id or "run")
    return f"{when:%Y%m%d-%H%M%S}-{safe}"


def run_meta(info) -> dict:
    """What a run folder says about the app's run (JSON-able)."""
    config = dataclasses.asdict(info.config)
    return {
        "source": "nnviz app",
        "scenario": info.scenario.id,
        "title": info.scenario.title,
        "config": config,
        "widths": list(info.widths),
        "param_count": int(info.param_count),
        "steps_per_epoch": int(info.steps_per_epoch),
        "device": info.device,
        "data": info.data_note,
    }


def log_metrics(writer, event) -> None:
    """A ``Metrics`` event into a :class:`RunWriter` (one record a step)."""
    log = writer.log
    for step, loss in zip(event.steps.tolist(), event.losses.tolist()):
        log(step, loss=loss)
    for ev in event.evals:
        if ev is not None:
            log(
                ev.step,
                train_loss=ev.train_loss,
                train_accuracy=ev.train_accuracy,
                val_loss=ev.val_loss,
                val_accuracy=ev.val_accuracy,
            )


class Recorder:
    """Records each run the session trains into ``root/<time>-<scenario>``.

    A run folder starts with the first step trained after a model was built
    (settings fiddled with but never trained leave nothing behind)."""

    def __init__(self, root: Path, snapshot_budget_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.budget = snapshot_budget_bytes
        self.writer = None
        self.run_dir: Path | None = None
        self.error: str | None = None  # the first failure; recording stopped then
        self._meta: dict | None = None
        self._last_snap_time = -math.inf
        self._last_snap_step = -1

    def new_run(self, info) -> None:
        self.close()
        self._meta = run_meta(info)

    def _open(self) -> bool:
        if self.writer is not None:
            return True
        if self._meta is None or self.error is not None:
            return False
        from nnviz.core.runfolder import DEFAULT_BUDGET, RunWriter

        name = run_folder_name(self._meta["scenario"])
        path, n = self.root / name, 1
        while path.exists():
            n += 1
            path = self.root / f"{name}-{n}"
        try:
            self.writer = RunWriter(path, self._meta, self.budget or DEFAULT_BUDGET)
        except NnvizError as exc:
            self.error = f"Recording stopped: {exc}"
            return False
        self.run_dir = path
        return True

    def _check(self) -> bool:
        w = self.writer
        if w is not None and w.error is not None:
            self.error = f"Recording stopped: {w.error}"
            self.writer = None
            return False
        return True

    def metrics(self, event) -> None:
        if self._open() and self._check():
            log_metrics(self.writer, event)

    def snapshot(self, snap, racing: bool) -> None:
        """Written unless one was written less than RECORD_SNAPSHOT_INTERVAL_S ago
        while training races."""
        if self.writer is None or snap.step == self._last_snap_step or not self._check():
            return
        now = time.perf_counter()
        if racing and now - self._last_snap_time < RECORD_SNAPSHOT_INTERVAL_S:
            return
        self._last_snap_time, self._last_snap_step = now, snap.step
        self.writer.add_snapshot(snap)

    def close(self) -> None:
        w, self.writer = self.writer, None
        self._last_snap_step, self._last_snap_time = -1, -math.inf
        if w is not None:
            with contextlib.suppress(Exception):  # a failing disk must not stop closing
                w.close()


# --- a History into a run folder, and back ------------------------------------------------


def write_history(run_dir: Path, meta: dict, history: History) -> None:
    """The history's metrics and snapshots as a run folder (waits until written)."""
    from nnviz.core.runfolder import RunWriter

    m = history.metrics
    budget = max(history.snapshots.nbytes * 2, 1 << 20)
    writer = RunWriter(run_dir, meta, budget, overwrite=True)
    try:
        for step, loss in zip(m.train_step.view.tolist(), m.train_loss.view.tolist()):
            writer.log(int(step), loss=loss)
        cols = [m.eval_step.view, m.val_loss.view, m.val_accuracy.view, m.train_accuracy.view]
        cols.append(m.eval_train_loss.view)
        for step, vl, va, ta, tl in zip(*(c.tolist() for c in cols)):
            writer.log(int(step), val_loss=vl, val_accuracy=va, train_accuracy=ta, train_loss=tl)
        snaps = history.snapshots
        for i in range(len(snaps)):
            writer.add_snapshot(snaps[i])
            writer.flush()  # the writer's queue keeps only the newest few
        writer.close()
    except NnvizError:
        with contextlib.suppress(NnvizError):
            writer.close()
        raise


def _loss_key(names: list[str]) -> str | None:
    if "loss" in names:
        return "loss"
    for n in names:
        low = n.lower()
        if "loss" in low and "val" not in low and "test" not in low:
            return n
    return None


def fill_history(history: History, records: list[dict], steps_per_epoch: int = 1) -> None:
    """Metric records of a run folder (or TensorBoard logdir) into ``history``:
    the training loss curve, and evaluations where there are some."""
    m = history.metrics
    m.set_steps_per_epoch(steps_per_epoch)
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    key = _loss_key([n for n in names if n not in EVAL_KEYS or n == "loss"])
    steps, losses = [], []
    for r in records:
        v = r.get(key) if key else None
        if v is not None and not any(k in r for k in ("val_loss", "val_accuracy")):
            steps.append(r["step"])
            losses.append(v)
        elif "val_loss" in r or "val_accuracy" in r:
            m.append_eval(
                r["step"],
                r.get("val_loss"),
                r.get("val_accuracy"),
                r.get("train_accuracy"),
                train_loss=r.get("train_loss"),
            )
    if steps:
        m.append_train(np.asarray(steps, dtype=np.float64), np.asarray(losses, dtype=np.float64))


def session_temp_folder(target: Path) -> Path:
    """A temporary folder beside ``target`` to write a session into; refuses a
    ``target`` holding anything but an nnviz session or run."""
    from nnviz.core.checkpoint import checkpoint_path
    from nnviz.core.runfolder import is_run_folder

    if target.exists():
        ours = target.is_dir() and (checkpoint_path(target).is_file() or is_run_folder(target))
        if not ours and (not target.is_dir() or any(target.iterdir())):
            raise NnvizError(
                f"{target} already holds other files; choose a new folder name for the session"
            )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.saving-", dir=target.parent))
    except OSError as exc:
        raise NnvizError(
            f"cannot save the session in {target.parent}: {exc.strerror or exc}; "
            "choose a folder you can write to"
        ) from None


def swap_into_place(tmp: Path, target: Path) -> None:
    """``tmp`` becomes ``target``; an older ``target`` is removed only once
    the new one is in place."""
    if not target.exists():
        os.rename(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


class RecordedRun:
    """A run folder or TensorBoard logdir shown in the window (a reader with
    a one-snapshot cache and a version that changes when it grew)."""

    def __init__(self, reader) -> None:
        self.reader = reader
        self.version = 0
        self._cache: tuple[int | None, object] = (None, None)

    @property
    def complete(self) -> bool:
        return bool(getattr(self.reader, "complete", True))

    @property
    def steps_per_epoch(self) -> int:
        meta = getattr(self.reader, "meta", {}) or {}
        return int(meta.get("steps_per_epoch") or 1)

    def steps(self) -> list[int]:
        return self.reader.snapshot_steps()

    def snapshot_at(self, step: int):
        steps = self.steps()
        if not steps:
            return None
        s = steps[max(bisect.bisect_right(steps, step) - 1, 0)]
        if self._cache[0] != s:
            try:
                self._cache = (s, self.reader.snapshot(s))
            except NnvizError:  # thinned away by the writer meanwhile
                return None
        return self._cache[1]

    def newest(self):
        steps = self.steps()
        return self.snapshot_at(steps[-1]) if steps else None

    def fill(self, history: History) -> None:
        fill_history(history, self.reader.metrics(), self.steps_per_epoch)

    def refresh(self, history: History):
        """Read what was appended (into ``history``); the changes (falsy: none)."""
        changes = self.reader.refresh()
        if changes:
            if changes.metrics:
                fill_history(history, changes.metrics, history.metrics.steps_per_epoch)
            self.version += 1
        return changes


# --- the "Record runs" setting (the More menu) --------------------------------------------


def record_toggle_tip() -> str:
    from nnviz.core.runfolder import DEFAULT_BUDGET

    where = default_runs_dir()
    env = os.environ.get(RECORD_ENV, "").strip()
    note = ""
    if env:  # --record DIR / --no-record (or $NNVIZ_RECORD) decide for this window
        note = " This window follows the command line's --record / --no-record instead."
    return (
        f"Record each run into {where}, one folder a run, to scrub back or reopen later "
        f"(snapshots thinned to {DEFAULT_BUDGET / 1e6:.0f} MB a run; all metrics kept). "
        f"Takes effect for the next run (a new model, Reset or another scenario).{note}"
    )


def install_record_toggle(win):
    """The checkable "Record runs" entry of the window's More menu: remembered
    (preferences), applied when the next run's model is built."""
    from nnviz.qt.preferences import recording_enabled, set_recording_enabled

    act = win.actions_.record_runs
    act.setCheckable(True)
    act.setChecked(recording_enabled())
    act.setToolTip(record_toggle_tip())
    menu = win.menu_button.menu()
    menu.setToolTipsVisible(True)
    menu.insertAction(win.actions_.settings, act)
    act.toggled.connect(set_recording_enabled)
    session = win.session

    def next_run(_info) -> None:
        target = recording_target()
        rec = session.recorder
        if (rec.root if rec is not None else None) != target:
            session.set_recording(target)

    session.built.connect(next_run)
    return act
