"""Issue 13: a Qt warning while stderr is gone (its pipe closed: a terminal or
tool that stopped reading) must not abort the slot it happens in. It did: the
app's Qt message handler raised BrokenPipeError inside whatever was running,
so an endurance run's window stopped reporting and never ended."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from nnviz.qt.bootstrap import write_stderr

_PROGRAM = textwrap.dedent(
    """
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    r, w = os.pipe()
    os.close(r)
    os.dup2(w, 2)  # stderr: a pipe nobody reads any more (writes fail: EPIPE)
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QPainter
    from nnviz.qt.bootstrap import make_app

    app = make_app()
    done = []

    def slot():
        QPainter().end()  # Qt warns: "QPainter::end: Painter not active, aborted"
        done.append("rest of the slot ran")
        app.quit()

    QTimer.singleShot(0, slot)
    QTimer.singleShot(20000, app.quit)
    app.exec()
    print(done[0] if done else "the slot was aborted", flush=True)
    """
)


def test_a_qt_warning_with_stderr_closed_does_not_abort_the_slot():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.stdout.strip() == "rest of the slot ran", out.stdout + out.stderr
    assert out.returncode == 0


class _Closed:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_write_stderr_swallows_a_closed_stream(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Closed())
    write_stderr("QPainter::end: Painter not active, aborted")  # no exception
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, or a daemon without stderr
    write_stderr("still no exception")
