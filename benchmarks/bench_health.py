"""Training health: what the statistics cost training, and the views' frame time.

    python benchmarks/bench_health.py [--rounds 5] [--steps 300] [--reports 200]

Two measurements on ``mnist-mlp`` (784-512-512-10, Adam, batch 64) trained on
its offline stand-in data (scikit-learn's digits resized to 28×28; no files):

1. **Cost vs training speed at the views' cadence.** The core ``Trainer``
   steps with a snapshot asked for every 33 ms of training (the app's frame
   clock asks once a frame, ~30 Hz), once with the health statistics off
   (the engine's probe replaced by a no-op) and once on as the app runs them
   (a full report only as often as keeps its measured cost under 2 % of the
   time, at most every 0.1 s). The variants take turns over ``--rounds``
   rounds of ``--steps`` steps; medians of the rates. Goal: the statistics
   cost ≤ 5 % of training speed. Also shown: one report's cost and the cost
   with a report on every snapshot (no throttle), for reference.
2. **The histogram view at 1600×900 with 200 recorded steps** (offscreen):
   the history holds ``--reports`` real mnist-mlp reports; each frame a new
   report arrives (the history's version changes), the view refreshes and
   repaints. Frame p95 in ridges and bands mode, and the gradient-flow view.
   Goal: p95 ≤ 33 ms.

The machine is shared: run it when it is quiet, and compare ratios, not times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FRAME_S = 1 / 30
GOAL_COST = 0.05
GOAL_FRAME_MS = 33.0


def _trainer():
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario("mnist-mlp")
    return Trainer(sc, TrainConfig.for_scenario(sc, eval_every=-1))


def _rate(trainer, steps: int, health: bool, every_snapshot: bool = False) -> float:
    """Steps per second with a snapshot every FRAME_S of training."""
    import nnviz.core.health as H

    real = H.observe
    if not health:
        H.observe = lambda trainer, snap, capture: snap
    trainer.__dict__["health_every"] = 1 if every_snapshot else 0
    try:
        next_snap = time.perf_counter()
        t0 = time.perf_counter()
        for _ in range(steps):
            now = time.perf_counter()
            snap = now >= next_snap
            if snap:
                next_snap = now + FRAME_S
            trainer.step(snapshot=snap)
        return steps / (time.perf_counter() - t0)
    finally:
        H.observe = real
        trainer.__dict__["health_every"] = 0


def bench_cost(rounds: int, steps: int) -> dict:
    import torch

    from nnviz.core.health import tracker_of

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    t = _trainer()
    _rate(t, 50, True)  # warm-up
    rates: dict[str, list[float]] = {"off": [], "on": [], "every": []}
    costs = []
    for r in range(rounds):
        order = ["off", "on", "every"] if r % 2 == 0 else ["every", "on", "off"]
        for kind in order:
            rates[kind].append(_rate(t, steps, kind != "off", kind == "every"))
            if kind == "every":
                costs.append(tracker_of(t).cost_s)
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "rate_off": med["off"],
        "rate_on": med["on"],
        "rate_every_snapshot": med["every"],
        "cost_on": 1 - med["on"] / med["off"],
        "cost_every_snapshot": 1 - med["every"] / med["off"],
        "report_ms": 1000 * statistics.median(costs),
        "threads": torch.get_num_threads(),
    }


def _frames(app, view, history, extra, n: int) -> tuple[list[float], list[float]]:
    """Frame times (wall ms, and this thread's CPU ms: on a shared machine
    the wall clock also counts waiting for a core): a report arrives, the
    view refreshes and repaints."""
    wall, cpu = [], []
    for i in range(n):
        rep = extra[i % len(extra)]
        t0, c0 = time.perf_counter(), time.thread_time()
        history.health.add(type(rep)(history.health.latest.step + 1, rep.layers, rep.warnings))
        view.refresh()
        view.repaint()
        app.processEvents()
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.thread_time() - c0))
    return wall, cpu


def _p95(ms: list[float]) -> float:
    ms = sorted(ms)
    return ms[int(0.95 * (len(ms) - 1))]


def bench_frames(n_reports: int, frames: int = 60) -> dict:
    from nnviz.core.history import History
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.distribution_view import DistributionView
    from nnviz.qt.gradflow_view import GradFlowView
    from nnviz.qt.theme import DARK, apply_theme

    t = _trainer()
    t.health_every = 1
    reports = [t.step(snapshot=True).snapshot.health for _ in range(n_reports + 10)]
    extra = reports[n_reports:]
    app = make_app()
    apply_theme(app, DARK)
    out = {}
    for name, cls in (
        ("ridges", DistributionView),
        ("bands", DistributionView),
        ("gradflow", GradFlowView),
    ):
        history = History()
        for rep in reports[:n_reports]:
            history.health.add(rep)
        view = cls(history=history)
        if name == "bands":
            view.set_mode("bands")
        view.resize(1600, 900)
        view.show()
        for _ in range(3):
            app.processEvents()
        view.refresh()
        wall, cpu = _frames(app, view, history, extra, frames)
        out[name] = {
            "p50_ms": statistics.median(wall),
            "p95_ms": _p95(wall),
            "cpu_p50_ms": statistics.median(cpu),
            "cpu_p95_ms": _p95(cpu),
        }
        view.close()
    out["reports"] = n_reports
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--reports", type=int, default=200)
    args = p.parse_args(argv)
    frames = bench_frames(args.reports)
    print(f"histogram view, 1600×900, {frames['reports']} recorded steps of mnist-mlp:")
    for name in ("ridges", "bands", "gradflow"):
        f = frames[name]
        ok = "ok" if f["p95_ms"] <= GOAL_FRAME_MS else "OVER"
        print(f"  {name:9s} frame p50 {f['p50_ms']:6.1f} ms  p95 {f['p95_ms']:6.1f} ms  "
              f"(CPU p50 {f['cpu_p50_ms']:5.1f}, p95 {f['cpu_p95_ms']:5.1f} ms; "
              f"goal ≤ {GOAL_FRAME_MS:.0f}: {ok})")  # fmt: skip
    c = bench_cost(args.rounds, args.steps)
    ok = "ok" if c["cost_on"] <= GOAL_COST else "OVER"
    print(f"mnist-mlp, snapshots every {1000 * FRAME_S:.0f} ms, {c['threads']} threads:")
    print(f"  health off   {c['rate_off']:8.1f} steps/s")
    print(f"  health on    {c['rate_on']:8.1f} steps/s  cost {100 * c['cost_on']:5.1f} % "
          f"(goal ≤ {100 * GOAL_COST:.0f} %: {ok})")  # fmt: skip
    print(f"  every snap   {c['rate_every_snapshot']:8.1f} steps/s  cost "
          f"{100 * c['cost_every_snapshot']:5.1f} %  (one report: {c['report_ms']:.1f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
