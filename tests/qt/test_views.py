"""The one list of views: every view follows the protocol, and the feed paces
each view while training races without ever losing the newest snapshot."""

from __future__ import annotations

from nnviz.core.history import History
from nnviz.qt.theme import DARK
from nnviz.qt.view_protocol import View
from nnviz.qt.views import BY_NAME, VIEWS, ViewFeed, make_views


class Recording:
    def __init__(self) -> None:
        self.shown, self.refreshed, self.resets = [], 0, 0

    def set_snapshot(self, snap) -> None:
        self.shown.append(snap)

    def refresh(self) -> None:
        self.refreshed += 1

    def reset(self) -> None:
        self.resets += 1

    def set_theme(self, theme) -> None:
        pass


def test_every_listed_view_follows_the_protocol_and_takes_the_history(qtbot):
    history = History()
    views = make_views(DARK, history)
    assert list(views) == [s.name for s in VIEWS]
    for name, view in views.items():
        qtbot.addWidget(view)
        assert isinstance(view, View), name
    assert views["loss"].history is history and views["network"].history is history


def test_while_racing_each_view_is_fed_at_its_pace_and_gets_the_newest():
    net, loss = Recording(), Recording()
    feed = ViewFeed({"network": net, "loss": loss})
    hz = BY_NAME["loss"].racing_hz
    assert BY_NAME["network"].racing_hz == 30 and hz < 30
    t = 0.0
    for frame in range(60):  # two seconds of frames at 30 Hz, a new snapshot each
        t = frame / 30
        feed.show(frame, racing=True, now=t)
        feed.refresh(racing=True, now=t)
    assert len(net.shown) == 60
    assert hz * 2 - 1 <= len(loss.shown) <= hz * 2 / 0.75 + 1  # about hz a second
    assert loss.refreshed == len(loss.shown)
    feed.show(60, racing=False, now=t + 0.001)  # paused: every view at once
    feed.refresh(racing=False, now=t + 0.001)
    assert loss.shown[-1] == net.shown[-1] == 60


def test_a_snapshot_held_back_arrives_at_the_views_next_turn():
    loss = Recording()
    feed = ViewFeed({"loss": loss})
    feed.refresh(racing=True, now=0.0)
    feed.show("a", racing=True, now=0.01)  # too soon after the last refresh: held
    feed.refresh(racing=True, now=0.01)
    assert loss.shown == []
    feed.refresh(racing=True, now=1.0)  # its turn: the held one is drawn
    assert loss.shown == ["a"]
    feed.reset()
    assert loss.resets == 1
