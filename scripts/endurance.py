#!/usr/bin/env python
"""Endurance: train mnist-mlp in the open window for N minutes and watch memory.

The app as users run it (training in its child process, recording on into a
temporary runs folder), offscreen unless a display is given. Every 10 s the
resident memory of the window's process and of the training process is
sampled. At the end it prints the curve's figures: after the warm-up, the
start, maximum and end, and the slope (least squares, MB per hour), and exits
1 if resident memory grew by more than --limit-mb after the warm-up.

Each sample also says how much CPU the window's (GUI) thread used since the
last one and the longest gap between ticks of a 50 ms timer. If no sample
comes for 3 intervals, every thread's stack is printed (``kill -USR1 PID``
prints them at any time); after 5 such dumps the run ends with exit status 3.

    python scripts/endurance.py --minutes 30
    python scripts/endurance.py --minutes 5 --csv /tmp/endurance.csv
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import faulthandler
import gc
import os
import signal
import sys
import tempfile
import threading
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


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def rss_parts(pid: int) -> str:
    """Where a process's resident memory is: anonymous, file-backed, shared; its
    thread count and number of mappings (a slow climb in one of these is a leak's
    address)."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
        maps = Path(f"/proc/{pid}/maps").read_text().count("\n")
    except OSError:
        return "gone"
    mb = {k: int(fields.get(k, 0) or 0) / 1024 for k in ("RssAnon", "RssFile", "RssShmem")}
    return (
        f"anon {mb['RssAnon']:.1f} MB, file {mb['RssFile']:.1f} MB, shmem {mb['RssShmem']:.1f} MB, "
        f"{fields.get('Threads', '?')} threads, {maps} mappings"
    )


def pymalloc_mb() -> tuple[float, float]:
    """Python's small-object allocator: (MB of its arenas, MB in live blocks),
    from ``sys._debugmallocstats`` (written to the C stderr, read back here)."""
    import re

    with tempfile.TemporaryFile("w+") as f:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()

    def number(label: str) -> float:
        m = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(m.group(1).replace(",", "")) if m else float("nan")

    arenas = number("# arenas allocated current") * 2**20
    return arenas / 2**20, number("# bytes in allocated blocks") / 2**20


def heap_mb() -> tuple[float, float]:
    """glibc's view of this process's heap: (in use, free but held), in MB;
    (nan, nan) where there is no mallinfo2."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return float("nan"), float("nan")
    return (m.uordblks + m.hblkhd) / 2**20, m.fordblks / 2**20


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def say(*parts) -> None:
    """print() that never raises. When whoever reads the output has gone (a pipe
    closed: a tool's time limit, `| head`), print raises BrokenPipeError; in the
    sampling slot that skipped the end-of-run check, so the window trained on,
    unreported, until killed (what looked like a stall at 520 s)."""
    with contextlib.suppress(OSError, ValueError):
        print(*parts, flush=True)


def hot_frames(thread_id: int, seconds: float = 2.0, every: float = 0.01) -> str:
    """Where a busy thread spends its time: the functions on its stack, counted
    over ``seconds`` of samples (most frequent first)."""
    counts: dict[str, int] = {}
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frame = sys._current_frames().get(thread_id)
        seen = set()
        while frame is not None:
            code = frame.f_code
            where = f"{Path(code.co_filename).name}:{code.co_name}"
            if where not in seen:
                seen.add(where)
                counts[where] = counts.get(where, 0) + 1
            frame = frame.f_back
        n += 1
        time.sleep(every)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:25]
    return "\n".join(f"  {100 * c / max(n, 1):5.1f} %  {w}" for w, c in top)


def watchdog(
    last: list[float],
    stall_s: float,
    stop: threading.Event,
    probe=None,
    give_up: int = 5,
) -> None:
    """Dump every thread's stack when the window's event loop stalls (no sample for
    ``stall_s``), with where the GUI thread spends its time and what ``probe()``
    says, again every ``stall_s`` while it lasts, and end the process with exit
    status 3 after ``give_up`` dumps (a stall fails the run; it must not hang).
    ``kill -USR1 PID`` dumps the stacks at any time."""
    dumps = 0
    gui = threading.main_thread().ident
    while not stop.wait(1.0):
        if time.monotonic() - last[0] > stall_s:
            dumps += 1
            say(f"\n--- no sample for {stall_s:.0f} s: the event loop is stalled ---")
            with contextlib.suppress(OSError, ValueError):
                faulthandler.dump_traceback(sys.stdout, all_threads=True)
            say("the GUI thread's time, by function (2 s of samples):\n" + hot_frames(gui))
            if probe is not None:
                for _ in range(3):
                    say(probe())
                    time.sleep(0.2)
            last[0] = time.monotonic()
            if dumps >= give_up:
                say("endurance: FAILED, the window's event loop stalled")
                os._exit(3)  # the GUI thread does not answer: no orderly exit is possible


def view_ranges(win):
    """A probe for the watchdog: every plot's view range and auto-range state,
    read from pyqtgraph's Python-side state (no Qt call: safe off the GUI thread)."""
    import pyqtgraph as pg

    boxes = [
        (pw.objectName() or type(pw.parent()).__name__, pw.getPlotItem().getViewBox())
        for pw in win.findChildren(pg.PlotWidget)
    ]

    def probe() -> str:
        lines = []
        for name, vb in boxes:
            st = vb.state
            (x0, x1), (y0, y1) = st["viewRange"]
            lines.append(
                f"  {name:18s} x {x0:12.6g} … {x1:12.6g}  y {y0:10.4g} … {y1:10.4g}  "
                f"auto {st['autoRange']}"
            )
        return "plots:\n" + "\n".join(lines)

    return probe


_SIZE = {"1K": 1 << 10, "64K": 1 << 16, "1M": 1 << 20, "1G": 1 << 30}


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
    ap.add_argument(
        "--trace",
        action="store_true",
        help="trace Python's allocations after the warm-up; print where the live ones grew",
    )
    ap.add_argument("--verbose", action="store_true", help="also print the session's counters")
    args = ap.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    runs = tempfile.mkdtemp(prefix="nnviz-endurance-")
    os.environ["NNVIZ_RECORD"] = "0" if args.no_record else runs
    os.environ.setdefault("NNVIZ_SETTINGS_ORG", "nnviz-endurance")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from PySide6.QtCore import QTimer

    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.main_window import MainWindow

    faulthandler.register(signal.SIGUSR1, file=sys.stdout, all_threads=True)
    app = make_app()
    win = MainWindow(args.scenario)
    win.resize(1280, 800)
    win.show()
    samples: list[tuple[float, float, float, int]] = []  # t, window MB, training MB, step
    t0 = time.monotonic()
    me = os.getpid()
    # the GUI thread's health: its CPU seconds per interval, and the longest gap
    # between ticks of a 50 ms timer (a frame or event that takes long shows here)
    last_sample, gui = [time.monotonic()], {"cpu": time.thread_time(), "tick": None, "gap": 0.0}
    stop = threading.Event()
    probe = view_ranges(win)
    if args.verbose:
        say(probe())
    threading.Thread(
        target=watchdog,
        args=(last_sample, max(3 * args.interval, 30.0), stop, probe),
        daemon=True,
    ).start()

    def tick() -> None:
        now = time.monotonic()
        if gui["tick"] is not None:
            gui["gap"] = max(gui["gap"], now - gui["tick"])
        gui["tick"] = now

    def sample() -> None:
        last_sample[0] = time.monotonic()
        t = time.monotonic() - t0
        try:
            record(t)
        finally:  # whatever happened above, the run ends on time
            if t >= args.minutes * 60:
                win.close()
                app.quit()

    traced: list = []

    def type_counts() -> dict[str, int]:
        from collections import Counter

        return Counter(type(o).__qualname__ for o in gc.get_objects())

    def trace(t: float) -> None:
        import tracemalloc

        if t >= args.warmup and not tracemalloc.is_tracing():
            tracemalloc.start(10)
        elif tracemalloc.is_tracing() and not traced and t >= args.warmup + 3 * args.interval:
            traced.append(tracemalloc.take_snapshot())
            traced.append(type_counts())
        elif traced and t >= args.minutes * 60:
            last = tracemalloc.take_snapshot()
            grown = last.compare_to(traced[0], "traceback")
            say("\nwhere Python's live allocations grew (traced):")
            for stat in grown[:8]:
                say(f"{stat.size_diff / 2**20:+8.2f} MB  {stat.count_diff:+9,d} blocks")
                for line in stat.traceback.format(limit=6, most_recent_first=True):
                    say("      " + line)
            if grown:  # the largest growth's blocks, by size
                top = grown[0].traceback
                buckets: dict[str, list[int]] = {}
                for tr in last.traces:
                    if tr.traceback == top:
                        key = next(f"<{b}" for b in ("1K", "64K", "1M", "1G") if tr.size < _SIZE[b])
                        buckets.setdefault(key, []).append(tr.size)
                for key, sizes in sorted(buckets.items()):
                    say(f"  blocks {key:5s}: {len(sizes):7,d}, {sum(sizes) / 2**20:8.2f} MB")
            now = type_counts()
            diff = sorted(((now[k] - traced[1].get(k, 0), k) for k in now), reverse=True)
            say("objects (tracked by the garbage collector) that grew in number, by type:")
            for n, k in diff[:12]:
                say(f"  {n:+9,d}  {k}")

    def record(t: float) -> None:
        if args.trace:
            trace(t)
        kids = sum(rss_mb(p) for p in child_pids(me))
        step = win.session.history.metrics.last_step
        if win.session.info is not None and not win.session.playing:
            start()
        samples.append((t, rss_mb(me), kids, step))
        cpu = time.thread_time()
        used, held = heap_mb()
        say(
            f"{t:7.0f} s  window {samples[-1][1]:7.1f} MB (heap {used:6.1f} in use, "
            f"{held:6.1f} free)  training {kids:7.1f} MB  step {step:,}"
            f"  (GUI thread {cpu - gui['cpu']:5.2f} s CPU, longest event gap "
            f"{gui['gap'] * 1000:5.0f} ms)"
        )
        if args.verbose:
            h, ses = win.session.history, win.session
            say(
                f"          snapshots kept {len(h.snapshots)} ({h.snapshots.nbytes / 2**20:.0f} MB, "
                f"version {h.snapshots.version}), "
                f"health reports {len(h.health)}, metrics {h.metrics.nbytes / 2**20:.1f} MB, "
                f"Python objects {len(gc.get_objects()):,}, in flight {ses._in_flight}, "
                f"frame {ses.timer.interval()} ms"
            )
            arenas, live = pymalloc_mb()
            say(
                f"          window: {rss_parts(me)}; pymalloc arenas {arenas:.1f} MB "
                f"({live:.1f} MB live)"
            )
        gui["cpu"], gui["gap"] = cpu, 0.0

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
    ticker = QTimer()
    ticker.timeout.connect(tick)
    ticker.start(50)
    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(args.interval * 1000))
    QTimer.singleShot(0, sample)
    QTimer.singleShot(500, start)
    app.exec()
    stop.set()
    say(f"(play pressed again {restarts[0]} times: planned lengths reached or halts)")
    return report(samples, args)


def report(samples, args) -> int:
    import numpy as np

    a = np.asarray(samples, dtype=float)
    judged = a[a[:, 0] >= min(args.warmup, a[-1, 0] / 2)]
    total = judged[:, 1] + judged[:, 2]
    slope = np.polyfit(judged[:, 0], total, 1)[0] * 3600 if len(judged) > 2 else float("nan")
    growth = total.max() - total[0]
    steps = int(a[-1, 3])
    say(
        f"\nendurance: {args.scenario}, {a[-1, 0] / 60:.1f} min, {steps:,} steps, "
        f"recording {'off' if args.no_record else 'on'}\n"
        f"resident memory (window + training), after {judged[0, 0]:.0f} s warm-up: "
        f"start {total[0]:.1f} MB, max {total.max():.1f} MB, end {total[-1]:.1f} MB, "
        f"growth {growth:+.1f} MB, slope {slope:+.1f} MB/hour"
    )
    for k, name in ((1, "window"), (2, "training")):
        col = judged[:, k]
        fit = np.polyfit(judged[:, 0], col, 1)[0] * 3600 if len(judged) > 2 else float("nan")
        say(
            f"  {name:8s}: start {col[0]:.1f} MB, max {col.max():.1f} MB, end {col[-1]:.1f} MB, "
            f"slope {fit:+.1f} MB/hour"
        )
    if args.csv:
        np.savetxt(args.csv, a, delimiter=",", header="t_s,window_mb,training_mb,step", comments="")
    ok = growth <= args.limit_mb
    say("within" if ok else "OVER", f"the {args.limit_mb:.0f} MB limit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
