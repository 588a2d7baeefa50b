"""The status line: one message at a time, from one source of truth.

The window's status bar holds this one label (and a short note on the
device and model at its right). What it says, in order of precedence:

1. a message that must be read (a run finished, training halted), until the
   user does something (the next step, play, a new model) or it times out;
2. while nothing has been trained yet: what to press (the first-open hint);
3. the session's step, epoch and loss (``Session.status_text()``), with the
   teaching pace's caption ("forward: layer 2 of 3") while a step animates.

No ``QStatusBar.showMessage`` anywhere: two writers on one line overprint.
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtWidgets

FIRST_OPEN_HINT = "Space to train, → to step, ? for keys"


class StatusLine(QtWidgets.QLabel):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusLine")
        self.setTextFormat(QtCore.Qt.PlainText)
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self._message = ""
        self._until = 0.0
        self._message_step: int | None = None

    def show_message(self, text: str, seconds: float = 30.0, step: int | None = None) -> None:
        """A message that stays until ``seconds`` pass or the step moves on from ``step``."""
        self._message, self._until, self._message_step = text, time.monotonic() + seconds, step
        self._set(text)

    def clear_message(self) -> None:
        self._message, self._message_step = "", None

    @property
    def message(self) -> str:
        return self._message

    def show_state(self, text: str, step: int | None = None) -> None:
        """The state line, unless a message is still up."""
        if self._message:
            moved = (
                step is not None and self._message_step is not None and step != self._message_step
            )
            if time.monotonic() < self._until and not moved:
                self._set(self._message)
                return
            self.clear_message()
        self._set(text)

    def _set(self, text: str) -> None:
        if text != self.text():
            self.setText(text)
            self.setToolTip(text)


def pass_caption(phase: str | None, progress: float, n_layers: int) -> str:
    """What the teaching pace's sweep is doing, in words: ``forward: layer 2 of 3``
    or ``backward: dL/dz at hidden 1`` (``n_layers`` drawn columns, input included)."""
    from nnviz.core.network_geometry import layer_title, sweep_front

    front = sweep_front(phase, progress, n_layers)
    if front is None or n_layers < 2:
        return ""
    at = min(max(int(round(front)), 0), n_layers - 1)
    if phase == "forward":
        return f"forward: layer {max(at, 1)} of {n_layers - 1}"
    return f"backward: dL/dz at {layer_title(max(at, 1), n_layers)}"
