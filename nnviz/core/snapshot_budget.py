"""How often a racing run may stop to take a snapshot (Qt-free).

A snapshot is not free: the trainer copies every parameter and gradient, the
2-D scenarios evaluate the model over a grid for the decision boundary, and
an own model's module blocks are summarised. Measured on the 2-core machine
(one torch thread): ``mnist-mlp`` 9.9 ms a step, +5 ms a snapshot; ``spiral``
0.8 ms a step, +5 ms a snapshot (its field); ``examples/cnn_digits.py`` 4.7 ms
a step, +11 ms a snapshot. The window asks for one every frame; at 20 frames
a second that took 10–25 % of the training time.

So while training plays at full speed, a snapshot the views ask for is taken
only while the time snapshots have cost stays within ``share`` of the time
that has passed (a leaky bucket: each snapshot's extra time is a debt, paid
back at ``share`` of every second). Paused, stepping or at a teaching pace,
every request is served at once. The views then get as many new pictures a
second as training can spare: a cheap model every frame, a costly one fewer.
"""

from __future__ import annotations

import math
import time

SHARE = 0.06  # of the wall time, while racing
MAX_DEBT_S = 0.25  # a single huge snapshot (a first one, a big model) is forgotten after this


class SnapshotBudget:
    def __init__(self, share: float = SHARE, clock=time.perf_counter) -> None:
        self.share = float(share)
        self._clock = clock
        self._debt = 0.0  # seconds of snapshot time not yet paid back
        self._since = clock()
        self._plain = None  # a typical plain step's time (EMA), to tell a snapshot's extra
        self.taken = self.deferred = 0

    def _pay(self) -> None:
        now = self._clock()
        self._debt = max(0.0, self._debt - self.share * (now - self._since))
        self._since = now

    def allow(self, racing: bool) -> bool:
        """May a requested snapshot be taken at the next step?"""
        if not racing:
            return True
        self._pay()
        if self._debt <= 0.0:
            return True
        self.deferred += 1
        return False

    def step_done(self, seconds: float, with_snapshot: bool) -> None:
        """Report a step's time; a snapshot's extra over a plain step is debt."""
        if not with_snapshot:
            p = self._plain
            self._plain = seconds if p is None else 0.9 * p + 0.1 * seconds
            return
        self.taken += 1
        self._pay()
        extra = seconds - (self._plain if self._plain is not None else 0.0)
        self._debt = min(MAX_DEBT_S, self._debt + max(0.0, extra))

    def add(self, seconds: float) -> None:
        """Snapshot work done outside a step (sending it): debt too."""
        self._pay()
        self._debt = min(MAX_DEBT_S, self._debt + max(0.0, seconds))


# A headless run's health reports (``nnviz train``: about one per 1 % of the
# steps) may cost at most this share of the training time. Each needs a
# snapshot step (hooks, copies of every parameter and gradient, the statistics):
# about 5 ms on spiral, whose steps take 0.7 ms. Taken at every 1 % they made
# `nnviz train spiral --steps 300` 3.5x slower (0.75 s against 0.22 s).
HEALTH_SHARE = 0.02
# ...except while the loss climbs: a report is then taken whenever one is due and
# the loss is this many times the loss at the last report.
HEALTH_LOSS_JUMP = 2.0


class PeriodicSnapshots:
    """The snapshots a run asks for by step count (read from the trainer):
    ``record_every`` (``nnviz train --record``: before every k-th step, always
    taken) and ``health_every`` (a health report after every k-th step). With
    ``budget`` set (``nnviz train`` sets one), health reports are taken only
    within its share of the time, or at once while the loss climbs, when a
    report is worth most ("updates too large" before the loss becomes inf).
    Without one (``nnviz render``), every report is taken."""

    def __init__(self) -> None:
        self.budget: SnapshotBudget | None = None
        self._last_loss = self._report_loss = math.inf  # (climbing: never, until a report)
        self._report = False

    def wanted(self, trainer) -> bool:
        """Whether the next step should take a snapshot."""
        d, n = trainer.__dict__, trainer.step_count
        record, every = d.get("record_every"), d.get("health_every")
        self._report = False
        if every and (n + 1) % every == 0:
            climbing = self._last_loss > HEALTH_LOSS_JUMP * self._report_loss
            self._report = self.budget is None or climbing or self.budget.allow(True)
        return bool(record and n % record == 0) or self._report

    def step_done(self, seconds: float, with_snapshot: bool, loss: float) -> None:
        if self.budget is not None:
            self.budget.step_done(seconds, with_snapshot)
        self._last_loss = loss if math.isfinite(loss) else math.inf
        if self._report:
            self._report_loss = self._last_loss
