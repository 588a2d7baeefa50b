"""Fixtures shared by the Qt tests."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui


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
