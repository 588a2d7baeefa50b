"""The ``nnviz`` command.

``nnviz`` and ``nnviz open ID`` start the app; ``scenarios``, ``train`` and
``graph`` are headless and never import Qt; ``render`` draws views offscreen.
Bad input exits 2 with one ``nnviz: error: ...`` line and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from nnviz import __version__
from nnviz.core.errors import NnvizError

# Each module defines register(subparsers), which adds its parser with
# set_defaults(func=run). Imported lazily so `nnviz scenarios` stays light.
COMMANDS = ("open", "scenarios", "train", "graph", "render", "inspect", "bench", "install-desktop")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"nnviz: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nnviz",
        description="See a neural network learn: network, autograd graph, "
        "step-through backprop and live curves, on real torch.",
    )
    parser.add_argument("--version", action="version", version=f"nnviz {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module_name = f"nnviz.cli.{name.replace('-', '_')}_cmd"
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `nnviz` opens the app on the default scenario
        args = parser.parse_args(["open", *argv])
    try:
        return int(args.func(args) or 0)
    except NnvizError as exc:
        print(f"nnviz: error: {exc}", file=sys.stderr)
        detail = getattr(exc, "detail", "")  # a model file's own traceback frames (issue 9)
        if detail:
            print(detail, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnviz: interrupted", file=sys.stderr)
        return 130
