"""More → Record runs: the app's own recording turned on and off from the
window, remembered, and applied from the next run on (issue 10, item 2)."""

from __future__ import annotations

import pytest

from nnviz.qt import preferences, recording

WAIT_MS = 120_000  # building a model takes seconds on a busy machine


@pytest.fixture
def window(qtbot, app, monkeypatch, tmp_path):
    from nnviz.qt.main_window import MainWindow

    monkeypatch.delenv("NNVIZ_RECORD", raising=False)  # the setting decides, not the flags
    monkeypatch.setattr(recording, "default_runs_dir", lambda: tmp_path / "runs")
    preferences.set_recording_enabled(False)
    w = MainWindow("spiral")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
    yield w
    w.close()
    qtbot.waitUntil(lambda: w.session._threads.shutdown(200), timeout=WAIT_MS)
    w.deleteLater()


def test_record_runs_is_a_remembered_setting_for_the_next_run(qtbot, window, tmp_path):
    w, s = window, window.session
    act = w.actions_.record_runs
    assert act in w.menu_button.menu().actions()  # the More menu, beside Settings
    assert act.isCheckable() and not act.isChecked()
    tip = act.toolTip()
    assert str(tmp_path / "runs") in tip and "200 MB" in tip and "next run" in tip
    assert s.recorder is None

    act.trigger()  # on: remembered at once, the run in progress is left alone
    assert act.isChecked() and preferences.recording_enabled()
    assert s.recorder is None
    info = s.info
    w.actions_.reset.trigger()  # the next run records
    qtbot.waitUntil(lambda: s.info is not info, timeout=WAIT_MS)
    assert s.recorder is not None and s.recorder.root == tmp_path / "runs"

    act.trigger()  # off: the next run is not recorded
    assert not act.isChecked() and not preferences.recording_enabled()
    assert s.recorder is not None
    info = s.info
    w.actions_.reset.trigger()
    qtbot.waitUntil(lambda: s.info is not info, timeout=WAIT_MS)
    assert s.recorder is None
