"""``nnviz.watch`` against the same plain torch loop, in one process.

An mnist-mlp-sized loop (784-512-512-10 MLP, ReLU, synthetic data, batch 128,
SGD with momentum, ``loss.item()`` every step as any loop that logs does) is
timed plain, with ``nnviz.watch(every=10)`` and with ``nnviz.watch(every=1)``.
The variants take turns within each repeat (rotating order), so slow phases
of a shared machine hit them alike; ratio = median variant time / median
plain time. Goals: every=10 ≤ 1.05×, every=1 ≤ 1.3×. CPU times are
reported too, steadier on a machine shared with other work: the training
thread's (what the loop waits for; the disk writing and the layers'
statistics run on the writer thread, in parallel on a machine with a core
to spare) and the whole process's (the writer thread and the closing flush
included: all the work recording costs).

    python benchmarks/bench_watch.py [--steps 300] [--repeats 5] [--threads 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

GOALS = {"watch@10": 1.05, "watch@1": 1.3}


def make(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2048, 784, generator=g)
    y = torch.randint(0, 10, (2048,), generator=g)
    return model, opt, x, y


def loop(steps: int, every: int | None, run_dir: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the whole process, writer thread included,
    CPU seconds of the training thread)."""
    import nnviz

    model, opt, x, y = make()
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    probe = nnviz.watch(model, run_dir, every=every) if every else None
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    for step in range(steps):
        i = (step * 128) % n
        xb, yb = x[i : i + 128], y[i : i + 128]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if probe is not None:
            probe.log(loss=loss)
        else:
            loss.item()
    t, main = time.perf_counter() - t0, time.thread_time() - m0
    if probe is not None:
        probe.close()  # the rest of the queue reaches the disk: its CPU time is counted
    return t, time.process_time() - c0, main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = {"plain": None, "watch@10": 10, "watch@1": 1}
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    main_cpu: dict[str, list[float]] = {k: [] for k in variants}
    loop(30, None, Path(tempfile.mkdtemp()) / "warm")  # warm up torch and the allocator
    names = list(variants)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                t, c, m = loop(args.steps, variants[name], Path(tmp) / f"{name}-{r}")
                times[name].append(t)
                cpu[name].append(c)
                main_cpu[name].append(m)
                print(f"repeat {r} {name}: {t * 1e3 / args.steps:.2f} ms/step, "
                      f"{c * 1e3 / args.steps:.2f} ms CPU/step, "
                      f"{m * 1e3 / args.steps:.2f} ms training-thread CPU/step",
                      file=sys.stderr)  # fmt: skip
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    med_main = {k: statistics.median(v) for k, v in main_cpu.items()}
    result = {
        "steps": args.steps,
        "repeats": args.repeats,
        "threads": args.threads,
        "ms_per_step": {k: round(v * 1e3 / args.steps, 3) for k, v in med.items()},
        "ratio": {k: round(med[k] / med["plain"], 3) for k in GOALS},
        "cpu_ms_per_step": {k: round(v * 1e3 / args.steps, 3) for k, v in med_cpu.items()},
        "cpu_ratio": {k: round(med_cpu[k] / med_cpu["plain"], 3) for k in GOALS},
        "training_thread_cpu_ms_per_step": {
            k: round(v * 1e3 / args.steps, 3) for k, v in med_main.items()
        },
        "training_thread_cpu_ratio": {k: round(med_main[k] / med_main["plain"], 3) for k in GOALS},
        "goal": GOALS,
    }
    result["ok"] = all(result["ratio"][k] <= g for k, g in GOALS.items())
    for k, g in GOALS.items():
        print(f"{k}: {result['ratio'][k]:.3f}x the plain loop's wall time (goal <= {g}x), "
              f"{result['training_thread_cpu_ratio'][k]:.3f}x its training thread's CPU time, "
              f"{result['cpu_ratio'][k]:.3f}x its process CPU time")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
