#!/usr/bin/env python
"""The UI monkey, longer than in the suite: thousands of random user actions on
the real window, several seeds, both scenarios (tests/qt/test_monkey.py).

    python scripts/monkey.py --actions 3000 --seeds 1,2,3

Fails (exit 1) on any exception, Qt warning, raw exception shown to the user,
deadlock or leaked top-level widget; the failing seed's last actions are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=3000, help="actions per window")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    env.update(
        NNVIZ_MONKEY_ACTIONS=str(args.actions),
        NNVIZ_MONKEY_SEEDS=args.seeds,
        QT_QPA_PLATFORM=env.get("QT_QPA_PLATFORM", "offscreen"),
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/qt/test_monkey.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    n_runs = len(args.seeds.split(",")) * 2
    print(f"monkey: {n_runs} windows x {args.actions} actions = {n_runs * args.actions:,} actions")
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
