"""Starting the app: check that Qt can show a window before asking it to.

Qt aborts the whole process when no platform plugin can start (no display,
or missing xcb libraries on Linux). We look first and print one clear line
saying what to do instead.
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
from pathlib import Path

# Libraries the xcb platform plugin needs that bare Debian/Ubuntu machines lack,
# with the package that provides each.
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-randr": "libxcb-randr0",
    "xcb-xkb": "libxcb-xkb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def display_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why no window can open, or None when it can."""
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa.split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return None
    if not platform.startswith("linux"):
        return None
    if qpa.startswith("wayland") and environ.get("WAYLAND_DISPLAY"):
        return None
    if not environ.get("DISPLAY"):
        if environ.get("WAYLAND_DISPLAY"):
            return None
        return (
            "no display to open a window on ($DISPLAY is not set). Run nnviz on a desktop, "
            "or under a virtual screen (xvfb-run nnviz), or use the headless commands: "
            "`nnviz train`, `nnviz graph`, `nnviz render ID --out FILE.png`"
        )
    missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    if missing:
        return (
            "Qt's window system plugin (xcb) needs libraries this machine lacks. "
            f"Install them with: sudo apt-get install {' '.join(missing)} "
            "— or use the headless commands (`nnviz train`, `nnviz render`)"
        )
    return None


def make_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or ["nnviz"])
        app.setApplicationName("nnviz")
        app.setOrganizationName(os.environ.get("NNVIZ_SETTINGS_ORG", "nnviz"))
    return app


def run_app(args: argparse.Namespace) -> int:
    from nnviz.core.errors import NnvizError
    from nnviz.core.scenarios import DEFAULT_SCENARIO

    problem = display_problem()
    if problem:
        raise NnvizError(problem)
    app = make_app(sys.argv[:1])
    from nnviz.qt.main_window import MainWindow
    from nnviz.qt.theme import DARK, LIGHT, apply_theme

    theme = LIGHT if args.theme == "light" else DARK
    apply_theme(app, theme)
    data = Path(args.data) if getattr(args, "data", None) else None
    if data is not None and not data.is_dir():
        raise NnvizError(f"the data folder {str(data)!r} does not exist")
    from nnviz.core.devices import resolve_device

    device = str(resolve_device(args.device))  # CUDA absent: one clear line, no window
    device = "cuda:0" if device == "cuda" else device  # the device menu names each GPU
    overrides = {"seed": args.seed, "device": device}
    win = MainWindow(args.scenario or DEFAULT_SCENARIO, data, theme=theme, overrides=overrides)
    if args.theme == "light":
        win.actions_.theme.setChecked(True)
    win.show()
    if args.presenter:
        win.actions_.presenter.setChecked(True)
    return app.exec()
