"""Fixtures shared by the Qt tests."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6 import QtGui


@pytest.fixture
def app(qapp):
    """Themes and presenter mode change app-wide state: put it back afterwards."""
    palette, font = QtGui.QPalette(qapp.palette()), QtGui.QFont(qapp.font())
    cfg = {k: pg.getConfigOption(k) for k in ("background", "foreground", "antialias")}
    yield qapp
    qapp.setPalette(palette)
    qapp.setFont(font)
    pg.setConfigOptions(**cfg)
