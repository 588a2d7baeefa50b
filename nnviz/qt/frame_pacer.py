"""How often to redraw while training runs at full speed.

Drawing runs on the GUI thread and holds Python's GIL (PySide does not release
it while painting), and each torch op the training thread runs releases and
re-takes the GIL: a busy GUI thread makes every one of those hand-overs wait.
Measured on the 2-core machine, with the views redrawn at a fixed 30 Hz,
mnist-mlp trained at 10 % of its headless rate. So, while training plays at
full speed, the frame interval stretches until the GUI thread's own CPU time
(``time.thread_time``, which counts painting too) stays within ``budget`` of
the wall time; at a teaching pace, paused or stepping, frames come at the full
rate. Qt-free, so it is tested on numbers alone.
"""

from __future__ import annotations

import time

FRAME_MS = 33  # the full rate, about 30 Hz
MAX_FRAME_MS = 500  # never fewer than 2 frames a second
GUI_BUDGET = 0.08  # share of the wall time the GUI thread may use while training races
# Training in a child process (the app's default) waits for no GIL: the GUI
# thread may use much more of its own core, and frames never drop below 10 a second.
CHILD_GUI_BUDGET = 0.45
CHILD_MAX_FRAME_MS = 100
WINDOW_S = 0.5  # how much time each adjustment looks back over


class FramePacer:
    def __init__(
        self,
        budget: float = GUI_BUDGET,
        min_ms: float = FRAME_MS,
        max_ms: float = MAX_FRAME_MS,
        clock=time.perf_counter,
        cpu_clock=time.thread_time,
    ) -> None:
        self.budget, self.min_ms, self.max_ms = budget, min_ms, max_ms
        self._clock, self._cpu = clock, cpu_clock
        self.interval_ms = float(min_ms)
        self._racing_ms = float(min_ms)  # where the last race settled
        self.racing = False
        self._t0 = self._c0 = None

    def set_racing(self, racing: bool) -> None:
        """Training at full speed (True) or not: paused, stepping, teaching pace."""
        if racing != self.racing:
            self.racing = racing
            self._t0 = self._c0 = None
            if racing:  # start where the last race settled: the views cost the same
                self.interval_ms = self._racing_ms
            else:
                self._racing_ms = self.interval_ms
                self.interval_ms = float(self.min_ms)

    def tick(self) -> float:
        """Call once a frame (on the GUI thread); returns the next interval in ms."""
        if not self.racing:
            return self.interval_ms
        now, cpu = self._clock(), self._cpu()
        if self._t0 is None:
            self._t0, self._c0 = now, cpu
            return self.interval_ms
        wall = now - self._t0
        if wall < WINDOW_S:
            return self.interval_ms
        share = (cpu - self._c0) / wall
        # frame cost is roughly constant: the interval that meets the budget is
        # proportional to the share measured at the current one
        wanted = self.interval_ms * share / self.budget
        # move half-way there: one slow frame (a resize, a new layer) shouldn't jolt it
        target = 0.5 * (self.interval_ms + wanted)
        self.interval_ms = float(min(max(target, self.min_ms), self.max_ms))
        self._t0, self._c0 = now, cpu
        return self.interval_ms

    @property
    def fps(self) -> float:
        return 1000.0 / self.interval_ms
