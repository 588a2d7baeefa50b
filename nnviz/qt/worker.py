"""The training worker: advances the core run loop in a QThread.

It decides nothing: the run takes the typed commands the GUI submits and
returns typed events, which the worker emits, one signal per event, queued to
the GUI thread. It never touches a widget. The run is either in this process
(``nnviz.core.run.Run``: the worker's thread trains) or in a child process
(``nnviz.core.run_process.RunProcess``: the worker relays its events, and
training never waits for the GIL while the window paints).
"""

from __future__ import annotations

import atexit
import weakref
from dataclasses import replace

from PySide6.QtCore import QObject, QThread, Signal, Slot

from nnviz.core.devices import explain_failure, lower_thread_priority
from nnviz.core.run import Run
from nnviz.core.run_messages import Failed, Halted
from nnviz.core.threads import ThreadTuner


class TrainingWorker(QObject):
    event = Signal(object)  # every event of the run, in order

    def __init__(self, run=None) -> None:
        super().__init__()
        # In the app one core is left to the GUI thread when the thread count
        # is chosen (on a 2-core machine: one torch thread).
        self.run_loop = run if run is not None else Run(threads=ThreadTuner(reserve=1))
        self._stop = False

    # --- any thread -------------------------------------------------------------------------

    def submit(self, command) -> None:
        self.run_loop.submit(command)

    def stop(self) -> None:
        self._stop = True
        self.run_loop.wake()

    @property
    def trainer(self):
        """The run's trainer (tests read it; the GUI never touches torch)."""
        return self.run_loop.trainer

    # --- the worker thread --------------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        run, emit = self.run_loop, self.event.emit
        if isinstance(run, Run):  # training here: the GUI thread wins the CPU when it needs it
            lower_thread_priority()
        while not self._stop:
            for ev in run.advance():
                emit(_explained(ev))
            if getattr(run, "dead", False):  # the child could not start: train here
                run = self.run_loop = Run(threads=ThreadTuner(reserve=1))
                lower_thread_priority()
        QThread.currentThread().quit()  # let the thread's event loop end at once


def _explained(ev):
    """A failure whose cause we know (out of memory) says what to do about it."""
    if isinstance(ev, Halted | Failed):
        message = explain_failure(ev.message)
        if message != ev.message:
            return replace(ev, message=message)
    return ev


_LIVE: weakref.WeakSet[WorkerThread] = weakref.WeakSet()


@atexit.register
def _join_all() -> None:
    """A script or test that never closed its window: stop the threads before
    Python tears down, instead of Qt aborting on a running QThread."""
    for wt in list(_LIVE):
        wt.shutdown()


class WorkerThread:
    """Owns the QThread and the worker; joins on close."""

    def __init__(self, run=None) -> None:
        self.thread = QThread()
        self.thread.setObjectName("nnviz-training")
        self.worker = TrainingWorker(run)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)

    def start(self) -> None:
        self.thread.start()
        _LIVE.add(self)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the loop and join the thread; False if it did not end in time
        (a long graph capture or gradient check still running)."""
        self.worker.stop()
        self.thread.quit()
        done = self.thread.wait(timeout_ms)
        if done:
            _LIVE.discard(self)
            self.worker.run_loop.close()
        return done
