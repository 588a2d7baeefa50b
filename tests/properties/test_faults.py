"""Faults with nothing lost (issue 13): an exception in the worker, a CUDA
out-of-memory error, a full disk while writing an export, a predictions CSV or
a session. Each gives a clear message, leaves the app usable, and never leaves
a half-written file where a good one was. (A file deleted while being read:
tests/properties/test_folder_fuzz.py.)"""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.core import run as R
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario

XOR = get_scenario("xor")
WAIT_MS = 120_000  # two shared cores: a first torch import can take a while


class OutOfMemoryModel(nn.Sequential):
    """A model that runs out of (CUDA) memory on its ``fail_at``-th forward pass."""

    def __init__(self, fail_at: int = 3) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
        self.calls, self.fail_at = 0, fail_at

    def forward(self, x):
        self.calls += 1
        if self.training and self.calls >= self.fail_at:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(x)


def _no_temporaries(folder) -> None:
    left = [p.name for p in folder.iterdir() if "tmp" in p.name]
    assert not left, f"temporary files left behind: {left}"


# --- the worker --------------------------------------------------------------------------


@pytest.fixture
def worker(qtbot):
    from nnviz.qt.worker import WorkerThread

    wt = WorkerThread()
    events: list = []
    wt.worker.event.connect(events.append)
    wt.start()
    yield wt, events
    assert wt.shutdown(30_000)


def _wait_for(qtbot, events, kind, start: int = 0):
    qtbot.waitUntil(lambda: any(isinstance(e, kind) for e in events[start:]), timeout=WAIT_MS)
    return next(e for e in events[start:] if isinstance(e, kind))


def test_out_of_memory_in_the_worker_says_what_to_do_and_the_app_goes_on(qtbot, worker):
    wt, events = worker
    wt.worker.submit(R.Configure(XOR, None, None, OutOfMemoryModel(fail_at=3)))
    _wait_for(qtbot, events, R.Built)
    wt.worker.submit(R.Step(10))
    halted = _wait_for(qtbot, events, R.Halted)
    assert halted.reason == R.HALT_ERROR
    assert "ran out of memory" in halted.message
    assert "batch size" in halted.message and "CPU" in halted.message
    assert "OutOfMemoryError" not in halted.message  # no raw exception text
    # usable: the scenario's own model trains on
    n = len(events)
    wt.worker.submit(R.Configure(XOR))
    _wait_for(qtbot, events, R.Built, n)
    wt.worker.submit(R.Step(5))
    qtbot.waitUntil(
        lambda: any(isinstance(e, R.Metrics) and e.step >= 5 for e in events[n:]), timeout=WAIT_MS
    )


def test_an_exception_in_the_worker_is_one_message_and_the_run_goes_on(qtbot, worker):
    from tests.factories import FlakyModel

    wt, events = worker
    model = FlakyModel()
    wt.worker.submit(R.Configure(XOR, None, None, model))
    _wait_for(qtbot, events, R.Built)
    model.fail = True
    wt.worker.submit(R.Step(3))
    halted = _wait_for(qtbot, events, R.Halted)
    assert "boom in the user's forward" in halted.message and "\n" not in halted.message
    model.fail = False
    n = len(events)
    wt.worker.submit(R.Step(3))  # the same model, fixed: training resumes where it was
    qtbot.waitUntil(
        lambda: any(isinstance(e, R.Metrics) and len(e.losses) for e in events[n:]),
        timeout=WAIT_MS,
    )
    assert all(np.isfinite(e.losses).all() for e in events[n:] if isinstance(e, R.Metrics))


# --- a full disk ------------------------------------------------------------------------


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_predictions_csv_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    from nnviz.core.datasets import write_predictions_csv

    path = tmp_path / "predictions.csv"
    write_predictions_csv(path, ["1", "2"], [3, 4])
    good = path.read_bytes()
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(NnvizError, match="No space left on device.*disk full"):
        write_predictions_csv(path, ["1", "2", "3"], [0, 0, 0])
    assert path.read_bytes() == good
    _no_temporaries(tmp_path)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_an_export_on_a_full_disk_keeps_the_old_picture(qtbot, tmp_path, monkeypatch, suffix):
    from PySide6 import QtGui, QtSvg, QtWidgets

    from nnviz.qt.export import save_widget

    w = QtWidgets.QLabel("nnviz")
    qtbot.addWidget(w)
    w.resize(200, 100)
    w.show()
    path = tmp_path / f"view{suffix}"
    save_widget(w, path)
    good = path.read_bytes()
    if suffix == ".png":  # Qt's writer fails part-way, as on a full disk

        def half_written(self, name, *a, **k):
            with open(name, "wb") as fh:
                fh.write(b"\x89PNG\r\n")
            return False

        monkeypatch.setattr(QtGui.QPixmap, "save", half_written)
    else:  # QSvgGenerator reports nothing: it writes to a device that is full
        real = QtSvg.QSvgGenerator.setFileName
        monkeypatch.setattr(
            QtSvg.QSvgGenerator, "setFileName", lambda self, name: real(self, "/dev/full")
        )
    with pytest.raises(NnvizError, match=r"disk full\?"):
        save_widget(w, path)
    assert path.read_bytes() == good
    _no_temporaries(tmp_path)


def test_render_to_an_unwritable_place_fails_loudly(tmp_path):
    """Issue 13: `render --out /proc/x.svg` exited 0 and printed the path."""
    import subprocess
    import sys

    for out in (
        "/proc/x.svg",
        str(tmp_path / "no" / "x.svg"),
        str(tmp_path / ("a" * 300 + ".svg")),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "nnviz", "render", "xor", "--view", "loss", "--steps", "2",
             "--out", out],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nnviz: error: cannot write"), lines
        assert proc.stdout == ""


def test_a_session_on_a_full_disk_keeps_the_old_one(tmp_path, monkeypatch):
    from nnviz.core.checkpoint import save_checkpoint
    from nnviz.core.engine import TrainConfig, Trainer

    t = Trainer(XOR, TrainConfig.for_scenario(XOR, seed=0))
    t.step()
    path = save_checkpoint(t, tmp_path / "s.nnviz")
    good = path.read_bytes()
    t.step()
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(NnvizError, match="No space left"):
        save_checkpoint(t, path)
    assert path.read_bytes() == good
    _no_temporaries(tmp_path)


# --- Ctrl+C in the app's terminal ------------------------------------------------------------

_INTERRUPT_WHILE_PLAYING = """
import os, signal, sys
from PySide6.QtCore import QTimer
import nnviz.qt.bootstrap as bootstrap
real = bootstrap.open_window
def open_and_interrupt(args):
    w = real(args)
    def check():
        if w.session.info is not None and not w.session.playing:
            w.actions_.play.trigger()
        if w.session.history.metrics.last_step > 3:  # playing, frames painting
            os.kill(os.getpid(), signal.SIGINT)
        else:
            QTimer.singleShot(100, check)
    QTimer.singleShot(100, check)
    return w
bootstrap.open_window = open_and_interrupt
from nnviz.cli import main
sys.exit(main(["open", "xor"]))
"""


def test_ctrl_c_in_a_playing_window_quits_cleanly(tmp_path):
    """Issue 13: Ctrl+C printed a KeyboardInterrupt traceback from a paint event
    and the window kept running. Now: the window closes through Qt, one line,
    exit 130 (as headless `nnviz train` does)."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "NNVIZ_SETTINGS_ORG": "nnviz-tests-interrupt",
        "NNVIZ_RECORD": "0",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_WHILE_PLAYING],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "nnviz: interrupted"
