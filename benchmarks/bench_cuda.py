"""The CUDA path end to end, on a machine with a GPU; prints a table.

Checks, each a row (check, result, figure):

- ``device``: the GPU torch sees, and a tensor made on it.
- ``train``: ``mnist-mlp`` trained on CUDA by the core ``Trainer`` on synthetic
  MNIST-format IDX files this script writes; the loss must fall; steps/s.
- ``cpu agrees``: the same seed on the CPU gives the same losses (torch is
  the oracle; float32 on both, so within a small tolerance).
- ``snapshot``: ``trainer.snapshot()`` and a watched step
  (``step(snapshot=True)``): numpy arrays equal to the model's own weights
  and gradients, finite; milliseconds each.
- ``autograd graph``: ``capture_trainer_graph(trainer)``; nodes, milliseconds.
- ``unwatched sync``: host synchronisations per unwatched step, counted with
  ``torch.cuda.set_sync_debug_mode("warn")``, and where they come from
  (``loss.item()`` in ``Trainer.step`` is one today: reported as a finding).
- ``app``: the main window offscreen (``QT_QPA_PLATFORM=offscreen``) on
  ``mnist-mlp``, the CUDA device picked in the controls' device picker, a few
  single steps and a second of play through the session; the view gets a
  snapshot from the GPU.

Without CUDA it prints ``CUDA not available: <reason>`` and exits 0.

    python benchmarks/bench_cuda.py [--mnist-n 6000] [--steps 200] [--no-app] [--json FILE]
    nnviz bench cuda [same options]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

ROOT = Path(__file__).resolve().parents[1]
OK, FAIL, FINDING, SKIP = "ok", "FAIL", "finding", "skipped"
SYNC_WARNING = "called a synchronizing"  # torch's warning in sync debug mode "warn"
DEVICE = "cuda"  # --cpu-dry-run: "cpu", to try this script's own code without a GPU


class Report:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, check: str, result: str, figure: str = "", detail: str = "") -> None:
        self.rows.append({"check": check, "result": result, "figure": figure, "detail": detail})
        print(f"  {check}: {result} {figure}", file=sys.stderr, flush=True)

    def run(self, check: str, fn, *args) -> object:
        """``fn(*args)`` returns (result, figure[, detail]) or raises: FAIL with the error."""
        try:
            out = fn(*args)
        except Exception as exc:  # a check that breaks is a row, not the end of the run
            tb = traceback.format_exc(limit=6)
            self.add(check, FAIL, f"{type(exc).__name__}: {exc}"[:160], tb)
            return None
        self.add(check, *out[:3])
        return out

    def table(self) -> str:
        lines = ["| check | result | figure |", "|---|---|---|"]
        for r in self.rows:
            cells = (str(r[k]).replace("|", "\\|") for k in ("check", "result", "figure"))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def cuda_reason() -> str:
    """Why CUDA cannot be used here ("" when it can)."""
    try:
        import torch
    except Exception as exc:  # pragma: no cover - torch is a dependency
        return f"torch does not import ({exc})"
    try:
        from nnviz.core.devices import cuda_unavailable_reason

        reason = cuda_unavailable_reason()
    except Exception:
        reason = "" if torch.cuda.is_available() else "torch.cuda.is_available() is False"
    if reason:
        return reason
    try:
        torch.zeros(1, device="cuda").add_(1).item()
    except Exception as exc:
        return f"a tensor could not be made on the GPU ({type(exc).__name__}: {exc})"
    return ""


def write_mnist(folder: Path, n: int) -> None:
    import numpy as np

    from nnviz.core.datasets import synthetic_images, write_idx

    x, y = synthetic_images(n, (28, 28), seed=0)
    write_idx(folder / "train-images-idx3-ubyte", np.round(x * 255).astype(np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", y.astype(np.uint8))


def make_trainer(data: Path, device: str, **config):
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario

    sc = get_scenario("mnist-mlp")
    return Trainer(sc, TrainConfig.for_scenario(sc, device=device, **config), data_dir=data)


def sync() -> None:
    if DEVICE == "cuda":
        import torch

        torch.cuda.synchronize()


# --- the checks -----------------------------------------------------------------------------


def check_device():
    import torch

    if DEVICE != "cuda":
        return SKIP, "dry run on the CPU"
    name = torch.cuda.get_device_name(0)
    free, total = torch.cuda.mem_get_info()
    gib = total / 2**30
    return OK, f"{name}; torch {torch.__version__}, CUDA {torch.version.cuda}; {gib:.0f} GiB"


def check_train(data: Path, steps: int):
    tr = make_trainer(data, DEVICE)
    if tr.device.type != DEVICE:
        return FAIL, f"the trainer chose {tr.device}"
    on_gpu = tr.x_train.device.type == DEVICE
    on_gpu = on_gpu and all(p.device.type == DEVICE for p in tr.model.parameters())
    first = [tr.step().loss for _ in range(10)]  # warm-up: kernels, allocator
    sync()
    t0 = time.perf_counter()
    losses = [tr.step().loss for _ in range(steps)]
    sync()
    rate = steps / (time.perf_counter() - t0)
    start, end = sum(first[:5]) / 5, sum(losses[-5:]) / 5
    ok = on_gpu and all(math.isfinite(v) for v in losses) and end < start
    fig = f"{rate:,.0f} steps/s (batch {tr.batch_size}); loss {start:.3f} → {end:.3f}"
    return (OK if ok else FAIL), fig, ("" if on_gpu else f"a tensor is not on {DEVICE}")


def check_cpu_agrees(data: Path, steps: int = 20):
    import torch

    gpu, cpu = make_trainer(data, DEVICE), make_trainer(data, "cpu")
    with torch.no_grad():  # the same start, whatever the device's random numbers
        for pg, pc in zip(gpu.model.parameters(), cpu.model.parameters()):
            pg.copy_(pc)
    lg = [gpu.step().loss for _ in range(steps)]
    lc = [cpu.step().loss for _ in range(steps)]
    first = abs(lg[0] - lc[0])
    worst = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(lg, lc))
    ok = first < 1e-4 and worst < 1e-2
    fig = f"first loss differs by {first:.1e}; over {steps} steps ≤ {worst:.1e} relative"
    return (OK if ok else FAIL), fig


def check_snapshot(data: Path):
    import numpy as np

    tr = make_trainer(data, DEVICE)
    for _ in range(5):
        tr.step()
    sync()
    t0 = time.perf_counter()
    snap = tr.snapshot()
    ms_snap = (time.perf_counter() - t0) * 1e3
    problems = []
    named = dict(tr.model.named_parameters())
    for layer in snap.layers:
        w = named.get(f"{layer.name}.weight")
        if w is None:
            problems.append(f"no parameter {layer.name}.weight")
            continue
        if not isinstance(layer.weight, np.ndarray):
            problems.append(f"{layer.name}: weight is {type(layer.weight).__name__}, not numpy")
        elif not np.array_equal(layer.weight, w.detach().cpu().numpy()):
            problems.append(f"{layer.name}: weight differs from the model's")
        g = None if w.grad is None else w.grad.detach().cpu().numpy()
        sg = layer.weight_grad
        if g is not None and sg is not None and not np.allclose(sg, g, atol=1e-6):
            problems.append(f"{layer.name}: weight gradient differs from autograd's")
        for key in ("z", "a", "dz"):
            v = getattr(layer, key, None)
            if v is not None and not np.all(np.isfinite(v)):
                problems.append(f"{layer.name}.{key} not finite")
    if not math.isfinite(snap.loss):
        problems.append(f"loss {snap.loss}")
    times = []
    for _ in range(10):
        sync()
        t0 = time.perf_counter()
        m = tr.step(snapshot=True)
        times.append(time.perf_counter() - t0)
        if m.snapshot is None:
            problems.append("step(snapshot=True) gave no snapshot")
            break
    times.sort()
    fig = (
        f"snapshot() {ms_snap:.1f} ms; watched step median {times[len(times) // 2] * 1e3:.1f} ms;"
        f" {len(snap.layers)} layers"
    )
    return (FAIL if problems else OK), fig, "; ".join(problems)


def _capture_fn():
    import importlib

    for module in ("nnviz.core.autograd_graph", "nnviz.core.autograd_capture", "nnviz.core.trace"):
        try:
            fn = getattr(importlib.import_module(module), "capture_trainer_graph", None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    raise ImportError("capture_trainer_graph not found in nnviz.core")


def check_graph(data: Path):
    capture = _capture_fn()
    tr = make_trainer(data, DEVICE)
    tr.step()
    sync()
    t0 = time.perf_counter()
    trace = capture(tr)
    ms = (time.perf_counter() - t0) * 1e3
    n = len(trace)
    ok = n > 0 and len(getattr(trace, "backward_order", ())) > 0
    fig = f"{n} nodes, {len(trace.backward_order)} backward steps, {ms:.0f} ms"
    return (OK if ok else FAIL), fig


def check_sync(data: Path, steps: int = 50):
    """Syncs per unwatched step, by ``set_sync_debug_mode("warn")``, and where."""
    import torch

    if DEVICE != "cuda":
        return SKIP, "dry run on the CPU"
    # evaluation off: it reports numbers, so it syncs by design, and not every step
    tr = make_trainer(data, "cuda", seed=1, eval_every=-1)
    for _ in range(5):
        tr.step()
    sync()
    sites: dict[str, int] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            probe = torch.ones(1, device="cuda")
            control = len(caught)
            probe.item()  # a known sync: the mode must see it, else a count of 0 means nothing
            control = len([w for w in caught[control:] if SYNC_WARNING in str(w.message)])
            start = len(caught)
            for _ in range(steps):
                tr.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    if control == 0:
        return FAIL, "sync debug mode gave no warning for a known sync (.item()): cannot count"
    count = 0
    for w in caught[start:]:
        if SYNC_WARNING not in str(w.message):
            continue
        count += 1
        where = f"{Path(w.filename).name}:{w.lineno}"
        try:
            line = Path(w.filename).read_text().splitlines()[w.lineno - 1].strip()
            where += f" `{line}`"
        except (OSError, IndexError):
            pass
        sites[where] = sites.get(where, 0) + 1
    per_step = count / steps
    if count == 0:
        return OK, f"0 syncs in {steps} unwatched steps"
    where = "; ".join(f"{k} ×{v / steps:g}/step" for k, v in sorted(sites.items()))
    return FINDING, f"{per_step:g} syncs a step: {where}", where


def check_app(data: Path, play_s: float = 1.0):
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from nnviz.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])

    def wait(cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents(QEventLoop.AllEvents, 50)
            if cond():
                return True
            time.sleep(0.005)
        return bool(cond())

    w = MainWindow("mnist-mlp", data_dir=data)
    w.show()
    s = w.session
    notes = []
    try:
        if not wait(lambda: s.info is not None, 60):
            return FAIL, "the model was not built within 60 s"
        combo = w.controls.device
        model = combo.model()
        index = next(
            (
                i
                for i in range(combo.count())
                if str(combo.itemData(i)).startswith(DEVICE) and model.item(i).isEnabled()
            ),
            -1,
        )
        if index < 0:
            items = [combo.itemText(i) for i in range(combo.count())]
            return FAIL, f"no enabled CUDA entry in the device picker: {items}"
        combo.setCurrentIndex(index)
        combo.activated.emit(index)  # as a user's pick does
        if not wait(lambda: s.info is not None and str(s.info.device).startswith(DEVICE), 60):
            got = None if s.info is None else s.info.device
            return FAIL, f"picking {combo.itemText(index)} left the model on {got}"
        start = s.step
        for k in range(1, 4):
            s.step_once()
            if not wait(lambda k=k: s.step >= start + k, 20):
                return FAIL, f"single step {k} did not arrive"
        got_snap = wait(lambda: getattr(w.network, "snapshot", None) is not None, 10)
        if not got_snap:
            notes.append("the network view got no snapshot")
        step0 = s.step
        s.play()
        t0 = time.monotonic()
        wait(lambda: time.monotonic() - t0 >= play_s, play_s + 1)
        s.pause()
        wait(lambda: not s.playing, 10)
        played = s.step - step0
        if played <= 0:
            notes.append("playing trained no steps")
        fig = (
            f"{combo.itemText(index)}; 3 single steps, then {played} steps in {play_s:g} s of play"
        )
        return (FAIL if notes else OK), fig, "; ".join(notes)
    finally:
        w.close()
        shutdown = getattr(s, "shutdown", None)
        if shutdown is not None:
            shutdown()
        app.processEvents()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nnviz bench cuda", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--mnist-n", type=int, default=6000, help="synthetic MNIST images (default 6000)"
    )
    ap.add_argument("--steps", type=int, default=200, help="timed training steps (default 200)")
    ap.add_argument("--no-app", action="store_true", help="skip the app (no Qt)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the rows as JSON")
    ap.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="run the checks on the CPU (tries this script without a GPU; proves nothing about CUDA)",
    )
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = "cpu" if args.cpu_dry_run else "cuda"

    reason = "" if args.cpu_dry_run else cuda_reason()
    if reason:
        print(f"CUDA not available: {reason}")
        if args.json is not None:
            args.json.write_text(json.dumps({"cuda": False, "reason": reason}))
        return 0

    rep = Report()
    with tempfile.TemporaryDirectory(prefix="nnviz-bench-cuda-") as tmp:
        data = Path(tmp)
        write_mnist(data, args.mnist_n)
        rep.run("device", check_device)
        rep.run(f"train mnist-mlp on {DEVICE}", check_train, data, args.steps)
        rep.run("cpu agrees", check_cpu_agrees, data)
        rep.run("snapshots", check_snapshot, data)
        rep.run("autograd graph", check_graph, data)
        rep.run("unwatched steps: host syncs", check_sync, data)
        if args.no_app:
            rep.add(f"app offscreen on {DEVICE}", SKIP, "--no-app")
        else:
            rep.run(f"app offscreen on {DEVICE}", check_app, data)
    print(rep.table())
    details = [r for r in rep.rows if r["detail"]]
    for r in details:
        print(f"\n{r['check']} ({r['result']}):\n{r['detail']}")
    if args.json is not None:
        args.json.write_text(json.dumps({"cuda": True, "rows": rep.rows}, indent=1))
    return 1 if any(r["result"] == FAIL for r in rep.rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
