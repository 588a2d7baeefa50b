"""`nnviz open RUN_DIR`: a run folder written by RunWriter shows in the
window (its losses, its snapshots on the scrubber, no training controls),
and a run still being written grows in the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from nnviz.cli import build_parser
from nnviz.core.engine import Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.runfolder import RunWriter
from nnviz.core.scenarios import get_scenario
from nnviz.qt.main_window import MainWindow
from nnviz.qt.run_viewer import check_recorded, recorded_path

WAIT_MS = 120_000  # building a model takes seconds on a busy machine


def record(writer: RunWriter, t: Trainer, n: int, every: int) -> dict[int, np.ndarray]:
    """Train ``n`` steps into ``writer``; the first layer's weights at each snapshot."""
    weights = {}
    for _ in range(n):
        step = t.step_count
        m = t.step(snapshot=step % every == 0)
        writer.log(step, loss=m.loss)
        if m.snapshot is not None:
            writer.add_snapshot(m.snapshot)
            weights[step] = np.array(m.snapshot.layers[0].weight)
    return weights


@pytest.fixture
def window(qtbot, app, monkeypatch):
    monkeypatch.setenv("NNVIZ_RECORD", "0")
    w = MainWindow("spiral")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
    yield w
    w.close()
    # a loaded machine can take seconds to stop the worker: the window goes once it has
    qtbot.waitUntil(lambda: w.session._threads.shutdown(200), timeout=WAIT_MS)
    w.deleteLater()  # its menus are top-level widgets too


def test_a_finished_run_folder_opens_and_scrubs(qtbot, window, tmp_path):
    run_dir = tmp_path / "run"
    t = Trainer(get_scenario("spiral"))
    with RunWriter(run_dir, {"scenario": "spiral", "steps_per_epoch": t.steps_per_epoch}) as w:
        weights = record(w, t, 30, every=10)
    assert recorded_path(str(run_dir)) == run_dir

    win, s = window, window.session
    win.time_travel.open_path(run_dir)
    assert s.timeline_steps() == [0, 10, 20]
    assert len(s.history.metrics.train_loss) == 30
    qtbot.waitUntil(lambda: win.network.snapshot is not None and win.network.snapshot.step == 20)
    assert "viewing a recorded run" in s.status_text()
    assert not win.actions_.play.isEnabled() and not win.actions_.step.isEnabled()
    assert not win.controls.isEnabled()

    s.view_step(12)  # the snapshot at or before: step 10
    assert s.viewing == 10
    assert win.network.snapshot.step == 10
    assert np.array_equal(win.network.snapshot.layers[0].weight, weights[10])
    assert win.loss.marker_x() == pytest.approx(10)
    qtbot.keyClick(win, QtCore.Qt.Key_Comma)
    assert win.network.snapshot.step == 0

    win.open_scenario("xor")  # a scenario again: training comes back
    assert win.actions_.play.isEnabled() and win.controls.isEnabled()
    assert s.recording is None


def test_a_growing_run_shows_a_new_step_within_a_second(qtbot, window, tmp_path):
    run_dir = tmp_path / "live"
    t = Trainer(get_scenario("spiral"))
    writer = RunWriter(run_dir, {"scenario": "spiral"})
    try:
        record(writer, t, 5, every=5)
        writer.flush()
        win, s = window, window.session
        win.time_travel.open_path(run_dir)
        assert s.timeline_steps() == [0]
        assert "still growing" in s.status_text()
        record(writer, t, 6, every=5)  # steps 5..10: snapshots at 5 and 10
        writer.flush()
        qtbot.waitUntil(lambda: s.timeline_steps() == [0, 5, 10], timeout=1000)
        assert len(s.history.metrics.train_loss) == 11
        qtbot.waitUntil(lambda: win.network.snapshot.step == 10, timeout=1000)  # live: newest
    finally:
        writer.close()
    qtbot.waitUntil(lambda: "still growing" not in s.status_text(), timeout=2000)


def test_folders_that_are_not_runs_are_not_taken_for_one(tmp_path):
    assert recorded_path(str(tmp_path)) is None  # empty
    assert recorded_path(str(tmp_path / "missing")) is None
    args = build_parser().parse_args(["open", "--no-record"])
    assert args.no_record
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.json").write_text("{not json")
    assert recorded_path(str(bad)) == bad
    with pytest.raises(NnvizError):
        check_recorded(bad)  # one clear line before any window opens
