"""What recording the app's own run costs training: the app path with
recording on against the same with recording off.

    python benchmarks/bench_record.py [--scenarios spiral mnist-mlp] [--rounds 3]

Each measurement is ``benchmarks/bench_app.py``'s ``app`` run (the real main
window at 1600×900, offscreen, playing at full speed with every view
updating, training in its child process as the app does) in a fresh
process, with ``$NNVIZ_RECORD`` pointing at a temporary folder (on) or ``0``
(off); rounds alternate the order. The ratio is median(on) / median(off).

``--headless`` measures the same thing without a window, in one process:
the core run loop at full speed, a snapshot asked for every 0.2 s (as
often as the app's history keeps one), its events handed to the app's ``Recorder`` (on)
or dropped (off). Training and the writer's thread then share one process
and its GIL: the worst case (the app trains in a child process), and far
less noisy than timing whole windows on a busy machine.

Goal (issue 10): recording costs ≤ 3 % of training speed (ratio ≥ 0.97).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULTS = {"spiral": (6000, 10000), "mnist-mlp": (1000, 2000)}
ASK_EVERY_S = 0.2  # --headless: snapshots asked for as often as the history keeps them


def _run_child(kind: str, scenario: str, warmup: int, steps: int) -> dict:
    sys.path.insert(0, str(HERE))
    import bench_app

    folder = None
    if kind == "on":
        folder = tempfile.mkdtemp(prefix="nnviz-bench-record-")
        os.environ["NNVIZ_RECORD"] = folder
    else:
        os.environ["NNVIZ_RECORD"] = "0"
    try:
        res = bench_app.app(scenario, warmup, steps)
        if folder is not None:
            files = [p for p in Path(folder).rglob("*") if p.is_file()]
            res["recorded_mb"] = sum(p.stat().st_size for p in files) / 2**20
            res["snapshot_files"] = sum(1 for p in files if p.suffix == ".npz")
        return res
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def headless(kind: str, scenario: str, warmup: int, steps: int) -> dict:
    import time

    from nnviz.core import run as R
    from nnviz.core.scenarios import get_scenario
    from nnviz.qt.recording import Recorder

    run = R.Run()
    run.submit(R.Configure(get_scenario(scenario)))
    info = next(e.info for e in run.drive() if isinstance(e, R.Built))
    run.submit(R.Step(warmup))
    run.drive()
    folder = tempfile.mkdtemp(prefix="nnviz-bench-record-")
    rec = Recorder(Path(folder)) if kind == "on" else None
    if rec is not None:
        rec.new_run(info)
    run.submit(R.Step(steps))
    t0 = last_ask = time.perf_counter()
    c0 = time.process_time()
    while run.busy or run.pending:
        now = time.perf_counter()
        if now - last_ask >= ASK_EVERY_S:
            run.trainer.request_snapshot()
            last_ask = now
        for ev in run.advance(0):
            if rec is None:
                continue
            if isinstance(ev, R.Metrics):
                rec.metrics(ev)
            elif isinstance(ev, R.SnapshotReady):
                rec.snapshot(ev.snapshot, racing=True)
    if rec is not None:
        rec.close()  # everything on disk: its cost is counted
    dt = time.perf_counter() - t0
    out = {"rate": steps / dt, "cpu_per_step_ms": (time.process_time() - c0) / steps * 1e3}
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    out["recorded_mb"] = sum(p.stat().st_size for p in files) / 2**20
    shutil.rmtree(folder, ignore_errors=True)
    return out


def child(kind: str, scenario: str, warmup: int, steps: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, scenario, str(warmup), str(steps)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} {scenario} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=list(DEFAULTS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, help="steps before timing (default per scenario)")
    ap.add_argument("--steps", type=int, help="timed steps (default per scenario)")
    ap.add_argument("--headless", action="store_true", help="no window (see the docstring)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, scenario, warmup, steps = args.child
        fn = headless if kind.startswith("headless-") else _run_child
        kind = kind.removeprefix("headless-")
        print(json.dumps(fn(kind, scenario, int(warmup), int(steps))), flush=True)
        return 0
    for scenario in args.scenarios:
        warmup, steps = DEFAULTS.get(scenario, (500, 2000))
        warmup = args.warmup if args.warmup is not None else warmup
        steps = args.steps if args.steps is not None else steps
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for r in range(args.rounds):
            order = ("off", "on") if r % 2 == 0 else ("on", "off")
            for kind in order:
                res = child(("headless-" if args.headless else "") + kind, scenario, warmup, steps)
                runs[kind].append(res)
                print(f"  {scenario} round {r + 1} recording {kind}: {res}", file=sys.stderr)
        off = statistics.median(x["rate"] for x in runs["off"])
        on = statistics.median(x["rate"] for x in runs["on"])
        mb = statistics.median(x.get("recorded_mb", 0.0) for x in runs["on"])
        if args.headless:
            c_off = statistics.median(x["cpu_per_step_ms"] for x in runs["off"])
            c_on = statistics.median(x["cpu_per_step_ms"] for x in runs["on"])
            extra = (
                f"CPU per step (training + recording threads) {c_off:.3f} → {c_on:.3f} ms "
                f"(+{c_on / c_off - 1:.1%})"
            )
        else:
            cpu_off = statistics.median(x["gui_cpu"] for x in runs["off"])
            cpu_on = statistics.median(x["gui_cpu"] for x in runs["on"])
            extra = f"GUI thread CPU {cpu_off:.0%} → {cpu_on:.0%}"
        print(
            f"{scenario}{' (headless)' if args.headless else ''}: recording off {off:,.0f} "
            f"steps/s, on {on:,.0f} steps/s, ratio {on / off:.3f} (goal ≥ 0.97); {extra}; "
            f"{mb:.1f} MB recorded per run; medians of {args.rounds} rounds"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
