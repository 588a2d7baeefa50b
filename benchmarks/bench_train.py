"""The whole ``nnviz train`` path against the best plain torch loop.

Cells: {``spiral`` 300 steps, ``mnist-mlp`` one epoch of synthetic MNIST-format
IDX files} × {quiet, one core kept busy by a busy-loop process this benchmark
starts and stops}. Every run is a fresh process:

- ``nnviz``: ``python -m nnviz train ID … --device cpu --json`` as a user runs it;
  its training time is the JSON's ``wall_s``, and the whole process is timed too.
- ``nnviz@N`` (with ``--threads N``): the same with ``--threads N`` passed on.
- ``plain@n`` for n = 1 … cores: a hand-written loop on the same model, data,
  loss, optimizer and batch order (a fresh ``randperm`` each epoch, batches
  indexed out of one tensor, ``loss.item()`` every step), with
  ``torch.set_num_threads(n)``; the *best plain loop* is the fastest count.
- ``tuned`` (unless ``--no-driver``): the core ``Trainer`` stepped by a small
  loop with a :class:`~nnviz.core.threads.ThreadTuner` (what the run loop does
  once it drives the tuner).

Ratio = median ``nnviz`` training time / median of the best ``plain@n``
(medians over ``--repeats``; within a repeat the variants take turns in a
rotating order, so slow phases of a shared machine hit all of them alike).
Goal: ≤ 1.05× in all four cells. ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``
are removed from the children's environment, so "default" means torch's.

    python benchmarks/bench_train.py [--repeats 3] [--mnist-n 10000] [--threads N]
                                     [--cells spiral,mnist] [--loads quiet,busy]
                                     [--json FILE]
    nnviz bench train [same options]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.05
SPIRAL_STEPS = 300
CHILD_TIMEOUT_S = 600


# --- children: one run each, one JSON line on stdout --------------------------------------


def _trainer(scenario_id: str, data: str | None):
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario(scenario_id)
    # What `nnviz train ID --device cpu` builds (seed 0): model, data, loss, optimizer.
    return Trainer(sc, TrainConfig.for_scenario(sc, seed=0, device="cpu"), data_dir=data)


def _steps(tr, steps: int | None) -> int:
    return steps if steps is not None else tr.steps_per_epoch  # None: one epoch


def child_plain(scenario_id: str, steps: int | None, data: str | None, threads: int) -> dict:
    """The hand-written loop at ``threads`` threads (set before any torch op)."""
    import torch

    torch.set_num_threads(threads)
    tr = _trainer(scenario_id, data)  # only for the identical model, data, loss, optimizer
    model, loss_fn, opt = tr.model, tr.loss_fn, tr.optimizer
    x_all, y_all, n, bs = tr.x_train, tr.y_train, tr.n_train, tr.batch_size
    gen = torch.Generator().manual_seed(0)
    total = _steps(tr, steps)
    full = bs >= n
    order, pos = None, n
    loss_value = math.nan
    t0 = time.perf_counter()
    for _ in range(total):
        if full:
            x, y = x_all, y_all
        else:
            if pos >= n:
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos : pos + bs]
            pos += bs
            x, y = x_all[idx], y_all[idx]
        out = model(x)
        loss = loss_fn(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_value = loss.item()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "steps": total, "threads": threads, "final_loss": loss_value}


def child_tuned(scenario_id: str, steps: int | None, data: str | None, threads: int | None):
    """The core Trainer stepped with a ThreadTuner, as the run loop does."""
    from nnviz.core.threads import ThreadTuner

    tr = _trainer(scenario_id, data)
    tuner = ThreadTuner(fixed=threads)
    total = _steps(tr, steps)
    perf = time.perf_counter
    loss_value = math.nan
    t0 = perf()
    for _ in range(total):
        tuner.before_step()
        s = perf()
        m = tr.step()
        tuner.after_step(perf() - s)
        loss_value = m.loss
        if not math.isfinite(loss_value):
            break
    wall = perf() - t0
    return {
        "wall_s": wall,
        "steps": tr.step_count,
        "threads": tuner.threads,
        "trial": {str(k): v for k, v in tuner.last_trial.items()},
        "tuner": tuner.describe(),
        "final_loss": loss_value,
    }


def child_main(args: argparse.Namespace) -> int:
    steps = args.child_steps if args.child_steps > 0 else None
    if args.child == "plain":
        out = child_plain(args.child_scenario, steps, args.child_data, args.child_threads)
    else:
        out = child_tuned(args.child_scenario, steps, args.child_data, args.child_threads or None)
    print(json.dumps(out))
    return 0


# --- the parent ---------------------------------------------------------------------------


def write_mnist(folder: Path, n: int) -> None:
    """``n`` synthetic 28×28 training images as MNIST IDX files (no test files)."""
    import numpy as np

    from nnviz.core.datasets import synthetic_images, write_idx

    x, y = synthetic_images(n, (28, 28), seed=0)
    write_idx(folder / "train-images-idx3-ubyte", np.round(x * 255).astype(np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", y.astype(np.uint8))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(k, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


class NotWired(Exception):
    """``nnviz train`` does not accept an option (not wired yet)."""


def run_child(cmd: list[str]) -> tuple[dict, float]:
    """Run ``cmd``; its last stdout line's JSON and the whole process's wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    process_s = time.perf_counter() - t0
    if proc.returncode != 0:
        if "unrecognized arguments" in proc.stderr:
            raise NotWired(proc.stderr.strip().splitlines()[-1])
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{' '.join(cmd)} printed nothing:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1]), process_s


class Cell:
    def __init__(self, case: str, data: Path | None, mnist_n: int) -> None:
        self.case = case
        self.data = data
        if case == "spiral":
            self.scenario, self.steps = "spiral", SPIRAL_STEPS
            self.label = f"spiral, {SPIRAL_STEPS} steps"
            self.train_args = ["--steps", str(SPIRAL_STEPS)]
        else:
            self.scenario, self.steps = "mnist-mlp", None
            self.label = f"mnist-mlp, 1 epoch ({mnist_n:,} images)"
            self.train_args = ["--epochs", "1", "--data", str(data)]

    def variants(self, cores: int, threads: int | None, driver: bool) -> dict[str, list[str]]:
        train = [sys.executable, "-m", "nnviz", "train", self.scenario, *self.train_args]
        train += ["--device", "cpu", "--json"]
        child = [sys.executable, str(Path(__file__).resolve()), "--child"]
        common = ["--child-scenario", self.scenario, "--child-steps", str(self.steps or 0)]
        if self.data is not None:
            common += ["--child-data", str(self.data)]
        out = {"nnviz": train}
        if threads is not None:
            out[f"nnviz@{threads}"] = [*train, "--threads", str(threads)]
        if driver:
            out["tuned"] = [*child, "tuned", *common]
        for n in range(1, cores + 1):
            out[f"plain@{n}"] = [*child, "plain", *common, "--child-threads", str(n)]
        return out


class BusyLoop:
    """A process spinning on one core while the ``with`` block runs."""

    def __enter__(self) -> BusyLoop:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)  # let it reach its core
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_cell(cell: Cell, load: str, variants: dict[str, list[str]], repeats: int) -> dict:
    wall: dict[str, list[float]] = {k: [] for k in variants}
    proc_s: dict[str, list[float]] = {k: [] for k in variants}
    extra: dict[str, list] = {k: [] for k in variants}
    skipped: dict[str, str] = {}
    names = list(variants)
    load_before = _loadavg()
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if name in skipped:
                continue
            try:
                out, p = run_child(variants[name])
            except NotWired as exc:
                skipped[name] = str(exc)
                continue
            wall[name].append(float(out["wall_s"]))
            proc_s[name].append(p)
            if "threads" in out:
                extra[name].append(out.get("tuner") or out["threads"])
            print(f"  {load:5} {cell.case:6} {name:9} {out['wall_s']:7.3f} s", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in wall.items() if v}
    med_p = {k: statistics.median(v) for k, v in proc_s.items() if v}
    plains = {k: v for k, v in med.items() if k.startswith("plain@")}
    best = min(plains, key=plains.get)
    best_p = min(v for k, v in med_p.items() if k.startswith("plain@"))
    return {
        "case": cell.label,
        "load": load,
        "loadavg": [load_before, _loadavg()],
        "best_plain": best,
        "best_plain_s": med[best],
        "median_s": med,
        "ratio": {k: v / med[best] for k, v in med.items() if not k.startswith("plain@")},
        "process_median_s": med_p,
        "process_ratio": {k: v / best_p for k, v in med_p.items() if not k.startswith("plain@")},
        "wall_s": wall,
        "process_s": proc_s,
        "threads": {k: v for k, v in extra.items() if v},
        "not_wired": skipped,
    }


def _count(name: str) -> int:
    return int(name.split("@")[1])


def _loadavg() -> float:
    """The 1-minute load average (other people's work on a shared machine shows here)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return math.nan


def table(results: list[dict], threads: int | None, driver: bool) -> str:
    cols = ["nnviz"] + ([f"nnviz@{threads}"] if threads is not None else [])
    cols += ["tuned"] if driver else []
    head = ["case", "load", "load avg", "best plain loop", "plain, torch's default count"]
    for c in cols:
        head += [f"{c} train", f"{c} process"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        a, b = res["loadavg"]
        row = [res["case"], res["load"], f"{a:.1f}→{b:.1f}"]
        row.append(f"{res['best_plain_s']:.3f} s ({res['best_plain']})")
        default = max((k for k in res["median_s"] if k.startswith("plain@")), key=_count)
        ratio = res["median_s"][default] / res["best_plain_s"]
        row.append(f"{ratio:.2f}× ({default})")
        for c in cols:
            if c in res["ratio"]:
                mark = "**" if res["ratio"][c] <= GOAL else ""
                row.append(f"{mark}{res['ratio'][c]:.2f}×{mark} ({res['median_s'][c]:.3f} s)")
                row.append(f"{res['process_ratio'][c]:.2f}×")
            else:
                row += ["not wired", ""]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nnviz bench train", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs of each variant (default 3)")
    ap.add_argument(
        "--mnist-n", type=int, default=10_000, help="synthetic MNIST images (default 10000)"
    )
    ap.add_argument("--threads", type=int, help="also run `nnviz train --threads N`")
    ap.add_argument("--cells", default="spiral,mnist", help="spiral, mnist or both (default)")
    ap.add_argument("--loads", default="quiet,busy", help="quiet, busy or both (default)")
    ap.add_argument("--cores", type=int, help="plain-loop thread counts 1..N (default: cores)")
    ap.add_argument(
        "--no-driver", action="store_true", help="skip the Trainer + ThreadTuner driver"
    )
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    # internal: one child run
    ap.add_argument("--child", choices=("plain", "tuned"), help=argparse.SUPPRESS)
    ap.add_argument("--child-scenario", help=argparse.SUPPRESS)
    ap.add_argument("--child-steps", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child-data", help=argparse.SUPPRESS)
    ap.add_argument("--child-threads", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args)

    from nnviz.core.threads import available_cores

    cores = args.cores or available_cores()
    cases = [c.strip() for c in args.cells.split(",") if c.strip()]
    loads = [c.strip() for c in args.loads.split(",") if c.strip()]
    if not set(cases) <= {"spiral", "mnist"} or not set(loads) <= {"quiet", "busy"}:
        ap.error("--cells takes spiral,mnist and --loads quiet,busy")
    driver = not args.no_driver
    results = []
    with tempfile.TemporaryDirectory(prefix="nnviz-bench-train-") as tmp:
        data = Path(tmp)
        if "mnist" in cases:
            write_mnist(data, args.mnist_n)
        cells = [Cell(c, data if c == "mnist" else None, args.mnist_n) for c in cases]
        for load in loads:
            with BusyLoop() if load == "busy" else contextlib.nullcontext():
                for cell in cells:
                    variants = cell.variants(cores, args.threads, driver)
                    results.append(run_cell(cell, load, variants, max(1, args.repeats)))
    print(
        f"\nnnviz train against the best plain torch loop (median of {args.repeats}; "
        f"training time from wall_s, and the whole process); goal ≤ {GOAL}×\n"
    )
    print(table(results, args.threads, driver))
    print()
    for res in results:
        for name, why in res["not_wired"].items():
            print(f"\n{name}: not run ({why})")
        for name, chosen in res["threads"].items():
            if not name.startswith("plain@"):
                print(f"{res['case']}, {res['load']}, {name}: threads {chosen}")
    if args.json is not None:
        import torch

        out = {
            "torch": torch.__version__,
            "cores": cores,
            "repeats": args.repeats,
            "mnist_n": args.mnist_n,
            "goal": GOAL,
            "results": results,
        }
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
