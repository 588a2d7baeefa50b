"""The teaching-pace animation of one step: forward, then backward.

Given the time a step takes at the chosen speed, it tells the network view
which pass to show and how far it has got, frame by frame.
"""

from __future__ import annotations

import time


class PassAnimator:
    FORWARD_SHARE = 0.45  # of the step period
    BACKWARD_SHARE = 0.45  # then the rest shows the updated state

    def __init__(self) -> None:
        self.enabled = False
        self.period = 1.0
        self._start: float | None = None

    def configure(self, period_s: float, enabled: bool) -> None:
        self.enabled = enabled and period_s > 0
        self.period = max(period_s, 0.2)
        if not self.enabled:
            self._start = None

    def start(self, now: float | None = None) -> None:
        if self.enabled:
            self._start = time.perf_counter() if now is None else now

    def phase(self, now: float | None = None) -> tuple[str | None, float]:
        """(None | "forward" | "backward", progress in [0, 1])."""
        if self._start is None:
            return None, 0.0
        t = ((time.perf_counter() if now is None else now) - self._start) / self.period
        if t < self.FORWARD_SHARE:
            return "forward", t / self.FORWARD_SHARE
        t -= self.FORWARD_SHARE
        if t < self.BACKWARD_SHARE:
            return "backward", t / self.BACKWARD_SHARE
        self._start = None
        return None, 0.0
