"""FramePacer on numbers alone: fake wall and CPU clocks, no Qt, no timing."""

from __future__ import annotations

import pytest

from nnviz.qt.frame_pacer import FRAME_MS, GUI_BUDGET, MAX_FRAME_MS, FramePacer


class FakeGui:
    """A GUI thread whose every frame costs ``frame_cpu_ms`` of CPU time."""

    def __init__(self, frame_cpu_ms: float) -> None:
        self.frame_cpu_ms = frame_cpu_ms
        self.wall = 0.0
        self.cpu = 0.0
        self.pacer = FramePacer(clock=lambda: self.wall, cpu_clock=lambda: self.cpu)

    def run(self, frames: int) -> list[float]:
        """Run frames at the interval the pacer asks for; the intervals it chose."""
        intervals = []
        for _ in range(frames):
            self.cpu += self.frame_cpu_ms / 1000
            interval = self.pacer.tick()
            intervals.append(interval)
            self.wall += interval / 1000
        return intervals

    def share(self, frames: int) -> float:
        """The GUI thread's share of the wall time over the next frames."""
        w0, c0 = self.wall, self.cpu
        self.run(frames)
        return (self.cpu - c0) / (self.wall - w0)


def test_racing_stretches_the_interval_until_the_gui_share_meets_the_budget():
    gui = FakeGui(frame_cpu_ms=6.0)  # 6 ms a frame at 33 ms: 18 % of the time, > 8 %
    gui.pacer.set_racing(True)
    intervals = gui.run(400)
    assert intervals[0] == FRAME_MS
    # it only ever grows toward the target, never overshoots and comes back
    assert all(b >= a - 1e-9 for a, b in zip(intervals, intervals[1:]))
    target = 6.0 / GUI_BUDGET  # 75 ms: 6 ms is 8 % of it
    assert intervals[-1] == pytest.approx(target, rel=0.02)
    assert gui.share(200) <= GUI_BUDGET * 1.02


def test_a_cheap_frame_keeps_the_full_rate_and_a_costly_one_stops_at_the_cap():
    cheap = FakeGui(frame_cpu_ms=1.0)  # 3 % at 33 ms: within the budget
    cheap.pacer.set_racing(True)
    assert set(cheap.run(200)) == {FRAME_MS}

    costly = FakeGui(frame_cpu_ms=80.0)  # would need 1 s; never fewer than 2 fps
    costly.pacer.set_racing(True)
    assert costly.run(300)[-1] == MAX_FRAME_MS
    assert costly.pacer.fps == pytest.approx(1000 / MAX_FRAME_MS)


def test_one_slow_frame_moves_the_interval_only_half_way():
    gui = FakeGui(frame_cpu_ms=1.0)
    gui.pacer.set_racing(True)
    gui.run(100)
    gui.cpu += 0.5  # a resize: half a second of painting in one frame
    intervals = gui.run(200)
    assert max(intervals) < MAX_FRAME_MS  # damped: not straight to the cap
    assert intervals[-1] == FRAME_MS  # and back once frames are cheap again


@pytest.mark.parametrize("why", ["paused", "teaching pace"])
def test_not_racing_returns_to_33_ms_at_once(why):
    gui = FakeGui(frame_cpu_ms=10.0)
    gui.pacer.set_racing(True)
    settled = gui.run(300)[-1]
    assert settled > 2 * FRAME_MS
    gui.pacer.set_racing(False)  # paused, or slowed to a teaching pace: frames at full rate
    assert gui.pacer.interval_ms == FRAME_MS
    assert set(gui.run(50)) == {FRAME_MS}  # however costly the frames are
    # racing again (Play after a pause) starts where the last race settled: the
    # views cost the same, and a ramp from 33 ms would starve training for seconds
    gui.pacer.set_racing(True)
    assert gui.run(1)[0] == settled
