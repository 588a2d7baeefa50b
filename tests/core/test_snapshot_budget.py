"""Snapshots while racing cost at most a share of the time (the run loop's
snapshot budget): a request waits while the budget is in debt, and is served
at once when paused, stepping or at a teaching pace."""

from __future__ import annotations

from types import SimpleNamespace

from nnviz.core import run as R
from nnviz.core.scenarios import get_scenario
from nnviz.core.snapshot_budget import MAX_DEBT_S, PeriodicSnapshots, SnapshotBudget
from nnviz.core.threads import ThreadTuner


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_snapshots_extra_time_is_paid_back_at_the_share_of_the_time_passed():
    clock = Clock()
    b = SnapshotBudget(share=0.1, clock=clock)
    for _ in range(5):
        b.step_done(0.001, with_snapshot=False)  # a plain step: 1 ms
    assert b.allow(racing=True)
    b.step_done(0.011, with_snapshot=True)  # 10 ms more than a plain step
    assert not b.allow(racing=True)
    clock.t += 0.05  # 5 ms paid back: 5 ms left
    assert not b.allow(racing=True)
    assert b.allow(racing=False)  # paused or stepping: always
    clock.t += 0.051
    assert b.allow(racing=True)
    assert (b.taken, b.deferred) == (1, 2)


def test_one_huge_snapshot_never_blocks_the_views_for_long():
    clock = Clock()
    b = SnapshotBudget(share=0.1, clock=clock)
    b.add(10.0)  # a first snapshot of a big model
    clock.t += MAX_DEBT_S / 0.1 + 1e-6
    assert b.allow(racing=True)


def run_racing(budget: SnapshotBudget) -> R.Run:
    run = R.Run(threads=ThreadTuner(fixed=1), emit_interval=0.05)
    run.snapshots = budget
    run.submit(R.Configure(get_scenario("xor")))
    run.submit(R.Play())
    for _ in range(20):  # built, playing
        run.advance(wait=0)
    return run


def snapshots_in(events) -> list:
    return [e for e in events if isinstance(e, R.SnapshotReady)]


def test_a_racing_run_defers_a_requested_snapshot_until_the_budget_allows():
    clock = Clock()
    budget = SnapshotBudget(share=0.1, clock=clock)
    run = run_racing(budget)
    budget.add(0.02)  # 20 ms of snapshots not yet paid back
    run.submit(R.RequestSnapshot())
    events = []
    for _ in range(50):  # 50 steps, and the clock stands still
        events += run.advance(wait=0)
    assert run.playing and not snapshots_in(events)
    waited = run.trainer.step_count
    clock.t += 0.2  # 20 ms paid back
    for _ in range(3):
        events += run.advance(wait=0)
    (snap,) = snapshots_in(events)
    assert waited <= snap.snapshot.step <= waited + 1  # the first step allowed


def test_paused_or_stepping_a_request_is_served_at_once_whatever_the_debt():
    clock = Clock()
    budget = SnapshotBudget(share=0.1, clock=clock)
    run = run_racing(budget)
    run.submit(R.Pause())
    run.advance(wait=0)
    budget.add(0.2)
    run.submit(R.RequestSnapshot())
    assert snapshots_in(run.advance(wait=0))  # paused: this step's model, now
    budget.add(0.2)
    run.submit(R.Step(1))
    run.submit(R.RequestSnapshot())
    events = list(run.run_until_idle())
    # the step trained (0-based) shows at once
    assert [e.snapshot.step for e in snapshots_in(events)] == [run.trainer.step_count - 1]


def _steps(periodic, losses, clock, record_every=None, health_every=1):
    """Drive ``periodic`` over len(losses) steps of 1 ms (a snapshot step 10 ms);
    the steps (step_count before each) that took a snapshot."""
    t = SimpleNamespace(step_count=0, health_every=health_every)
    if record_every:
        t.record_every = record_every
    taken = []
    for loss in losses:
        snap = periodic.wanted(t)
        seconds = 0.010 if snap else 0.001
        clock.t += seconds
        periodic.step_done(seconds, snap, loss)
        if snap:
            taken.append(t.step_count)
        t.step_count += 1
    return taken


def test_nnviz_train_health_reports_stay_within_their_share_of_the_time():
    clock = Clock()
    p = PeriodicSnapshots()
    p.budget = SnapshotBudget(share=0.02, clock=clock)
    taken = _steps(p, [1.0 / (i + 1) for i in range(1000)], clock)  # a falling loss
    # each report costs 9 ms more than a step: at 2 % about one per 450 ms of steps
    assert 1 <= len(taken) <= 4
    assert len(_steps(PeriodicSnapshots(), [1.0] * 100, Clock())) == 100  # no budget: every one


def test_a_climbing_loss_gets_a_report_whenever_one_is_due():
    clock = Clock()
    p = PeriodicSnapshots()
    p.budget = SnapshotBudget(share=0.02, clock=clock)
    losses = [1.0] * 5 + [3.0**k for k in range(1, 15)]  # from step 5 the loss triples a step
    taken = _steps(p, losses, clock)
    climbing = [s for s in taken if s >= 5]
    # the budget alone allows none after the first; a loss at least 2x the one at the
    # last report gets one: here every other step (a report's own step already tripled)
    assert taken[0] == 0 and len(climbing) >= 7
    assert max(b - a for a, b in zip(climbing, climbing[1:])) <= 2


def test_the_recording_cadence_is_kept_whatever_the_health_budget():
    clock = Clock()
    p = PeriodicSnapshots()
    p.budget = SnapshotBudget(share=0.02, clock=clock)
    taken = _steps(p, [1.0] * 30, clock, record_every=5, health_every=None)
    assert taken == [0, 5, 10, 15, 20, 25]
