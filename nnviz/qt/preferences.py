"""What the window remembers between runs: its size and place, the dock
layout and the theme (QSettings, per user). The scenario is not remembered:
`nnviz` opens the default one, as the command's contract says.

Tests point QSettings at a folder of their own (tests/qt/conftest.py), so
they never read or change a user's settings.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings


def _settings() -> QSettings:
    return QSettings()  # organisation and application names: nnviz.qt.bootstrap.make_app


def saved_theme() -> str | None:
    """ "light" or "dark" as last used, or None the first time."""
    value = _settings().value("window/theme")
    return value if value in ("light", "dark") else None


def restore_window(win) -> None:
    s = _settings()
    geometry, state = s.value("window/geometry"), s.value("window/state")
    if geometry is not None:
        win.restoreGeometry(geometry)
    if state is not None:
        win.restoreState(state)


def save_window(win, theme_name: str) -> None:
    s = _settings()
    s.setValue("window/geometry", win.saveGeometry())
    s.setValue("window/state", win.saveState())
    s.setValue("window/theme", theme_name)
