"""``nnviz render ID --view V --out FILE``: draw a view offscreen."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nnviz.cli.common import (
    TARGET_HELP,
    add_threads_flag,
    check_data_flag,
    nonnegative_int,
    positive_int,
    resolve_target,
    size_arg,
)


def register(sub) -> None:
    p = sub.add_parser("render", help="draw a view offscreen to PNG or SVG")
    p.add_argument("scenario", metavar="ID|FILE.py", help=TARGET_HELP)
    # boundary: issue 11; distributions, gradflow: the training-health views (issue 12)
    views = ("network", "boundary", "graph", "loss", "distributions", "gradflow", "all")
    p.add_argument("--view", default="all", choices=views)
    p.add_argument("--out", type=Path, required=True, help="FILE.png, .svg, .gif or .mp4")
    p.add_argument("--steps", type=positive_int, help="train this many steps first")
    p.add_argument("--size", type=size_arg, default=(1600, 900), help="WxH (default 1600x900)")
    p.add_argument("--theme", choices=("dark", "light"), default="dark")
    p.add_argument("--data", type=Path, help="folder with your data")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--weights", type=Path, metavar="FILE", help="start from a saved state_dict")
    # --- animated export (issue 11) ---
    p.add_argument(
        "--sweep",
        action="store_true",
        help="GIF/MP4: one step's forward and backward sweep at the teaching pace "
        "(after --steps steps); without it, training progress over --steps steps",
    )
    p.add_argument("--frames", type=positive_int, help="GIF/MP4: frames (default 48, at most 120)")
    p.add_argument("--fps", type=positive_int, default=12, help="GIF/MP4: frames a second (12)")
    p.add_argument(
        "--presenter", action="store_true", help="draw at presenter mode's scale for --size"
    )
    p.add_argument(  # issue 9: the graph mid-backward
        "--backward-step",
        type=positive_int,
        metavar="K",
        help="--view graph: stop after K backward steps (1 is the loss's own; `nnviz graph` "
        "lists them), unfold the modules around that node and centre on it",
    )
    p.add_argument(  # issue 12
        "--health-overlay",
        action="store_true",
        help="--view network: tint each layer by gradient health, mark dead/saturated units",
    )
    p.set_defaults(size=None)  # 1600x900 for pictures, 960x540 for animations
    # --- end animated export (issue 11) ---
    add_threads_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnviz.core.errors import NnvizError

    target = resolve_target(args.scenario)  # a bad model file fails here, with its line
    check_data_flag(target, args.data)
    if args.data is not None and not args.data.is_dir():
        raise NnvizError(f"the data folder {str(args.data)!r} does not exist")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # never needs a display
    # --- animated export (issue 11) ---
    from nnviz.qt.animated_export import DEFAULT_SIZE, is_animation

    if args.backward_step is not None and (args.view != "graph" or is_animation(args.out)):
        raise NnvizError(  # issue 9: one picture of the graph
            "--backward-step draws one picture of the autograd graph: "
            "use --view graph and a .png or .svg --out"
        )

    if args.health_overlay and (args.view not in ("network", "all") or is_animation(args.out)):
        raise NnvizError(  # issue 12
            "--health-overlay draws on the network view: use --view network and a .png or .svg --out"
        )
    if is_animation(args.out):
        from nnviz.qt.animated_render import render_animation

        out = render_animation(
            args.scenario,
            args.view,
            args.out,
            steps=args.steps,
            sweep=args.sweep,
            frames=args.frames,
            fps=args.fps,
            size=args.size or DEFAULT_SIZE,
            theme_name=args.theme,
            presenter=args.presenter,
            data_dir=args.data,
            seed=args.seed,
            threads=args.threads,
            model_file=target.model_file,
            weights=args.weights,
        )
        print(out)
        return 0
    if args.sweep or args.frames:
        raise NnvizError("--sweep and --frames need an animation: end --out in .gif or .mp4")
    args.size = args.size or (1600, 900)
    # --- end animated export (issue 11) ---
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
        model_file=target.model_file,
        weights=args.weights,
        presenter=args.presenter,  # issue 11
        backward_step=args.backward_step,  # issue 9
        health_overlay=args.health_overlay,  # issue 12
    )
    print(out)
    return 0
