"""Recording a :class:`nnviz.core.run.Run` into a run folder (``nnviz train --record``).

:class:`RunRecorder` wraps a run's event handler: every step's loss and any
evaluation go to :class:`~nnviz.core.runfolder.RunWriter` as metrics, every
snapshot the run produces is recorded, and the run loop takes one every
``every`` steps (``trainer.record_every``, read by :mod:`nnviz.core.run`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nnviz.core.run_messages import Metrics, SnapshotReady
from nnviz.core.runfolder_write import DEFAULT_BUDGET, RunWriter


def config_meta(scenario, config, trainer) -> dict:
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return {
        "source": "nnviz train",
        "scenario": getattr(scenario, "id", str(scenario)),
        "model": type(trainer.model).__name__,
        "parameters": int(getattr(trainer, "param_count", 0)),
        "layers": [
            {"name": s.linear, "activation": s.activation, "width": s.width, "fan_in": s.fan_in}
            for s in getattr(trainer, "layers", ())
        ],
        "steps_per_epoch": int(getattr(trainer, "steps_per_epoch", 1)),
        "config": cfg,
    }


class RunRecorder:
    """Records a run's events into ``run_dir`` (see the module docstring)."""

    def __init__(
        self,
        run_dir: Path,
        meta: dict,
        trainer,
        every: int = 10,
        snapshot_budget_bytes: int = DEFAULT_BUDGET,
        tensorboard: bool = False,
    ) -> None:
        self.every = max(1, int(every))
        self.writer = RunWriter(run_dir, meta, snapshot_budget_bytes, tensorboard)
        self._last: int | None = None  # step of the last snapshot recorded
        # the run loop asks for a snapshot before every k-th step (nnviz.core.run)
        trainer.record_every = self.every

    def on_event(self, ev) -> None:
        if isinstance(ev, Metrics):
            for step, loss in zip(ev.steps.tolist(), ev.losses.tolist()):
                self.writer.log(int(step), loss=loss, epoch=int(step) // max(1, ev.steps_per_epoch))
            for e in ev.evals:
                if e is not None:
                    self.writer.log(
                        int(e.step),
                        val_loss=e.val_loss,
                        val_accuracy=_num(e.val_accuracy),
                        train_accuracy=_num(e.train_accuracy),
                    )
        elif isinstance(ev, SnapshotReady):
            # others ask for snapshots too (health checks, the last step): keep our cadence
            step = ev.snapshot.step
            if self._last is None or step - self._last >= self.every or step < self._last:
                self.writer.add_snapshot(ev.snapshot)
                self._last = step

    def wrap(self, handler):
        """``handler`` with the recording in front of it."""

        def both(ev) -> None:
            self.on_event(ev)
            handler(ev)

        return both

    def close(self) -> None:
        self.writer.close()


def _num(v):
    return float("nan") if v is None else v


def add_record_flags(p) -> None:
    """``--record DIR`` (and its snapshot cadence) on a command's parser."""
    p.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="record the run into this run folder (see `nnviz inspect DIR`)",
    )
    p.add_argument(
        "--record-every",
        type=int,
        default=10,
        metavar="N",
        help="with --record: a snapshot about every N steps (default 10)",
    )


def start_recording(args, scenario, config, trainer) -> RunRecorder | None:
    """A :class:`RunRecorder` when ``args.record`` asks for one, else None."""
    run_dir = getattr(args, "record", None)
    if run_dir is None:
        return None
    every = int(getattr(args, "record_every", 10) or 10)
    if every < 1:
        from nnviz.core.errors import NnvizError

        raise NnvizError(f"--record-every must be 1 or more, got {every}")
    return RunRecorder(Path(run_dir), config_meta(scenario, config, trainer), trainer, every)
