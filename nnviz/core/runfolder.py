"""Run folders: one recording format for every run (app, CLI, training scripts).

The public API (stable; see :mod:`nnviz.core.runfolder_format` for the files):

- :class:`RunWriter` ``(run_dir, meta, snapshot_budget_bytes=200_000_000,
  tensorboard=False)``: ``log(step, **scalars)``, ``add_snapshot(snapshot)``,
  ``add_ranks(step, [stats per rank])``, ``add_trace(step, trace)``,
  ``snapshot_due()``, ``flush()``, ``close(complete=True, reason=None)``.
  Writes on a background thread; as a context manager an exception leaves
  the run ended but not complete (so does a process that exits without
  ``close()``: the queue is written at exit).
- :class:`RunReader` ``(run_dir)``: ``meta``, ``header``, ``complete``,
  ``ended`` / ``end`` (closed at all; ``end["reason"]``), ``metrics()``,
  ``metric_names()``, ``series(name)``, ``last()``, ``snapshot_steps()``,
  ``snapshot(step)``, ``snapshot_at(step)``, ``refresh()`` (what was appended
  since: a :class:`RunChanges`), ``ranks`` (:class:`RankInfo`, with
  ``desync()``).
- :func:`open_run` ``(path)``: a :class:`RunReader` for a run folder, or a
  :class:`nnviz.core.tensorboard_io.TensorBoardReader` (same reading surface,
  no snapshots) for a TensorBoard logdir. Bad folders raise
  :class:`~nnviz.core.errors.NnvizError` with one clear line.
"""

from __future__ import annotations

from pathlib import Path

from nnviz.core.errors import NnvizError
from nnviz.core.runfolder_format import FORMAT, FORMAT_VERSION, META
from nnviz.core.runfolder_read import DESYNC_RTOL, RankInfo, RunChanges, RunReader
from nnviz.core.runfolder_write import DEFAULT_BUDGET, RunWriter

__all__ = [
    "DEFAULT_BUDGET",
    "DESYNC_RTOL",
    "FORMAT",
    "FORMAT_VERSION",
    "RankInfo",
    "RunChanges",
    "RunReader",
    "RunWriter",
    "is_run_folder",
    "open_run",
]


def is_run_folder(path) -> bool:
    """True when ``path`` is a folder with a run's meta.json (checked on open)."""
    return (Path(path) / META).is_file()


def open_run(path):
    """A reader for ``path``: a run folder, or a TensorBoard logdir."""
    p = Path(path)
    if p.is_dir() and not (p / META).exists():
        from nnviz.core.tensorboard_io import TensorBoardReader, find_event_files

        if find_event_files(p):
            return TensorBoardReader(p)
    if p.is_file() and p.name.startswith("events.out.tfevents"):
        from nnviz.core.tensorboard_io import TensorBoardReader

        return TensorBoardReader(p.parent)
    if not p.exists():
        raise NnvizError(f"{p} does not exist; give a run folder or a TensorBoard logdir")
    return RunReader(p)
