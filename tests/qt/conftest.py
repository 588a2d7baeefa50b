"""Fixtures shared by the Qt tests."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets


@pytest.fixture(autouse=True)
def own_settings(tmp_path_factory):
    """Settings in a folder of the tests' own, empty at the start of each test:
    a user's settings are never read or changed, and no test sees another's."""
    folder = tmp_path_factory.getbasetemp() / "settings"
    QtCore.QCoreApplication.setOrganizationName("nnviz-tests")
    QtCore.QCoreApplication.setApplicationName("nnviz")
    for fmt in (QtCore.QSettings.NativeFormat, QtCore.QSettings.IniFormat):
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.UserScope, str(folder))
    QtCore.QSettings().clear()
    yield


@pytest.fixture
def app(qapp):
    """Themes and presenter mode change app-wide state: put it back afterwards."""
    palette, font = QtGui.QPalette(qapp.palette()), QtGui.QFont(qapp.font())
    cfg = {k: pg.getConfigOption(k) for k in ("background", "foreground", "antialias")}
    yield qapp
    qapp.setPalette(palette)
    qapp.setFont(font)
    pg.setConfigOptions(**cfg)


@pytest.fixture
def shown(qtbot):
    """``shown(widget, width, height)``: the widget on screen at that size, closed
    with the test."""

    def show(widget, width: int, height: int):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    return show


# --- leak check (issue 13): as napari does, a test fails if it leaves a new
# top-level widget, a new Python thread or a training thread alive ---------------------

_LEAK_GRACE_S = 3.0  # threads asked to stop get this long to end
_WORKER_GRACE_MS = 120_000  # a worker busy importing torch on two loaded cores


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "allow_leaks(reason): the test keeps a top-level widget or thread on purpose",
    )


def _flush_deletions(app) -> None:
    import gc

    for _ in range(3):
        app.processEvents()
        app.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
        gc.collect()


def _key(widget) -> int:
    """A widget's identity: its C++ object (a Python wrapper can be collected and
    made again for the same widget, with another id())."""
    import shiboken6

    return shiboken6.getCppPointer(widget)[0]


def _top_levels(app) -> set[int]:
    from PySide6.QtWidgets import QApplication

    return {_key(w) for w in QApplication.topLevelWidgets() if not _ignored(w)}


def _ignored(widget) -> bool:
    # Qt's own popups (tooltips, completers) and widgets already closed and on their
    # way out (WA_DeleteOnClose) are Qt's to manage
    # pyqtgraph builds its plots' context menus as hidden parentless QMenus, kept
    # for reuse: popups, not windows a user could be left with
    if isinstance(widget, QtWidgets.QMenu) and not widget.isVisible():
        return True
    return type(widget).__name__ in ("QTipLabel", "QComboBoxPrivateContainer") or (
        widget.testAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose) and not widget.isVisible()
    )


def _describe(widget) -> str:
    title = widget.windowTitle() or widget.objectName()
    return f"{type(widget).__name__}{f' {title!r}' if title else ''}"


@pytest.fixture(autouse=True)
def no_leaks(request, qapp):
    """Fails a test that leaves new top-level widgets, Python threads or training
    threads (nnviz.qt.worker) alive once it has ended and its widgets were closed."""
    import threading
    import time

    from PySide6.QtWidgets import QApplication

    from nnviz.qt import worker

    _flush_deletions(qapp)
    widgets_before = _top_levels(qapp)
    threads_before = set(threading.enumerate())
    workers_before = set(worker._LIVE)
    yield
    if request.node.get_closest_marker("allow_leaks") is not None:
        return
    # a training thread still running (a slow first torch import on a busy machine)
    # must end before anything is collected: Qt aborts on a running QThread destroyed
    late = [w for w in worker._LIVE if w not in workers_before]
    for w in late:
        w.shutdown(_WORKER_GRACE_MS)
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        return  # the test's own failure says more
    deadline = time.monotonic() + _LEAK_GRACE_S
    while True:
        _flush_deletions(qapp)
        widgets = [
            w
            for w in QApplication.topLevelWidgets()
            if _key(w) not in widgets_before and not _ignored(w)
        ]
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        workers = [w for w in worker._LIVE if w not in workers_before]
        workers = [w for w in workers if w.thread.isRunning()]
        if not (threads or workers) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if widgets:
        problems.append("top-level widgets: " + ", ".join(_describe(w) for w in widgets))
    if threads:
        problems.append("threads: " + ", ".join(t.name for t in threads))
    if workers:
        problems.append(f"{len(workers)} training thread(s) never shut down")
    for w in widgets:  # do not let one leak fail every test after it
        w.close()
        w.deleteLater()
    for w in workers:
        w.shutdown()
    _flush_deletions(qapp)
    if problems:
        pytest.fail("the test leaked " + "; ".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


# --- end leak check (issue 13) ---
