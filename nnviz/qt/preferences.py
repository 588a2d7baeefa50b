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
    # The first time the default size, and a size remembered from a larger
    # screen (a desk monitor, then a 1280x720 projector): never larger than the
    # screen, and on it.
    screen = win.screen()
    if screen is not None and not win.isMaximized() and not win.isFullScreen():
        room = screen.availableGeometry()
        w, h = min(win.width(), room.width()), min(win.height(), room.height())
        if (w, h) != (win.width(), win.height()):
            win.resize(w, h)
        if not room.contains(win.frameGeometry()):
            x = min(max(win.x(), room.left()), room.right() - w + 1)
            y = min(max(win.y(), room.top()), room.bottom() - h + 1)
            win.move(x, y)
    if state is not None:
        win.restoreState(state)
    fit = getattr(win, "fit_settings", None)
    if fit is not None:  # a dock width from another font size never sticks (issue 11)
        fit()


def save_window(win, theme_name: str, geometry=None, state=None) -> None:
    """The window's desk layout (``geometry``/``state`` when given: the layout
    before presenter mode, which is never remembered) and its theme."""
    s = _settings()
    s.setValue("window/geometry", geometry if geometry is not None else win.saveGeometry())
    s.setValue("window/state", state if state is not None else win.saveState())
    s.setValue("window/theme", theme_name)


def save_theme(theme_name: str) -> None:
    """The theme, remembered as soon as it is chosen."""
    if theme_name in ("light", "dark"):
        _settings().setValue("window/theme", theme_name)


def forget_layout() -> None:
    """Reset layout: the next launch starts from the built-in layout too."""
    s = _settings()
    s.remove("window/geometry")
    s.remove("window/state")


# --- recording (issue 10) ---


def recording_enabled() -> bool:
    """Whether the app records its runs into the runs folder (on by default)."""
    value = _settings().value("record/enabled", True)
    return value not in (False, "false", "0", 0)


def set_recording_enabled(on: bool) -> None:
    _settings().setValue("record/enabled", bool(on))


# --- end recording (issue 10) ---
