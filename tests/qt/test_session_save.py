"""Sessions in the app: Ctrl+S writes a run folder and a checkpoint; opening
it resumes training exactly; a failed save says so once and leaves nothing
half-written."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from nnviz.core import checkpoint as C
from nnviz.core import run as R
from nnviz.core.engine import Trainer
from nnviz.core.runfolder import RunReader
from nnviz.core.scenarios import get_scenario
from nnviz.qt.main_window import MainWindow

WAIT_MS = 120_000  # building a model takes seconds on a busy machine
SCENARIO = "spiral"  # minibatches (shuffled order) and Adam


@pytest.fixture
def make_window(qtbot, app, monkeypatch, tmp_path):
    monkeypatch.setenv("NNVIZ_RECORD", "0")
    windows = []

    def make() -> MainWindow:
        w = MainWindow(SCENARIO)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        # a loaded machine can take seconds to stop the worker: the window goes once it has
        qtbot.waitUntil(lambda w=w: w.session._threads.shutdown(200), timeout=WAIT_MS)
        w.deleteLater()  # its menus are top-level widgets too


def train(qtbot, w, n: int) -> None:
    s = w.session
    target = s.step + n
    s.submit(R.Step(n))
    qtbot.waitUntil(
        lambda: s.step == target and len(s.history.metrics.train_loss) == target, timeout=WAIT_MS
    )


def test_ctrl_s_then_reopen_resumes_exactly(qtbot, make_window, tmp_path, monkeypatch):
    t = Trainer(get_scenario(SCENARIO))
    whole = [t.step().loss for _ in range(40)]

    w = make_window()
    train(qtbot, w, 20)
    folder = tmp_path / "sessions" / "mine"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(folder), ""))
    w.activateWindow()
    qtbot.waitActive(w)
    with qtbot.waitSignal(w.session.sessionSaved, timeout=WAIT_MS):
        qtbot.keyClick(w, QtCore.Qt.Key_S, QtCore.Qt.ControlModifier)
    assert (folder / C.CHECKPOINT_NAME).is_file()
    assert RunReader(folder).series("loss")[1].tolist() == whole[:20]
    assert [p.name for p in folder.parent.iterdir()] == ["mine"]  # no temporary left

    other = make_window()
    other.time_travel.open_path(folder)
    s = other.session
    qtbot.waitUntil(
        lambda: s.step == 20 and len(s.history.metrics.train_loss) == 20, timeout=WAIT_MS
    )
    assert len(s.timeline_steps()) >= 1  # the saved snapshots can be scrubbed
    train(qtbot, other, 20)
    assert s.history.metrics.train_loss.view.tolist() == whole  # bit for bit


def test_a_failed_save_leaves_the_app_usable_and_nothing_half_written(
    qtbot, make_window, tmp_path, monkeypatch
):
    w = make_window()
    train(qtbot, w, 5)
    folder = tmp_path / "s"
    with qtbot.waitSignal(w.session.sessionSaved, timeout=WAIT_MS):
        w.time_travel.save_session(folder)
    good = (folder / C.CHECKPOINT_NAME).read_bytes()

    def full_disk(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(C.torch, "save", full_disk)  # the training thread's torch.save
    errors = []
    w.session.errorRaised.connect(lambda msg, _d: errors.append(msg))
    train(qtbot, w, 3)
    w.time_travel.save_session(folder)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert len(errors) == 1 and "No space left" in errors[0]
    assert (folder / C.CHECKPOINT_NAME).read_bytes() == good  # the good one is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary left

    monkeypatch.undo()
    train(qtbot, w, 2)  # still trains
    with qtbot.waitSignal(w.session.sessionSaved, timeout=WAIT_MS):
        w.time_travel.save_session(folder)  # and saves once the disk is fine
    assert C.load_checkpoint(folder)["step"] == 10


def test_a_folder_of_other_files_is_never_replaced(qtbot, make_window, tmp_path):
    w = make_window()
    train(qtbot, w, 2)
    (tmp_path / "notes.txt").write_text("mine")
    errors = []
    w.session.errorRaised.connect(lambda msg, _d: errors.append(msg))
    w.time_travel.save_session(tmp_path)
    assert w.time_travel.win._error_box is not None
    assert "choose a new folder name" in w.time_travel.win._error_box.text()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not np.any([p.name == C.CHECKPOINT_NAME for p in tmp_path.iterdir()])
