"""``nnviz [open ID]``: the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from nnviz.cli.common import add_threads_flag, nonnegative_int, positive_int


def register(sub) -> None:
    p = sub.add_parser("open", help="open the app on a scenario (default: the app's default)")
    p.add_argument("scenario", nargs="?", metavar="ID", help="a scenario id")
    p.add_argument("--data", type=Path, help="folder with your data (MNIST IDX or train.csv+PNGs)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")
    p.add_argument("--theme", choices=("dark", "light"), help="colour theme")
    p.add_argument("--presenter", action="store_true", help="start in presenter mode")
    add_threads_flag(p)
    p.add_argument(
        "--history-mb",
        type=positive_int,
        default=256,
        metavar="MB",
        help="memory for the snapshots kept to scrub back through (default 256)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnviz.core.scenarios import DEFAULT_SCENARIO, get_scenario

    get_scenario(args.scenario or DEFAULT_SCENARIO)  # a bad id fails before Qt starts
    from nnviz.qt.bootstrap import run_app

    return run_app(args)
