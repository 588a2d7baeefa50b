"""The training engine's cost against a plain torch loop, in one process.

Cases: ``or-gate`` for 10,000 full-batch steps, and one ``mnist-mlp`` epoch
(batch 64) on synthetic 28×28 images (54,000 training images by default, as
MNIST's 60,000 minus the 10 % validation split).

The plain loop is what a person writes by hand, on the same model, data,
loss, optimizer and batch order::

    for each batch (x[idx], y[idx] from a fresh randperm each epoch):
        out = model(x); loss = loss_fn(out, y)
        opt.zero_grad(); loss.backward(); opt.step(); loss.item()

The engine runs the core run loop (``nnviz.core.run.Run``, given ``Step(N)``)
— what the app's worker, ``nnviz train`` and ``nnviz render`` drive, with its periodic evaluation on (automatic cadence)
— unwatched, and watched at 30 Hz: ``engine_watched`` asks for a snapshot from
the loop whenever 33 ms have passed (the engine's own cost), and
``engine_watched_thread`` asks from a second thread every 33 ms, as the app's
GUI timer does (this adds what any second Python thread waking 30 times a
second costs: GIL hand-overs, worse on a busy machine). ``--no-eval`` adds
the engine with evaluation off. Wall and CPU (process) time are both reported.

Every variant trains its own copy of the model; within a round they take
turns in slices (``--slices``, 40: 250 or-gate steps, 21 mnist-mlp steps),
in a rotating order, so slow phases of a shared machine hit all of them
alike; medians over ``--rounds`` rounds are reported. ``plain_again`` is a
second plain loop: its ratio shows the noise floor of the measurement.

    python benchmarks/bench_engine.py [--rounds 5] [--mnist-n 54000] [--threads 1]
    nnviz bench engine [same options]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from nnviz.core import run as R  # noqa: E402
from nnviz.core.datasets import Dataset, synthetic_images  # noqa: E402
from nnviz.core.engine import TrainConfig, Trainer  # noqa: E402
from nnviz.core.scenarios import get_scenario  # noqa: E402
from nnviz.core.threads import ThreadTuner  # noqa: E402

GOALS = {"engine": 1.05, "engine_watched": 1.15, "engine_watched_thread": 1.15}
FRAME_S = 1 / 30  # the views ask for a snapshot at most at 30 Hz


def _mnist_dataset(n: int) -> Dataset:
    x, y = synthetic_images(n + 100, (28, 28), seed=0)
    return Dataset("synthetic", x[:n], y[:n], x[n:], y[n:], (28, 28), tuple("0123456789"))


class Case:
    """One scenario set up so every variant starts from the same state."""

    def __init__(self, name: str, scenario_id: str, steps: int | None, dataset: Dataset | None):
        self.name = name
        self.scenario = get_scenario(scenario_id)
        self.dataset = dataset
        self.cfg = TrainConfig.for_scenario(self.scenario, device="cpu")
        probe = self.trainer()
        self.steps = steps or probe.steps_per_epoch

    def trainer(self, **cfg) -> Trainer:
        return Trainer(self.scenario, replace(self.cfg, **cfg), dataset=self.dataset)


class PlainLoop:
    """The hand-written loop, run ``k`` steps at a time."""

    def __init__(self, case: Case) -> None:
        tr = case.trainer()  # only for the identical model, data, loss and optimizer
        self.model, self.loss_fn, self.opt = tr.model, tr.loss_fn, tr.optimizer
        self.x, self.y = tr.x_train, tr.y_train
        self.n, self.bs = tr.n_train, tr.batch_size
        self.gen = torch.Generator().manual_seed(0)
        self.order, self.pos = None, self.n
        self.snapshots = 0

    def advance(self, k: int) -> None:
        model, loss_fn, opt, x_all, y_all = self.model, self.loss_fn, self.opt, self.x, self.y
        n, bs, order, pos = self.n, self.bs, self.order, self.pos
        full = bs >= n
        for _ in range(k):
            if full:
                x, y = x_all, y_all
            else:
                if pos >= n:
                    order, pos = torch.randperm(n, generator=self.gen), 0
                idx = order[pos : pos + bs]
                pos += bs
                x, y = x_all[idx], y_all[idx]
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
        self.order, self.pos = order, pos

    def close(self) -> None:
        pass


class EngineLoop:
    """The run loop advanced ``k`` steps at a time, unwatched or watched at 30 Hz.

    ``watch``: "" unwatched; "time": the loop asks for a snapshot whenever
    33 ms of this variant's own running time have passed (the engine's cost);
    "thread": another thread asks every 33 ms while this variant runs, as the
    app's GUI timer does (adding what any second Python thread waking 30 times
    a second costs: GIL hand-overs, worse on a busy machine).
    """

    def __init__(self, case: Case, watch: str = "", evaluate: bool = True) -> None:
        self.tr = case.trainer(eval_every=0 if evaluate else -1)
        # the thread count is the benchmark's (--threads), as for the plain loop
        self.run = R.Run(self.tr, threads=ThreadTuner(fixed=torch.get_num_threads()))
        self.run.submit(R.Step(case.steps))
        self.watch = watch
        self.snapshots = 0
        self.active_s = 0.0  # this variant's own running time
        self.due = FRAME_S
        self._active = threading.Event()
        self._done = threading.Event()
        self._thread = None
        if watch == "thread":
            self._thread = threading.Thread(target=self._watcher, daemon=True)
            self._thread.start()

    def _watcher(self) -> None:  # the views' 30 Hz frame timer
        while not self._done.wait(FRAME_S):
            if self._active.is_set():
                self.tr.request_snapshot(0)

    def advance(self, k: int) -> None:
        by_time, tr = self.watch == "time", self.tr
        t0 = time.perf_counter()
        self._active.set()
        advance, done = self.run.advance, 0
        while done < k:
            for ev in advance(0.0):
                if type(ev) is R.SnapshotReady:
                    self.snapshots += 1
            done += 1
            if by_time:
                now = self.active_s + time.perf_counter() - t0
                if now >= self.due:
                    tr.request_snapshot(0)
                    self.due = now + FRAME_S
        self._active.clear()
        self.active_s += time.perf_counter() - t0

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def run_case(case: Case, rounds: int, no_eval: bool, slices: int) -> dict:
    """``rounds`` runs of every variant; within a round the variants take turns
    in slices of ``steps / slices`` steps, so a slow phase of a shared machine
    (seconds long) hits all of them alike."""
    variants = {
        "plain": lambda: PlainLoop(case),
        # The same plain loop again: how far apart two identical loops come out
        # (the noise floor of the ratios).
        "plain_again": lambda: PlainLoop(case),
        "engine": lambda: EngineLoop(case),
        "engine_watched": lambda: EngineLoop(case, watch="time"),
        "engine_watched_thread": lambda: EngineLoop(case, watch="thread"),
    }
    if no_eval:
        variants["engine_no_eval"] = lambda: EngineLoop(case, evaluate=False)
        variants["engine_watched_no_eval"] = lambda: EngineLoop(case, "time", evaluate=False)
    wall: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    snaps: dict[str, list[int]] = {k: [] for k in variants}
    k = max(1, case.steps // slices)
    for _ in range(rounds):
        loops = {name: make() for name, make in variants.items()}
        w = dict.fromkeys(loops, 0.0)
        c = dict.fromkeys(loops, 0.0)
        left = case.steps
        turn = 0
        while left > 0:
            n = min(k, left)
            # Rotate the order: each variant runs first, last and in between
            # equally often, and never twice in a row (which would hand it
            # caches warmed by its own previous slice).
            names = list(loops)
            shift = turn % len(names)
            names = names[shift:] + names[:shift]
            for name in names:
                c0, t0 = time.process_time(), time.perf_counter()
                loops[name].advance(n)
                w[name] += time.perf_counter() - t0
                c[name] += time.process_time() - c0
            left -= n
            turn += 1
        for name, loop in loops.items():
            loop.close()
            wall[name].append(w[name])
            cpu[name].append(c[name])
            snaps[name].append(loop.snapshots)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "case": case.name,
        "steps": case.steps,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "ratio": {k: round(v / med["plain"], 3) for k, v in med.items() if k != "plain"},
        "cpu_ratio": {
            k: round(v / med_cpu["plain"], 3) for k, v in med_cpu.items() if k != "plain"
        },
        "snapshots_per_run": {k: statistics.median(v) for k, v in snaps.items() if "watched" in k},
        "wall_s": {k: [round(t, 4) for t in v] for k, v in wall.items()},
        "cpu_s": {k: [round(t, 4) for t in v] for k, v in cpu.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nnviz bench engine", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds, medians taken (default 5)")
    ap.add_argument(
        "--slices", type=int, default=40, help="turns per round the variants take (default 40)"
    )
    ap.add_argument("--or-steps", type=int, default=10_000, help="or-gate steps (default 10000)")
    ap.add_argument(
        "--mnist-n", type=int, default=54_000, help="synthetic training images (default 54000)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--case", choices=("or-gate", "mnist-mlp", "all"), default="all")
    ap.add_argument(
        "--no-eval", action="store_true", help="also time the engine without evaluation"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))

    cases = []
    if args.case in ("or-gate", "all"):
        cases.append(Case("or-gate", "or-gate", args.or_steps, None))
    if args.case in ("mnist-mlp", "all"):
        ds = _mnist_dataset(args.mnist_n)
        cases.append(Case(f"mnist-mlp 1 epoch ({args.mnist_n} images)", "mnist-mlp", None, ds))
    results = []
    for case in cases:
        run_case(case, 1, False, 4)  # warm-up: first-call costs off the clock
        res = run_case(case, args.rounds, args.no_eval, args.slices)
        results.append(res)
        print(f"{res['case']}: {res['steps']} steps, median of {args.rounds}", file=sys.stderr)
        for k, v in res["median_s"].items():
            extra = ""
            if k in res["ratio"]:
                extra = f"  {res['ratio'][k]:.3f}× plain (CPU time {res['cpu_ratio'][k]:.3f}×)"
            goal = GOALS.get(k.replace("_no_eval", ""))
            if goal is not None:
                extra += f", goal ≤ {goal}"
            print(f"  {k:<24} {v:8.3f} s{extra}", file=sys.stderr)
    out = {"torch_threads": torch.get_num_threads(), "rounds": args.rounds, "results": results}
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
