"""What every view is: the few methods the main window and ``nnviz render``
call, so that one list of views (``nnviz.qt.views``) serves both.

A view draws what it is handed and keeps no data beyond that: the run's
metrics and snapshots live in the session's :class:`~nnviz.core.history.History`,
which a view that draws history (curves, sparklines) is given when made and
reads when asked to refresh.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nnviz.core.snapshot import Snapshot
from nnviz.qt.theme import Theme


@runtime_checkable
class View(Protocol):
    def set_theme(self, theme: Theme) -> None:
        """Colours and sizes (presenter mode scales the theme)."""

    def reset(self) -> None:
        """A new model (or none): forget what is drawn."""

    def set_snapshot(self, snap: Snapshot) -> None:
        """Draw this step: the newest while training, a past one in time travel."""

    def refresh(self) -> None:
        """Once a frame: redraw from the history if it changed (cheap when not)."""
