"""TensorBoard both ways: write event files beside a run, read any logdir.

- :class:`TensorBoardSink` writes scalars and weight/gradient histograms
  with ``torch.utils.tensorboard.SummaryWriter`` (used by
  :class:`nnviz.core.runfolder.RunWriter` on its writer thread).
- :class:`TensorBoardReader` reads a logdir written by anyone (scalars,
  histograms) with TensorBoard's own event-file loader (no TensorFlow), and
  re-reads what was appended on :meth:`~TensorBoardReader.refresh`. Its
  reading surface matches :class:`nnviz.core.runfolder.RunReader`'s, minus
  snapshots: ``metrics()`` gives ``{"step": n, tag: value, ...}`` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.core.runfolder_read import RankInfo, RunChanges

EVENT_PREFIX = "events.out.tfevents"


class TensorBoardSink:
    """Scalars and histograms into TensorBoard event files in ``logdir``."""

    def __init__(self, logdir) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise NnvizError(
                "tensorboard=True needs the tensorboard package; pip install tensorboard"
            ) from None
        self._w = SummaryWriter(log_dir=str(logdir))

    def scalars(self, step: int, values: dict) -> None:
        for tag, v in values.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                self._w.add_scalar(tag, v, step)

    def histograms(self, step: int, snap) -> None:
        for name, a in snap.params.items():
            if a.size and np.isfinite(a).all():
                self._w.add_histogram(f"weights/{name}", a, step)
        for name, a in snap.grads.items():
            if a.size and np.isfinite(a).all():
                self._w.add_histogram(f"grads/{name}", a, step)
        self._w.flush()

    def close(self) -> None:
        self._w.close()


def find_event_files(logdir) -> list[Path]:
    """Event files under ``logdir`` (any depth), sorted."""
    p = Path(logdir)
    if not p.is_dir():
        return []
    return sorted(f for f in p.rglob(f"{EVENT_PREFIX}*") if f.is_file())


@dataclass(frozen=True)
class Histogram:
    """One histogram: bucket edges (k+1) and counts (k)."""

    step: int
    edges: np.ndarray
    counts: np.ndarray


class TensorBoardReader:
    """A TensorBoard logdir read like a run folder (scalars and histograms).

    Tags of event files in sub-folders (TensorBoard's runs) are prefixed with
    the sub-folder (``train/loss``) when there is more than one run.
    ``complete`` is always False (TensorBoard files carry no end marker)."""

    format = "tensorboard"

    def __init__(self, logdir) -> None:
        self.run_dir = Path(logdir)
        if not self.run_dir.is_dir():
            raise NnvizError(f"{self.run_dir} is not a folder; give a TensorBoard logdir")
        try:
            from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
            from tensorboard.util import tensor_util
        except ImportError:
            raise NnvizError("reading TensorBoard logdirs needs the tensorboard package; "
                             "pip install tensorboard") from None  # fmt: skip
        self._loader_cls, self._tensor_util = EventFileLoader, tensor_util
        self._loaders: dict[Path, object] = {}
        self._by_step: dict[int, dict] = {}
        self._order: list[int] = []
        self._hist: dict[str, list[Histogram]] = {}
        self.meta: dict = {"logdir": str(self.run_dir)}
        self.header: dict = {"format": self.format}
        self.complete = self.ended = False
        self.end: dict = {}
        self.world_size = 1
        if not find_event_files(self.run_dir):
            raise NnvizError(f"{self.run_dir} holds no TensorBoard event files nor an nnviz run")
        self._events = 0
        self.refresh()
        if self._events == 0:
            raise NnvizError(
                f"{self.run_dir} holds event files but no readable TensorBoard event; "
                "they are empty or damaged"
            )

    def _prefix(self, f: Path, runs: set[Path]) -> str:
        if len(runs) <= 1 or f.parent == self.run_dir:
            return ""
        return f.parent.relative_to(self.run_dir).as_posix() + "/"

    def refresh(self) -> RunChanges:
        """Read events appended since the last read; ``.metrics`` of the
        answer are the records that changed (new steps or new tags of a step)."""
        files = find_event_files(self.run_dir)
        runs = {f.parent for f in files}
        changed: dict[int, None] = {}
        for f in files:
            loader = self._loaders.get(f)
            if loader is None:
                loader = self._loaders[f] = self._loader_cls(str(f))
            prefix = self._prefix(f, runs)
            try:
                for ev in loader.Load():
                    self._event(ev, prefix, changed)
            except Exception as exc:  # a torn record is retried later; anything else is damage
                if "truncated" in str(exc).lower():
                    continue
                raise NnvizError(f"{f} is not a readable TensorBoard event file ({exc})") from None
        return RunChanges(metrics=[dict(self._by_step[s]) for s in changed])

    def _event(self, ev, prefix: str, changed: dict) -> None:
        self._events += 1
        if not ev.HasField("summary"):
            return
        step = int(ev.step)
        for v in ev.summary.value:
            tag = prefix + v.tag
            kind = v.WhichOneof("value")
            plugin = v.metadata.plugin_data.plugin_name
            if kind == "simple_value":
                self._scalar(step, tag, float(v.simple_value), changed)
            elif kind == "histo":
                h = v.histo
                limits = np.asarray(h.bucket_limit, dtype=np.float64)
                edges = np.concatenate([[h.min], limits[:-1], [h.max]]) if limits.size else limits
                self._hist.setdefault(tag, []).append(
                    Histogram(step, edges, np.asarray(h.bucket, dtype=np.float64))
                )
            elif kind == "tensor":
                a = self._tensor_util.make_ndarray(v.tensor)
                if plugin == "histograms" and a.ndim == 2 and a.shape[1] == 3:
                    edges = np.concatenate([a[:, 0], a[-1:, 1]]) if len(a) else np.zeros(0)
                    self._hist.setdefault(tag, []).append(Histogram(step, edges, a[:, 2].copy()))
                elif plugin in ("scalars", "") and a.size == 1 and a.dtype.kind in "fiu":
                    self._scalar(step, tag, float(a.reshape(-1)[0]), changed)

    def _scalar(self, step: int, tag: str, value: float, changed: dict) -> None:
        rec = self._by_step.get(step)
        if rec is None:
            rec = self._by_step[step] = {"step": step}
            self._order.append(step)
        rec[tag] = value if math.isfinite(value) else None
        changed[step] = None

    # --- the RunReader surface --------------------------------------------------------------

    def metrics(self) -> list[dict]:
        """One record per step (sorted by step): ``{"step": n, tag: value}``."""
        return [dict(self._by_step[s]) for s in sorted(self._by_step)]

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for s in sorted(self._by_step):
            for k in self._by_step[s]:
                if k != "step":
                    names.setdefault(k, None)
        return list(names)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [
            (s, self._by_step[s][name]) for s in sorted(self._by_step) if name in self._by_step[s]
        ]
        return (
            np.asarray([s for s, _ in rows], dtype=np.int64),
            np.asarray([math.nan if v is None else v for _, v in rows], dtype=np.float64),
        )

    def last(self) -> dict:
        out: dict = {}
        for s in sorted(self._by_step):
            out.update({k: v for k, v in self._by_step[s].items() if k != "step"})
        return out

    def snapshot_steps(self) -> list[int]:
        return []

    def snapshot(self, step: int):
        raise NnvizError(f"{self.run_dir} is a TensorBoard logdir: it holds no snapshots")

    def snapshot_at(self, step: int):
        return None

    def histogram_tags(self) -> list[str]:
        return list(self._hist)

    def histograms(self, tag: str) -> list[Histogram]:
        """Every histogram of ``tag``, in the order written."""
        return list(self._hist.get(tag, ()))

    @property
    def ranks(self) -> RankInfo:
        return RankInfo(1, [])
