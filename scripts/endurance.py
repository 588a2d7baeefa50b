#!/usr/bin/env python
"""Endurance: train mnist-mlp in the open window for N minutes and watch memory.

The app as users run it (training in its child process, recording on into a
temporary runs folder), offscreen unless a display is given. Every 10 s the
resident memory of the window's process and of the training process is
sampled. At the end it prints the curve's figures: after the warm-up, the
start, maximum and end, and the slope (least squares, MB per hour), and exits
1 if resident memory grew by more than --limit-mb after the warm-up.

    python scripts/endurance.py --minutes 30
    python scripts/endurance.py --minutes 5 --csv /tmp/endurance.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--scenario", default="mnist-mlp")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument(
        "--warmup", type=float, default=300.0, help="seconds not judged (the snapshot ring fills)"
    )
    ap.add_argument("--limit-mb", type=float, default=50.0)
    ap.add_argument("--csv", type=Path, help="write the samples here")
    ap.add_argument("--no-record", action="store_true", help="do not record the run")
    args = ap.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    runs = tempfile.mkdtemp(prefix="nnviz-endurance-")
    os.environ["NNVIZ_RECORD"] = "0" if args.no_record else runs
    os.environ.setdefault("NNVIZ_SETTINGS_ORG", "nnviz-endurance")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from PySide6.QtCore import QTimer

    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.main_window import MainWindow

    app = make_app()
    win = MainWindow(args.scenario)
    win.resize(1280, 800)
    win.show()
    samples: list[tuple[float, float, float, int]] = []  # t, window MB, training MB, step
    t0 = time.monotonic()
    me = os.getpid()

    def sample() -> None:
        t = time.monotonic() - t0
        kids = sum(rss_mb(p) for p in child_pids(me))
        step = win.session.history.metrics.last_step
        if win.session.info is not None and not win.session.playing:
            start()
        samples.append((t, rss_mb(me), kids, step))
        print(
            f"{t:7.0f} s  window {samples[-1][1]:7.1f} MB  training {kids:7.1f} MB  step {step:,}",
            flush=True,
        )
        if t >= args.minutes * 60:
            win.close()
            app.quit()

    def start() -> None:
        if win.session.info is None:  # not built yet
            QTimer.singleShot(500, start)
            return
        if win.controls.speed.isEnabled():
            win.controls.speed.setValue(win.controls.speed.maximum())  # full speed
        if not win.session.playing:
            win.actions_.play.trigger()

    restarts = [0]

    def go_on(*_args) -> None:  # past the planned length (or a halt), as a user would
        restarts[0] += 1
        QTimer.singleShot(0, start)

    win.session.finished.connect(go_on)
    win.session.halted.connect(go_on)
    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(args.interval * 1000))
    QTimer.singleShot(0, sample)
    QTimer.singleShot(500, start)
    app.exec()
    print(f"(play pressed again {restarts[0]} times: planned lengths reached or halts)")
    return report(samples, args)


def report(samples, args) -> int:
    import numpy as np

    a = np.asarray(samples, dtype=float)
    judged = a[a[:, 0] >= min(args.warmup, a[-1, 0] / 2)]
    total = judged[:, 1] + judged[:, 2]
    slope = np.polyfit(judged[:, 0], total, 1)[0] * 3600 if len(judged) > 2 else float("nan")
    growth = total.max() - total[0]
    steps = int(a[-1, 3])
    print(
        f"\nendurance: {args.scenario}, {a[-1, 0] / 60:.1f} min, {steps:,} steps, "
        f"recording {'off' if args.no_record else 'on'}\n"
        f"resident memory (window + training), after {judged[0, 0]:.0f} s warm-up: "
        f"start {total[0]:.1f} MB, max {total.max():.1f} MB, end {total[-1]:.1f} MB, "
        f"growth {growth:+.1f} MB, slope {slope:+.1f} MB/hour"
    )
    if args.csv:
        np.savetxt(args.csv, a, delimiter=",", header="t_s,window_mb,training_mb,step", comments="")
    ok = growth <= args.limit_mb
    print("within" if ok else "OVER", f"the {args.limit_mb:.0f} MB limit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
