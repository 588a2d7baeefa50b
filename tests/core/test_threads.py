"""ThreadTuner: the thread count chosen by timing steps. Step times here are
synthetic (a cost per thread count), so nothing depends on the real clock."""

from __future__ import annotations

import os

import pytest
import torch

from nnviz.core import threads as threads_module
from nnviz.core.threads import (
    SLOW,
    WARMUP_STEPS,
    WINDOW_S,
    ThreadTuner,
    candidate_counts,
)

REAL_IDLE_TICKS = threads_module.idle_ticks  # before the fixture replaces it


class Machine:
    """A synthetic clock and /proc/stat: time passes only by the steps' costs,
    and ``idle_cores`` cores sit idle meanwhile."""

    def __init__(self, idle_cores: float | None) -> None:
        self.now = 0.0
        self.idle_s = 0.0
        self.idle_cores = idle_cores

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.idle_s += (self.idle_cores or 0.0) * seconds

    def idle_ticks(self) -> int | None:
        return None if self.idle_cores is None else int(self.idle_s / threads_module.TICK_S)


MACHINE = Machine(None)


@pytest.fixture(autouse=True)
def synthetic_machine(monkeypatch):
    """The real clock and /proc/stat never reach the tuner here: by default the
    idle-core check is unavailable (as off Linux); tests that want it set
    ``MACHINE.idle_cores``."""
    global MACHINE
    MACHINE = Machine(None)
    monkeypatch.setattr(threads_module, "clock", lambda: MACHINE.now)
    monkeypatch.setattr(threads_module, "idle_ticks", lambda: MACHINE.idle_ticks())
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def drive(tuner: ThreadTuner, cost, steps: int, log: list | None = None) -> None:
    """``steps`` steps whose time is ``cost[n]`` at the count torch really has
    (``cost`` may be a function of the count and the step number)."""
    for i in range(steps):
        tuner.before_step()
        n = torch.get_num_threads()
        if log is not None:
            log.append((tuner.threads, n, tuner.tuning))
        seconds = cost(n, i) if callable(cost) else cost[n]
        MACHINE.advance(seconds)
        tuner.after_step(seconds)


def settle(tuner: ThreadTuner, cost) -> int:
    """Run until the trial is over; the steps it took."""
    for i in range(1, 10_000):
        drive(tuner, cost, 1)
        if not tuner.tuning:
            return i
    raise AssertionError("the trial never ended")


def test_picks_the_count_whose_steps_are_fastest():
    tuner = ThreadTuner(max_threads=4)
    assert tuner.tuning
    settle(tuner, {1: 4e-3, 2: 2.2e-3, 3: 1e-3, 4: 1.2e-3})
    assert tuner.threads == 3
    tuner.before_step()  # the next step runs on the chosen count
    assert torch.get_num_threads() == 3
    assert tuner.last_trial[3] == pytest.approx(1e-3)


def test_more_threads_must_be_clearly_faster():
    # 2 threads are 5 % faster: not worth a second core, one thread is kept
    tuner = ThreadTuner(max_threads=2)
    settle(tuner, {1: 1e-3, 2: 0.95e-3})
    assert tuner.threads == 1
    # 20 % faster: kept
    tuner = ThreadTuner(max_threads=2)
    settle(tuner, {1: 1e-3, 2: 0.8e-3})
    assert tuner.threads == 2


def test_medians_ignore_an_expensive_step_during_the_trial():
    # every 5th step is an evaluation step 20x dearer; 2 threads are faster otherwise
    def cost(n, i):
        base = {1: 2e-3, 2: 1e-3}[n]
        return base * 20 if i % 5 == 4 else base

    tuner = ThreadTuner(max_threads=2)
    settle(tuner, cost)
    assert tuner.threads == 2


def test_a_clearly_slower_count_is_abandoned_after_few_steps():
    # two threads 3x slower: not enough to end it during the warm-up (which is
    # slow anyway), but the first timed step ends it
    log: list = []
    tuner = ThreadTuner(max_threads=2, trial_steps=8)
    for _ in range(100):
        drive(tuner, {1: 2e-3, 2: 6e-3}, 1, log)
        if not tuner.tuning:
            break
    assert tuner.threads == 1
    at_two = sum(1 for _, n, _ in log if n == 2)
    assert at_two == WARMUP_STEPS + 1


def test_steps_too_small_to_split_never_try_more_threads():
    log: list = []
    tuner = ThreadTuner(max_threads=2, trial_steps=8)
    for _ in range(100):
        drive(tuner, {1: 0.6e-3, 2: 0.3e-3}, 1, log)  # even if two would be faster
        if not tuner.tuning:
            break
    assert tuner.threads == 1 and not tuner.tuning
    assert all(n == 1 for _, n, _ in log)  # the thread team was never started


def test_a_count_whose_warm_up_step_is_very_slow_is_abandoned_at_once():
    # two threads with the other core busy: the first step after switching took 15x
    log: list = []
    tuner = ThreadTuner(max_threads=2)
    for _ in range(100):
        drive(tuner, lambda n, i: 8e-3 if n == 1 else 120e-3, 1, log)
        if not tuner.tuning:
            break
    assert tuner.threads == 1
    assert sum(1 for _, n, _ in log if n == 2) == 1
    assert tuner.last_trial[2] == float("inf")
    assert "abandoned" in tuner.describe()


def test_no_more_threads_are_tried_while_no_core_is_idle():
    # another program holds the other core: two threads would wait for it each
    # parallel region, so the tuner does not pay for finding that out
    MACHINE.idle_cores = 0.1
    log: list = []
    tuner = ThreadTuner(max_threads=2)
    for _ in range(1000):
        drive(tuner, {1: 1e-3, 2: 0.5e-3}, 1, log)
        if not tuner.tuning:
            break
    assert tuner.threads == 1
    assert all(n == 1 for _, n, _ in log)
    assert list(tuner.not_tried) == [2] and tuner.not_tried[2] < threads_module.SPARE_CORES
    assert "2: not tried (0.0 cores idle)" in tuner.describe()  # 5 ms idle: under a tick


def test_with_an_idle_core_the_next_count_is_tried_after_a_short_window():
    MACHINE.idle_cores = 1.0
    log: list = []
    tuner = ThreadTuner(max_threads=2, trial_steps=8)
    for _ in range(1000):
        drive(tuner, {1: 1e-3, 2: 0.5e-3}, 1, log)
        if not tuner.tuning:
            break
    assert tuner.threads == 2 and not tuner.not_tried
    at_one = sum(1 for _, n, _ in log if n == 1)
    # one thread ran until the idle window was long enough to read (50 ms of 1 ms steps)
    assert at_one == pytest.approx(threads_module.IDLE_WINDOW_S / 1e-3, abs=2)


def test_larger_counts_are_not_tried_after_a_clearly_slower_one():
    log: list = []
    tuner = ThreadTuner(max_threads=6)
    for _ in range(500):
        drive(tuner, {1: 10e-3, 2: 6e-3, 3: 10e-3, 4: 1e-3, 5: 10e-3, 6: 10e-3}, 1, log)
        if not tuner.tuning:
            break
    assert tuner.threads == 2
    assert max(n for _, n, _ in log) == 3


def test_before_step_sets_torch_to_the_trial_count():
    log: list = []
    tuner = ThreadTuner(max_threads=3, trial_steps=4)
    cost = {1: 3e-3, 2: 2e-3, 3: 1e-3}
    for _ in range(200):
        drive(tuner, cost, 1, log)
        if not tuner.tuning:
            break
    tried = [n for want, n, tuning in log if tuning]
    assert all(want == n for want, n, _ in log)  # torch has the count the tuner says
    assert sorted(set(tried)) == [1, 2, 3]
    assert tried == sorted(tried)  # one count after the other, fewest first
    assert tried.count(2) == WARMUP_STEPS + 4


def test_a_fixed_count_never_changes():
    tuner = ThreadTuner(max_threads=4, fixed=3)
    assert not tuner.tuning and tuner.threads == 3
    log: list = []
    drive(tuner, lambda n, i: 1e-2 if i < 300 else 5e-2, 900, log)  # 5x slower later
    tuner.retune()
    drive(tuner, {3: 1e-2}, 10, log)
    assert {(want, n, tuning) for want, n, tuning in log} == {(3, 3, False)}


def _settled(cost, **kw) -> tuple[ThreadTuner, int]:
    tuner = ThreadTuner(**kw)
    settle(tuner, cost)
    # past the cool-down after the trial: a few windows of the same steps
    steps_per_window = int(WINDOW_S / min(cost.values())) + 1
    drive(tuner, cost, 4 * steps_per_window)
    assert not tuner.tuning
    return tuner, steps_per_window


def test_retunes_when_steps_slow_down_3x_for_a_sustained_window():
    cost = {1: 10e-3, 2: 20e-3}
    tuner, _ = _settled(cost, max_threads=2)
    assert tuner.threads == 1 and tuner.trials == 1
    slowed = {n: 3 * t for n, t in cost.items()}  # another program started
    steps = 0
    while not tuner.tuning and steps < 1000:
        drive(tuner, slowed, 1)
        steps += 1
    assert tuner.tuning
    assert steps * 30e-3 <= 2 * WINDOW_S + 0.1  # noticed within about a window or two


def test_a_sudden_30x_slowdown_is_acted_on_within_a_few_steps():
    # two threads chosen on an idle machine; then a program takes the other core
    cost = {1: 10e-3, 2: 5e-3}
    tuner, _ = _settled(cost, max_threads=2)
    assert tuner.threads == 2
    steps = 0
    while not tuner.tuning and steps < 100:
        drive(tuner, {1: 12e-3, 2: 150e-3}, 1)
        steps += 1
    assert steps == threads_module.VERY_SLOW_RUN  # not a window of 16 such steps
    settle(tuner, {1: 12e-3, 2: 150e-3})
    assert tuner.threads == 1


def test_one_slow_outlier_or_periodic_evaluation_does_not_retune():
    cost = {1: 10e-3, 2: 20e-3}
    tuner, per_window = _settled(cost, max_threads=2)
    # one step 3x slower (and a big evaluation: three steps 50x), then normal steps
    drive(tuner, {1: 30e-3}, 1)
    drive(tuner, {1: 500e-3}, 3)
    drive(tuner, cost, 20 * per_window)
    # every 10th step an evaluation or snapshot step 5x dearer, for many windows
    drive(tuner, lambda n, i: cost[n] * (5 if i % 10 == 0 else 1), 30 * per_window)
    # snapshot steps 1.3x dearer at every other step: below the 1.6x threshold
    drive(tuner, lambda n, i: cost[n] * (1.3 if i % 2 else 1), 30 * per_window)
    assert tuner.trials == 1 and not tuner.tuning
    assert SLOW > 1.3


def test_retunes_when_the_load_goes_away():
    # chosen while the machine was loaded (one thread 8 ms); then steps get 4x faster
    loaded = {1: 8e-3, 2: 40e-3}
    tuner, _ = _settled(loaded, max_threads=2)
    assert tuner.threads == 1
    quiet = {1: 2e-3, 2: 1e-3}
    for _ in range(5000):
        drive(tuner, quiet, 1)
        if tuner.tuning:
            break
    assert tuner.tuning
    settle(tuner, quiet)
    assert tuner.threads == 2 and tuner.trials == 2


def test_flapping_load_does_not_keep_it_trialling():
    # load that comes and goes every window: trials get rarer (cool-down doubles)
    tuner, per_window = _settled({1: 10e-3, 2: 30e-3}, max_threads=2)

    def flapping(n, i):
        base = {1: 10e-3, 2: 30e-3}[n]
        return base * (3 if (i // per_window) % 2 else 1)

    drive(tuner, flapping, 200 * per_window)
    assert tuner.trials < 15  # with a fixed cool-down of 2 windows: about 100


def test_retune_starts_a_new_trial():
    cost = {1: 1e-3, 2: 2e-3}
    tuner = ThreadTuner(max_threads=2)
    settle(tuner, cost)
    tuner.retune()
    assert tuner.tuning
    settle(tuner, {1: 2e-3, 2: 1e-3})  # the new model prefers two threads
    tuner.before_step()
    assert tuner.threads == 2 and torch.get_num_threads() == 2


def test_max_threads_respects_reserve_and_is_at_least_one(monkeypatch):
    monkeypatch.setattr(threads_module, "available_cores", lambda: 4)
    assert ThreadTuner().max_threads == 4
    assert ThreadTuner(reserve=1).max_threads == 3
    assert ThreadTuner(reserve=1).reserve == 1  # kept: a new tuner gets the same
    monkeypatch.setattr(threads_module, "available_cores", lambda: 1)
    tuner = ThreadTuner(reserve=1)
    assert tuner.max_threads == 1
    assert not tuner.tuning and tuner.threads == 1
    drive(tuner, {1: 1e-3}, 3)
    assert torch.get_num_threads() == 1
    assert ThreadTuner(max_threads=0).max_threads == 1


def test_default_max_is_the_cores_this_process_may_use():
    assert ThreadTuner().max_threads == threads_module.available_cores() >= 1


def test_candidates_are_every_count_up_to_8_then_spaced():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(8) == list(range(1, 9))
    assert candidate_counts(16) == [1, 2, 3, 4, 5, 6, 7, 8, 12, 16]
    assert candidate_counts(10) == [1, 2, 3, 4, 5, 6, 7, 8, 10]


def test_describe_says_what_was_chosen():
    tuner = ThreadTuner(max_threads=2)
    settle(tuner, {1: 1e-3, 2: 3e-3})
    text = tuner.describe()
    assert text.startswith("1 torch thread") and "1: 1.00 ms" in text
    assert ThreadTuner(fixed=2).describe() == "2 torch thread(s), fixed"


def test_threads_flag_takes_a_positive_count_and_defaults_to_timing():
    import argparse

    from nnviz.cli.common import add_threads_flag

    parser = argparse.ArgumentParser()
    add_threads_flag(parser)
    assert parser.parse_args([]).threads is None  # None: chosen by timing steps
    assert parser.parse_args(["--threads", "3"]).threads == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["--threads", "0"])
    assert "chosen by timing" in parser.format_help()


def test_idle_ticks_reads_proc_stat_where_there_is_one():
    ticks = REAL_IDLE_TICKS()
    if not os.path.exists("/proc/stat"):
        assert ticks is None
        return
    assert isinstance(ticks, int) and ticks >= 0
    assert REAL_IDLE_TICKS() >= ticks  # a counter: it never goes back
