"""``nnviz [open ID]``: the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from nnviz.cli.common import (
    PRESET_HELP,
    TARGET_HELP,
    add_threads_flag,
    check_data_flag,
    nonnegative_int,
    positive_int,
    resolve_target,
)


def register(sub) -> None:
    p = sub.add_parser("open", help="open the app on a scenario (default: the app's default)")
    p.add_argument("scenario", nargs="?", metavar="ID|FILE.py", help=TARGET_HELP)
    p.add_argument("--data", type=Path, help="folder with your data (MNIST IDX or train.csv+PNGs)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")
    p.add_argument(
        "--weights", type=Path, metavar="FILE", help="a model file's saved state_dict to start from"
    )
    p.add_argument("--theme", choices=("dark", "light"), help="colour theme")
    p.add_argument("--presenter", action="store_true", help="start in presenter mode")
    p.add_argument("--preset", help=f"{PRESET_HELP} (the 2-D sets)")  # issue 11
    add_threads_flag(p)
    p.add_argument(
        "--history-mb",
        type=positive_int,
        default=256,
        metavar="MB",
        help="memory for the snapshots kept to scrub back through (default 256)",
    )
    # --- run folders and recording (issue 10: nnviz/qt/run_viewer.py) ---
    from nnviz.qt.run_viewer import add_record_flags

    add_record_flags(p)
    # --- end issue 10 ---
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # --- run folders and recording (issue 10): RUN_DIR, a TensorBoard logdir or a session ---
    from nnviz.qt.run_viewer import apply_record_flags, recorded_path, run_recorded

    apply_record_flags(args)
    if (recorded := recorded_path(args.scenario)) is not None:
        if getattr(args, "preset", None):  # playground (issue 11)
            from nnviz.core.errors import NnvizError

            raise NnvizError(
                f"--preset is for the 2-D sets (circle, xor, gauss, spiral), "
                f"not a recorded run ({recorded})"
            )
        return run_recorded(args, recorded)
    # --- end issue 10 ---
    from nnviz.core.errors import NnvizError
    from nnviz.core.scenarios import DEFAULT_SCENARIO

    # a bad id or model file fails before Qt starts (a file is checked here, then
    # loaded again by the app's training process)
    target = resolve_target(args.scenario, DEFAULT_SCENARIO)
    check_data_flag(target, args.data)
    if getattr(args, "preset", None):  # playground (issue 11): as `nnviz train --preset`
        from nnviz.core.features import preset_overrides

        preset_overrides(args.preset, target.scenario)  # a bad name or set fails here
    if args.weights is not None:
        if target.model_file is None:
            raise NnvizError(
                "--weights in the app is for model files (nnviz open FILE.py --weights W); "
                "for a built-in scenario use nnviz train, graph or render --weights"
            )
        from nnviz.core.weights import apply_weights, load_weights

        apply_weights(target.model_file.build_model(args.seed), load_weights(args.weights))
    from nnviz.qt.bootstrap import run_app

    return run_app(args)
