"""Starting the app: check that Qt can show a window before asking it to.

Qt aborts the whole process when no platform plugin can start (no display,
or missing xcb libraries on Linux). We look first and print one clear line
saying what to do instead.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
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


def _xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for sub in ("Qt/plugins/platforms", "plugins/platforms"):
            path = Path(root) / sub / "libqxcb.so"
            if path.exists():
                return path
    return None


def _package_for(soname: str) -> str:
    """``libxcb-cursor.so.0`` → ``libxcb-cursor0`` (Debian's name for it)."""
    stem = soname.split(".so")[0].removeprefix("lib")
    if stem in XCB_LIBRARIES:
        return XCB_LIBRARIES[stem]
    m = re.match(r"(lib.+?)\.so\.(\d+)", soname)
    return f"{m.group(1)}{m.group(2)}" if m else soname


def missing_xcb_libraries() -> list[str]:
    """Debian packages the xcb plugin needs and cannot find.

    Asks the dynamic linker (``ldd`` on the plugin: exact, and fast); without
    ``ldd`` or the plugin, looks the usual culprits up by name."""
    plugin, ldd = _xcb_plugin(), shutil.which("ldd")
    if plugin is not None and ldd is not None:
        try:
            out = subprocess.run(
                [ldd, str(plugin)], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None:
            missing = re.findall(r"^\s*(\S+)\s+=>\s+not found", out, re.MULTILINE)
            return sorted({_package_for(name) for name in missing})
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]


def x_display_reachable(display: str) -> bool:
    """Whether an X server answers on a local display such as ``:0``.

    Only local displays are tried (the socket in /tmp/.X11-unix, or its
    abstract twin); remote ones (``host:10``, ssh forwarding) count as reachable."""
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display.strip())
    if m is None:
        return True
    path = f"/tmp/.X11-unix/X{m.group(1)}"
    for address in ("\0" + path, path):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(address)
            return True
        except OSError:
            continue
    return False


def display_problem(
    environ=os.environ,
    platform: str = sys.platform,
    missing_libraries: Callable[[], list[str]] = missing_xcb_libraries,
    reachable: Callable[[str], bool] = x_display_reachable,
) -> str | None:
    """Why no window can open, or None when it can."""
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa.split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return None
    if not platform.startswith("linux"):
        return None
    if qpa.startswith("wayland") and environ.get("WAYLAND_DISPLAY"):
        return None
    if not environ.get("DISPLAY"):
        if environ.get("WAYLAND_DISPLAY") and not qpa.startswith("xcb"):
            return None
        return (
            "no display to open a window on ($DISPLAY is not set). Run nnviz on a desktop, "
            "or under a virtual screen (xvfb-run nnviz), or use the headless commands: "
            "`nnviz train`, `nnviz graph`, `nnviz render ID --out FILE.png`"
        )
    if not reachable(environ["DISPLAY"]):
        return (
            f"cannot connect to the display {environ['DISPLAY']!r} (no X server answers there). "
            "Check $DISPLAY, or run under a virtual screen (xvfb-run nnviz)"
        )
    missing = missing_libraries()
    if missing:
        return (
            "Qt's window system plugin (xcb) needs libraries this machine lacks. "
            f"Install them with: sudo apt-get install {' '.join(missing)} "
            "— or use the headless commands (`nnviz train`, `nnviz render`)"
        )
    return None


# Qt messages that say nothing to a user: the offscreen platform (render,
# tests) cannot resize top-level windows to their size hints; a machine without
# a session bus or runtime folder says so on every start.
_QT_NOISE = ("This plugin does not support propagateSizeHints()",)
_QT_NOISE_PREFIXES = ("QStandardPaths: XDG_RUNTIME_DIR", "QStandardPaths: runtime directory")
# Categories whose debug, info and warning messages are about the platform
# plugin, not the user's work (fonts, input methods, the offscreen plugin).
_QT_QUIET_CATEGORIES = ("qt.qpa.", "qt.text.font", "qt.glx", "qt.accessibility")


def _is_noise(mode, category: str | None, message: str) -> bool:
    from PySide6.QtCore import QtMsgType

    if message in _QT_NOISE or message.startswith(_QT_NOISE_PREFIXES):
        return True
    if mode in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg):
        return True
    return mode == QtMsgType.QtWarningMsg and (category or "").startswith(_QT_QUIET_CATEGORIES)


def _quiet_known_qt_noise() -> None:
    """Drop Qt's known noise; everything else still reaches stderr (so an
    error from ``nnviz render`` stays the one line it should be)."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message) -> None:
        if _is_noise(mode, getattr(context, "category", None), message):
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            write_stderr(message)

    previous = qInstallMessageHandler(handler)


def write_stderr(message: str) -> None:
    """A Qt message on stderr, never raising: Qt calls the handler inside whatever
    slot or paint is running, and with stderr gone (a closed pipe) the error
    would abort that slot instead (found by the endurance run, issue 13)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, broken, None
        sys.stderr.write(message + "\n")


# Blocks from this size up are mapped from the OS and returned to it when freed.
LARGE_BLOCK_BYTES = 128 * 1024


def return_large_blocks_to_os() -> bool:
    """Fix glibc's threshold for memory mapped from the OS (glibc only; False elsewhere).

    By default glibc raises that threshold (up to 32 MB) once a mapped block is freed.
    After that the window's large arrays come from the heap: the snapshot
    arrays (5 a second, 5.4 MB each on mnist-mlp) and the pickled messages from
    the training process. Freed and reused in a different order, they left holes
    that the heap kept. Measured in 8-9 minute endurance runs (issue 13): free
    but held heap went 19 -> 42 MB and the window grew +60 MB after a 2-minute
    warm-up; with the threshold fixed, free heap stayed at 1-4 MB and the window
    grew +36 MB (the rest: the health history filling to its cap).
    Called only in the window's process: the training process keeps glibc's
    default. In the training process the fixed threshold made mnist-mlp 40 %
    slower: every step mapped fresh pages."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_mmap_threshold = -3  # <malloc.h>
        return bool(libc.mallopt(m_mmap_threshold, LARGE_BLOCK_BYTES))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False


def make_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        _quiet_known_qt_noise()
        return_large_blocks_to_os()
        app = QApplication(argv or ["nnviz"])
        app.setApplicationName("nnviz")
        app.setOrganizationName(os.environ.get("NNVIZ_SETTINGS_ORG", "nnviz"))
    return app


def run_app(args: argparse.Namespace) -> int:
    """``nnviz [open ID]``: check the display, open the window, run until it closes."""
    from nnviz.core.errors import NnvizError

    problem = display_problem()
    if problem:
        raise NnvizError(problem)
    app = make_app(sys.argv[:1])
    window = open_window(args)  # held while Qt runs: an unreferenced window is collected
    interrupted = install_interrupt_handler(app, window)
    code = app.exec()
    window.deleteLater()
    if interrupted():
        raise KeyboardInterrupt  # the command line says `nnviz: interrupted`, exits 130
    return code


def install_interrupt_handler(app, window) -> Callable[[], bool]:
    """Ctrl+C in the terminal closes the window through Qt (saving what closing
    saves, joining the worker) instead of raising KeyboardInterrupt inside
    whatever Qt was drawing. A second Ctrl+C ends the process at once.

    Python runs a signal handler only between bytecodes: a socket written by
    the C-level handler (``signal.set_wakeup_fd``) wakes Qt's event loop at once.
    Returns a function that says whether Ctrl+C was pressed."""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer

    pressed = []

    def on_sigint(signum, frame) -> None:
        if pressed:
            os._exit(130)  # asked twice: the window did not close, do not hang
        pressed.append(True)
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)

    signal.signal(signal.SIGINT, on_sigint)
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread (tests): the handler still runs, later
        return lambda: bool(pressed)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)

    def drain() -> None:
        try:
            while reader.recv(64):
                pass
        except OSError:
            pass

    notifier.activated.connect(drain)
    app._nnviz_wakeup = (reader, writer, notifier)  # kept alive with the app
    return lambda: bool(pressed)


def open_window(args: argparse.Namespace):
    """The main window for the ``open`` command's arguments, shown (Qt already running)."""
    from nnviz.core.devices import resolve_device
    from nnviz.core.errors import NnvizError
    from nnviz.core.scenarios import DEFAULT_SCENARIO

    data = Path(args.data) if getattr(args, "data", None) else None
    if data is not None and not data.is_dir():
        raise NnvizError(f"the data folder {str(data)!r} does not exist")
    device = str(resolve_device(args.device))  # CUDA absent: one clear line, no window
    device = "cuda:0" if device == "cuda" else device  # the device menu names each GPU
    app = make_app(sys.argv[:1])
    from nnviz.qt.main_window import MainWindow
    from nnviz.qt.preferences import restore_window, saved_theme
    from nnviz.qt.theme import DARK, LIGHT, apply_theme

    theme_name = args.theme or saved_theme() or "dark"  # asked for, else as last time
    theme = LIGHT if theme_name == "light" else DARK
    apply_theme(app, theme)
    overrides = {"seed": args.seed, "device": device}
    if getattr(args, "weights", None):  # --- model files (issue 9): a state_dict to start from
        overrides["weights"] = Path(args.weights)
    if getattr(args, "preset", None):  # --- playground (issue 11): `open ID --preset playground`
        from nnviz.core.features import preset_overrides
        from nnviz.core.scenarios import get_scenario

        sid = args.scenario or DEFAULT_SCENARIO
        overrides.update(preset_overrides(args.preset, get_scenario(sid)))
    from nnviz.core.history import History

    budget = getattr(args, "history_mb", 256) * 2**20
    win = MainWindow(
        args.scenario or DEFAULT_SCENARIO,
        data,
        theme=theme,
        overrides=overrides,
        history=History(snapshot_budget=budget),
    )
    restore_window(win)
    threads = getattr(args, "threads", None)
    if threads:  # the settings show it, and it reaches the run through them
        win.controls.threads.setValue(threads)
    if theme_name == "light":
        win.actions_.theme.setChecked(True)
    win.show()
    if args.presenter:
        win.actions_.presenter.setChecked(True)
    return win
