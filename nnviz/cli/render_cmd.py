"""``nnviz render ID --view V --out FILE``: draw a view offscreen."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nnviz.cli.common import add_threads_flag, nonnegative_int, positive_int, size_arg


def register(sub) -> None:
    p = sub.add_parser("render", help="draw a view offscreen to PNG or SVG")
    p.add_argument("scenario", metavar="ID", help="a scenario id")
    p.add_argument("--view", default="all", choices=("network", "graph", "loss", "all"))
    p.add_argument("--out", type=Path, required=True, help="FILE.png or FILE.svg")
    p.add_argument("--steps", type=positive_int, help="train this many steps first")
    p.add_argument("--size", type=size_arg, default=(1600, 900), help="WxH (default 1600x900)")
    p.add_argument("--theme", choices=("dark", "light"), default="dark")
    p.add_argument("--data", type=Path, help="folder with your data")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    add_threads_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnviz.core.errors import NnvizError
    from nnviz.core.scenarios import get_scenario

    get_scenario(args.scenario)
    if args.data is not None and not args.data.is_dir():
        raise NnvizError(f"the data folder {str(args.data)!r} does not exist")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # never needs a display
    from nnviz.qt.render import render_scenario

    out = render_scenario(
        args.scenario,
        args.view,
        args.out,
        steps=args.steps,
        size=args.size,
        theme_name=args.theme,
        data_dir=args.data,
        seed=args.seed,
        threads=args.threads,
    )
    print(out)
    return 0
