"""The run loop in a child process, relayed over a pipe (Qt-free).

Why: painting holds the GIL. With training in a thread of the window's
process, every frame the GUI thread paints is time the training thread waits
for the GIL (measured: mnist-mlp at 31–53 % of headless with the views drawn
at 30 Hz). In its own process, training has its own interpreter and GIL; the
window paints every frame while the child trains at full speed. And a crash in
a user's model (a segfault in an extension, ``os._exit``) ends the child, not
the window: the parent reports it and starts a fresh child.

:class:`RunProcess` has the surface of :class:`nnviz.core.run.Run` that a
driving thread uses (``submit``, ``advance``, ``wake``, ``busy``), so the
app's worker drives either. Commands and events cross the pipe pickled:
they are this program's own objects, made by this program in the other
process, never data from outside. Scenarios travel by id (they hold
functions); snapshots travel as plain dicts and arrive write-protected again.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from types import MappingProxyType

from nnviz.core import run as R
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario
from nnviz.core.snapshot import Snapshot

_STOP = "stop"
IDLE_POLL_S = 0.1  # the child's longest wait for a command when idle


# --- what crosses the pipe ------------------------------------------------------------


# --- model files (issue 9): a scenario made from a user's file travels as itself
# (plain fields), a built-in one by id; a model file by its spec (the child loads it) ---
def _scenario_ref(sc):
    return sc.id if sc is not None and not getattr(sc, "model_file", "") else sc


def _scenario_of(ref):
    return get_scenario(ref) if isinstance(ref, str) else ref


def _encode_command(cmd):
    if isinstance(cmd, R.Configure):
        mf = cmd.model_file
        spec = getattr(mf, "spec", mf)  # a loaded ModelFile: its spec (a module can't travel)
        return replace(cmd, scenario=_scenario_ref(cmd.scenario), model_file=spec)
    return cmd


def _decode_command(msg):
    if isinstance(msg, R.Configure):
        return replace(msg, scenario=_scenario_of(msg.scenario))
    return msg


# --- end model files (issue 9) ---


def _plain_snapshot(snap: Snapshot) -> Snapshot:
    return replace(snap, params=dict(snap.params), grads=dict(snap.grads))


def _frozen_snapshot(snap: Snapshot) -> Snapshot:
    """Write-protect every array again (unpickled arrays are writeable)."""
    seen = [snap.input, snap.target, snap.output, *snap.params.values(), *snap.grads.values()]
    for layer in snap.layers:
        seen += [getattr(layer, f) for f in layer.__dataclass_fields__]
    if snap.field is not None:
        seen += [snap.field.output, *snap.field.hidden]
    for a in seen:
        if hasattr(a, "setflags"):
            a.setflags(write=False)
    return replace(
        snap, params=MappingProxyType(dict(snap.params)), grads=MappingProxyType(dict(snap.grads))
    )


def _encode_event(ev):
    if isinstance(ev, R.SnapshotReady):
        return R.SnapshotReady(_plain_snapshot(ev.snapshot))
    if isinstance(ev, R.Built):
        return ("built", _scenario_ref(ev.info.scenario), replace(ev.info, scenario=None))
    return ev


def _decode_event(msg):
    if isinstance(msg, R.SnapshotReady):
        return R.SnapshotReady(_frozen_snapshot(msg.snapshot))
    if isinstance(msg, tuple) and msg and msg[0] == "built":
        _, scenario_ref, info = msg
        return R.Built(replace(info, scenario=_scenario_of(scenario_ref)))
    return msg


def _sender(conn):
    """Plain pickle over the socket: multiprocessing's own pickler would hand
    tensors over as shared memory guarded by the sender's auth key."""

    def send(obj) -> None:
        conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    return send


def _receiver(conn):
    def recv():
        return pickle.loads(conn.recv_bytes())

    return recv


# --- the child ------------------------------------------------------------------------------


def _child_main(conn, reserve: int) -> None:
    from nnviz.core.threads import ThreadTuner

    run = R.Run(threads=ThreadTuner(reserve=reserve))
    poll, recv = conn.poll, _receiver(conn)
    # Events are pickled and sent by a thread of their own: a send blocks
    # while the socket is full, and the window reads it only between frames
    # (its reading thread needs the GIL the painting holds). Training never
    # waits for that; the sender does.
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(conn, outbox, run.snapshots), daemon=True)
    sender.start()
    outbox.put([R.StateChanged(False)])  # up and running: the parent knows it started
    try:
        while sender.is_alive():
            due = run.due_in()
            # a command may arrive while waiting; a step due now waits for nothing
            if poll(min(due, IDLE_POLL_S) if due > 0 else 0):
                while True:
                    msg = recv()
                    if msg == _STOP:
                        return
                    run.submit(_decode_command(msg))
                    if not poll(0):
                        break
            events = run.advance(wait=0)
            if events:
                outbox.put(events)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the window went away: nothing to report to
    finally:
        outbox.put(None)


def _send_all(conn, outbox: queue.SimpleQueue, budget=None) -> None:
    send = _sender(conn)
    try:
        while (events := outbox.get()) is not None:
            t0 = time.thread_time()
            send([_encode_event(ev) for ev in events])
            if budget is not None and any(isinstance(ev, R.SnapshotReady) for ev in events):
                budget.add(time.thread_time() - t0)  # pickling it: the snapshot's cost too
    except (BrokenPipeError, OSError):
        return  # the window went away; the main loop sees it and ends


# --- the parent -------------------------------------------------------------------------------


class RunProcess:
    """The run loop in a child process; see the module docstring.

    The child is a fresh interpreter (``python -m nnviz.core.run_process``)
    joined by a socket pair: unlike multiprocessing's spawn and forkserver,
    it never re-runs the parent's main script, so any program — the app, a
    test runner, a user's unguarded script — can start one.
    """

    def __init__(self, reserve: int = 1) -> None:
        if os.name != "posix":  # socket-pair connections are POSIX's
            raise NnvizError("training in a child process needs a POSIX system")
        self.reserve = reserve
        self._send_lock = threading.Lock()
        self.busy = False  # as far as the events tell
        self.trainer = None  # it lives in the child
        self.restarts = 0
        self.dead = False  # the child could not start: the driver falls back to a Run
        self._start()

    child_module = "nnviz.core.run_process"  # what the child runs (``python -m``)

    def _start(self) -> None:
        self._ready = False  # until the child's first message
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.child_module, str(fd), str(self.reserve)],
            pass_fds=[fd],
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._send, self._recv = _sender(self._conn), _receiver(self._conn)

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    # --- any thread ---------------------------------------------------------------------

    def submit(self, command) -> None:
        msg = _encode_command(command)
        # the child gone: advance() reports it and starts another
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            self._send(msg)

    def wake(self) -> None:
        """Nothing to do: :meth:`advance` waits at most its ``wait``."""

    # --- the driving thread ------------------------------------------------------------------

    def advance(self, wait: float = 0.1) -> list:
        """The events the child sent, waiting up to ``wait`` seconds for some."""
        if self.dead:
            time.sleep(wait)
            return []
        conn = self._conn
        out: list = []
        try:
            if not conn.poll(wait):
                return out
            while True:
                msgs = self._recv()
                self._ready = True
                for msg in msgs:
                    ev = _decode_event(msg)
                    if isinstance(ev, R.StateChanged):
                        self.busy = ev.playing
                    out.append(ev)
                if not conn.poll(0):
                    return out
        except (EOFError, OSError):
            return out + self._child_died()

    def _child_died(self) -> list:
        try:
            code = self._proc.wait(1.0)
        except subprocess.TimeoutExpired:  # the pipe broke but it lives: end it
            self._proc.kill()
            code = self._proc.wait()
        self.busy = False
        with contextlib.suppress(OSError):
            self._conn.close()
        why = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        if not self._ready:  # it never came up: starting another would fail alike
            self.dead = True
            return [
                R.StateChanged(False),
                R.Unloaded(),
                R.Halted(
                    R.HALT_ERROR,
                    f"The training process could not start ({why}); training goes on "
                    "in the window's own process.",
                    "",
                ),
            ]
        self.restarts += 1
        self._start()
        return [
            R.StateChanged(False),
            R.Unloaded(),
            R.Halted(
                R.HALT_ERROR,
                f"The training process stopped unexpectedly ({why}); the window is fine, "
                "and the model starts afresh.",
                "",
            ),
        ]

    def close(self, timeout: float = 2.0) -> bool:
        """Stop the child and wait for it; True when it ended (else it is killed)."""
        try:
            with self._send_lock:
                self._send(_STOP)
        except (OSError, ValueError):
            pass
        try:
            self._proc.wait(timeout)
            ended = True
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            ended = False
        with contextlib.suppress(OSError):
            self._conn.close()
        return ended


if __name__ == "__main__":  # the child: python -m nnviz.core.run_process FD RESERVE
    _child_main(Connection(int(sys.argv[1])), int(sys.argv[2]))
