"""``nnviz open RUN_DIR``: a run folder, a TensorBoard logdir or a saved
session in the window, and the ``--record DIR`` / ``--no-record`` flags.

A saved session (a run folder with ``checkpoint.pt``) resumes training
exactly; any other run folder or logdir is shown as a recording, followed
live while it grows, with no training controls.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nnviz.core.errors import NnvizError


def add_record_flags(parser: argparse.ArgumentParser) -> None:
    rec = parser.add_mutually_exclusive_group()
    rec.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="record each run into a folder in DIR (default: the runs folder in your data "
        "directory; the Recording setting turns it off)",
    )
    rec.add_argument("--no-record", action="store_true", help="do not record runs")


def apply_record_flags(args: argparse.Namespace) -> None:
    """The flags reach the window through $NNVIZ_RECORD (nnviz.qt.recording)."""
    from nnviz.qt.recording import RECORD_ENV

    if getattr(args, "no_record", False):
        os.environ[RECORD_ENV] = "0"
    elif getattr(args, "record", None) is not None:
        os.environ[RECORD_ENV] = str(Path(args.record).expanduser().resolve())


def recorded_path(arg: str | None) -> Path | None:
    """``arg`` as a run folder, TensorBoard logdir or session folder, or None."""
    if not arg:
        return None
    p = Path(arg).expanduser()
    if not p.is_dir():
        return None
    from nnviz.core.checkpoint import CHECKPOINT_NAME
    from nnviz.core.runfolder import is_run_folder
    from nnviz.core.tensorboard_io import find_event_files

    if is_run_folder(p) or (p / CHECKPOINT_NAME).is_file() or find_event_files(p):
        return p
    return None


def _scenario_for(path: Path, meta: dict) -> str:
    """The scenario the window is built on: the run's own when it is a built-in
    one (its data points, its layers), else the default."""
    from nnviz.core.scenarios import DEFAULT_SCENARIO, get_scenario

    sid = meta.get("scenario") if isinstance(meta, dict) else None
    if isinstance(sid, str):
        try:
            get_scenario(sid)
            return sid
        except NnvizError:
            pass
    return DEFAULT_SCENARIO


def check_recorded(path: Path) -> dict:
    """Open it once before Qt starts: a bad folder is one clear line. Returns its meta."""
    from nnviz.core.checkpoint import CHECKPOINT_NAME, load_checkpoint

    if (path / CHECKPOINT_NAME).is_file():
        state = load_checkpoint(path)  # corrupt, newer: a clear error now
        meta = {"scenario": state.get("scenario")}
        from nnviz.core.runfolder import is_run_folder

        if is_run_folder(path):
            from nnviz.core.runfolder import RunReader

            meta = RunReader(path).meta or meta
        return meta
    from nnviz.core.runfolder import open_run

    return getattr(open_run(path), "meta", {}) or {}


def run_recorded(args: argparse.Namespace, path: Path) -> int:
    """Like ``nnviz.qt.bootstrap.run_app``, then the folder opened in the window."""
    from nnviz.qt.bootstrap import display_problem, make_app, open_window

    meta = check_recorded(path)
    problem = display_problem()
    if problem:
        raise NnvizError(problem)
    app = make_app(sys.argv[:1])
    args.scenario = _scenario_for(path, meta)
    window = open_window(args)
    window.time_travel.open_path(path)
    code = app.exec()
    window.deleteLater()
    return code
