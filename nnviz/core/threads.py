"""Choosing torch's intra-op thread count by timing training steps.

torch's default (one thread per core) is a poor choice on a small, shared
machine: on this project's 2-core machines ``nnviz train spiral --steps 300``
took 0.15 s on one thread but 0.8–1.2 s on the default two while a busy loop
held the other core, and 8–14 s while other work loaded the machine
(DESIGN.md §4). Which count is fastest depends on the model, the batch and
what else runs, so :class:`ThreadTuner` measures it: it tries each candidate
count for a few steps of the real training, keeps the fastest, watches the
step time cheaply, and tries again when it changes markedly.

The caller drives it around each step::

    tuner = ThreadTuner(reserve=1)          # the app leaves a core to the GUI
    while training:
        tuner.before_step()                 # sets the count a trial needs
        t0 = time.perf_counter()
        trainer.step()
        tuner.after_step(time.perf_counter() - t0)

**Call** :meth:`before_step` **on the thread that runs the steps.** With
torch's OpenMP backend ``torch.set_num_threads`` changes the count for the
calling thread (and threads started later inherit the main thread's), not for
a training thread that is already running: measured with torch 2.13, a count
set in a second thread left the main thread's unchanged.
"""

from __future__ import annotations

import math
import os
import statistics
import time

import torch

__all__ = ["ThreadTuner", "available_cores"]

# A count with more threads is kept only when it is at least this much faster.
MORE_THREADS_GAIN = 0.10
# Steps discarded after switching to a count (the thread pool warms up), and at
# the very start (first-call costs: allocation, optimizer state).
WARMUP_STEPS = 2
# A candidate is abandoned early when even its fastest step so far is this many
# times slower than the best candidate's median: after 1, 2 and 3+ kept steps.
# Trying a bad count on a busy machine is what a trial costs, so it is cut short.
ABANDON_AFTER = (2.0, 1.5, 1.3)
# A warm-up step this many times slower than the best median abandons the count
# at once: on a 2-core machine with the other core busy, mnist-mlp's warm-up steps
# on two threads took 125-385 ms against 8 ms on one (measured).
ABANDON_WARMUP = 4.0
# Larger counts are not tried once a count came out this much slower than the best.
STOP_SEARCH = 1.3
# Before trying one more thread, the CPUs this process may use must have had at
# least SPARE_CORES idle on average (from /proc/stat) while the previous count
# ran, over at least IDLE_WINDOW_S (the count runs on until then, at most
# IDLE_MAX_STEPS × trial_steps steps). With no idle core an extra thread shares a
# core with another program, and each of its parallel regions waits for a time
# slice: 16–44 ms a region measured with a busy loop on the other core, 125–385
# ms a mnist-mlp step; one such step costs more than the whole trial saves.
SPARE_CORES = 0.5
IDLE_WINDOW_S = 0.05
# Steps faster than this are not split across more threads: their ops are too
# small for intra-op parallelism to pay for the thread team (spiral: 0.63 ms a
# step on one thread, 0.60 on two, and the trial itself cost about 1.1× on a
# 300-step run; mnist-mlp: 6.8 -> 5.2 ms, measured 2026-12-01).
MIN_PARALLEL_STEP_S = 1e-3
IDLE_MAX_STEPS = 16
# Monitoring: a step is "slow" above SLOW × the chosen median, "fast" below it ÷ SLOW.
SLOW = 1.6
# A window ends after at least WINDOW_STEPS steps and WINDOW_S seconds of step time;
# a change is sustained when SUSTAINED of its steps were slow (or fast).
WINDOW_STEPS = 16
WINDOW_S = 0.5
SUSTAINED = 0.75
# Without waiting for the window's end: VERY_SLOW_RUN steps in a row each VERY_SLOW×
# the chosen median start a trial at once (past the cool-down). A program that
# starts while two threads run made mnist-mlp steps 15-45x slower (measured); a
# window of 16 such steps would be seconds.
VERY_SLOW = 4.0
VERY_SLOW_RUN = 4
# Windows to wait after a trial before another can start; doubled each time a
# trial ends on the count it started from (up to MAX_COOLDOWN), so a machine
# whose load comes and goes does not keep the tuner trialling.
COOLDOWN_WINDOWS = 2
MAX_COOLDOWN_WINDOWS = 64


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


try:
    TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    TICK_S = 0.01
clock = time.perf_counter  # module attributes, so tests can drive a synthetic machine


def idle_ticks() -> int | None:
    """Idle (and I/O wait) clock ticks so far of the CPUs this process may use,
    from ``/proc/stat``; None where there is none (not Linux). About 30 µs."""
    try:
        with open("/proc/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        cpus = None
    total = 0
    for line in data.split(b"\n"):
        if not (line.startswith(b"cpu") and line[3:4].isdigit()):
            continue
        fields = line.split()
        if cpus is None or int(fields[0][3:]) in cpus:
            total += int(fields[4]) + (int(fields[5]) if len(fields) > 5 else 0)
    return total


def candidate_counts(max_threads: int) -> list[int]:
    """1, 2, … max_threads; above 8 only 12, 16, 24, 32, … and max_threads."""
    counts = list(range(1, min(max_threads, 8) + 1))
    n = 8
    while n < max_threads:
        n = n * 3 // 2 if n & (n - 1) == 0 else n * 4 // 3  # 8, 12, 16, 24, 32, 48, …
        counts.append(min(n, max_threads))
    return counts


class ThreadTuner:
    """Picks torch's intra-op thread count by timing real training steps.

    ``max_threads``: the most threads tried; by default the cores this process
    may use minus ``reserve`` (the app passes ``reserve=1`` to leave a core to
    the GUI thread), at least 1. An explicit ``max_threads`` is taken as given
    (at least 1); ``reserve`` only lowers the default.
    ``fixed``: a count the user chose (``--threads N``, the app's setting):
    set once, never tuned.
    ``trial_steps``: steps timed at each candidate count.

    **Trial.** Each candidate count (1, 2, … ``max_threads``) runs
    ``trial_steps`` steps after :data:`WARMUP_STEPS` discarded ones (the pool
    warms up after a switch); the median is its time. The fewest threads
    whose median is within 10 % of the fastest win: more threads must be
    clearly faster to be kept (they also take cores from everything else).
    A count whose steps are clearly slower than the best so far is abandoned
    early (even during its warm-up, when 4× slower), and larger counts are not
    tried after a clearly slower one: a bad count on a busy machine is what a
    trial costs (two threads with the other core busy: 10–40× slower steps).

    **Monitoring.** After a trial the tuner counts, per window of at least
    :data:`WINDOW_STEPS` steps and :data:`WINDOW_S` seconds of step time, the
    steps slower than 1.6× the chosen count's median (and faster than it
    ÷ 1.6). When three quarters of a window's steps are slow (another program
    started) or fast (one stopped), it tries again, at most every few windows;
    four steps in a row 4× slower try again at once (past the cool-down).

    Step costs vary on purpose: evaluation steps, snapshot steps while the
    views watch, the first steps of an epoch. Those must not start a trial,
    so everything here is robust statistics: medians for the trials, and a
    *share* of slow steps (not a mean, which one slow evaluation moves) for
    monitoring. An occasional expensive step changes nothing; only a
    sustained change does. If every step becomes a snapshot step (stepping
    with the animation on), that is a sustained change and a new trial
    measures the new cost, which is right.

    Cost: :meth:`before_step` is one comparison when no switch is due;
    :meth:`after_step` a few additions while monitoring.
    """

    def __init__(
        self,
        max_threads: int | None = None,
        fixed: int | None = None,
        trial_steps: int = 8,
        reserve: int = 0,
    ) -> None:
        self.reserve = max(0, int(reserve))
        if max_threads is None:
            max_threads = available_cores() - self.reserve
        self.max_threads = max(1, int(max_threads))
        self.fixed = None if fixed is None else max(1, int(fixed))
        self.trial_steps = max(1, int(trial_steps))
        self.candidates = candidate_counts(self.max_threads)
        # Trial results (count -> median step seconds; inf: abandoned) of the last trial.
        self.last_trial: dict[int, float] = {}
        # Counts the last trial did not try for want of an idle core -> the idle cores seen.
        self.not_tried: dict[int, float] = {}
        self.trials = 0  # trials completed
        self.reference_s = math.nan  # the chosen count's median step time
        self._applied = 0  # the count set on the stepping thread (0: none yet)
        self._slow_at, self._fast_at = math.inf, 0.0  # monitoring thresholds
        self._very_slow_at = math.inf
        self._tuning = False
        self._cooldown = COOLDOWN_WINDOWS
        self._wait = 0  # windows still to wait before another trial
        self._reset_window()
        if self.fixed is not None:
            self._want = self.fixed
        elif len(self.candidates) == 1:
            self._want = 1
        else:
            self._want = 1
            self._start_trial()

    # --- the caller's hooks --------------------------------------------------------------

    def before_step(self) -> None:
        """Before every step, on the thread that runs it: sets the count a
        trial needs (and a fixed count, once)."""
        if self._want != self._applied:
            torch.set_num_threads(self._want)
            self._applied = self._want

    def after_step(self, seconds: float) -> None:
        """The step's wall time (``time.perf_counter`` around it)."""
        if self._tuning:
            self._trial_step(seconds)
        elif self.reference_s == self.reference_s:  # monitoring (not NaN: a trial ran)
            if seconds > self._slow_at:
                self._slow += 1
                if seconds > self._very_slow_at:
                    self._very_slow_run += 1
                    if self._very_slow_run >= VERY_SLOW_RUN and self._wait == 0:
                        self._start_trial()
                        return
                else:
                    self._very_slow_run = 0
            else:
                self._very_slow_run = 0
                if seconds < self._fast_at:
                    self._fast += 1
            self._n += 1
            self._sum += seconds
            if self._n >= WINDOW_STEPS and self._sum >= WINDOW_S:
                self._end_window()

    @property
    def threads(self) -> int:
        """The count in use: the choice, or during a trial the count being tried."""
        return self._want

    @property
    def tuning(self) -> bool:
        return self._tuning

    def retune(self) -> None:
        """Start a new trial (the model or the batch changed); no-op for a fixed count."""
        if self.fixed is None and len(self.candidates) > 1:
            self._cooldown = COOLDOWN_WINDOWS
            self._start_trial()

    def describe(self) -> str:
        """One line for logs: the choice and the trial's medians."""
        if self.fixed is not None:
            return f"{self.fixed} torch thread(s), fixed"
        if self._tuning:
            return f"trying {self._want} torch thread(s)"
        if not self.last_trial:
            return f"{self._want} torch thread (one core)"
        times = ", ".join(
            f"{n}: {t * 1e3:.2f} ms" if math.isfinite(t) else f"{n}: abandoned"
            for n, t in sorted(self.last_trial.items())
        )
        for n, spare in sorted(self.not_tried.items()):
            times += f", {n}: not tried ({spare:.1f} cores idle)"
        return f"{self._want} torch thread(s), chosen by timing steps ({times})"

    # --- trial ----------------------------------------------------------------------------

    def _start_trial(self) -> None:
        self._tuning = True
        self._start_count = self._want if self.trials else 0
        self._results: dict[int, float] = {}
        self._not_tried: dict[int, float] = {}
        self._best = math.inf
        self._index = 0
        self._begin_candidate()

    def _begin_candidate(self) -> None:
        self._want = self.candidates[self._index]
        self._skip = WARMUP_STEPS
        self._samples: list[float] = []
        self._idle0 = idle_ticks() if self._index + 1 < len(self.candidates) else None
        self._t0 = clock()

    def _trial_step(self, seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            return
        if self._skip > 0:
            self._skip -= 1
            if seconds > ABANDON_WARMUP * self._best:
                self._results[self._want] = math.inf
                self._finish_trial()
            return
        samples = self._samples
        samples.append(seconds)
        k = len(samples)
        best = self._best
        if best < math.inf and min(samples) > best * ABANDON_AFTER[min(k, 3) - 1]:
            self._results[self._want] = math.inf  # clearly slower: stop paying for it
            self._finish_trial()
            return
        if k < self.trial_steps:
            return
        med = statistics.median(samples)
        last = self._index + 1 >= len(self.candidates)
        if not last and med < MIN_PARALLEL_STEP_S:
            last = True  # too small to split
        if not last and med <= STOP_SEARCH * min(best, med):
            spare = self._spare_cores(k)
            if spare is None:  # the idle window is still short: run on
                return
            if spare < SPARE_CORES:
                self._not_tried[self.candidates[self._index + 1]] = spare
                last = True
        self._results[self._want] = med
        self._best = min(best, med)
        self._index += 1
        if last or med > STOP_SEARCH * self._best:
            self._finish_trial()
        else:
            self._begin_candidate()

    def _spare_cores(self, k: int) -> float | None:
        """Idle cores (average) since this count began; inf when unknown (no
        /proc/stat); None while the window is too short to tell."""
        if self._idle0 is None:
            return math.inf
        elapsed = clock() - self._t0
        if elapsed < IDLE_WINDOW_S and k < IDLE_MAX_STEPS * self.trial_steps:
            return None
        now = idle_ticks()
        if now is None or elapsed <= 0:
            return math.inf
        return (now - self._idle0) * TICK_S / elapsed

    def _finish_trial(self) -> None:
        results = self._results
        best = min(results.values())
        limit = best / (1 - MORE_THREADS_GAIN)
        choice = min(n for n, t in results.items() if t <= limit)
        self.last_trial = dict(results)
        self.not_tried = dict(self._not_tried)
        self.trials += 1
        self._want = choice
        self.reference_s = results[choice]
        self._slow_at = SLOW * self.reference_s
        self._very_slow_at = VERY_SLOW * self.reference_s
        self._fast_at = self.reference_s / SLOW
        self._tuning = False
        if choice == self._start_count:  # nothing gained: wait longer next time
            self._cooldown = min(MAX_COOLDOWN_WINDOWS, self._cooldown * 2)
        else:
            self._cooldown = COOLDOWN_WINDOWS
        self._wait = self._cooldown
        self._reset_window()

    # --- monitoring --------------------------------------------------------------------------

    def _reset_window(self) -> None:
        self._n = self._slow = self._fast = self._very_slow_run = 0
        self._sum = 0.0

    def _end_window(self) -> None:
        need = SUSTAINED * self._n
        changed = self._slow >= need or self._fast >= need
        self._reset_window()
        if self._wait > 0:
            self._wait -= 1
            return
        if changed:
            self._start_trial()
