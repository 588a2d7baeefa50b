"""Open the installed nnviz's window on a scenario, train a moment, close it as a
user would (the window's close), and exit 0 only if all of that worked.

Used by packaging/smoke_wheel.sh and packaging/build_bundle.sh where no window
manager is available (``QT_QPA_PLATFORM=offscreen``)."""

from __future__ import annotations

import sys

from nnviz.cli import build_parser
from nnviz.qt.bootstrap import make_app, open_window


def main() -> int:
    args = build_parser().parse_args(["open", *(sys.argv[1:] or ["xor"])])
    app = make_app(["nnviz"])
    from PySide6.QtCore import QTimer

    win = open_window(args)
    QTimer.singleShot(500, lambda: win.actions_.play.trigger())
    QTimer.singleShot(3000, win.close)
    QTimer.singleShot(20000, lambda: app.exit(3))  # a window that would not close
    code = app.exec()
    ok = code == 0 and not win.isVisible()
    print(f"window opened and closed: {'ok' if ok else f'FAILED (exit {code})'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
