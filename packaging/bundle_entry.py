"""The bundled program's entry point (PyInstaller): the ``nnviz`` command.

The app trains in a child process started as ``<python> -m nnviz.core.run_process``;
in a bundle ``sys.executable`` is this program, so that form is recognised here."""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:3] == ["-m", "nnviz.core.run_process"]:
        from multiprocessing.connection import Connection

        from nnviz.core.run_process import _child_main

        _child_main(Connection(int(sys.argv[3])), int(sys.argv[4]))
        return 0
    from nnviz.cli import main as nnviz_main

    return nnviz_main()


if __name__ == "__main__":
    sys.exit(main())
