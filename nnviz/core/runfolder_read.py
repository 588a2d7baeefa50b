"""Reading a run folder, finished or still being written (tailing).

:class:`RunReader` reads the JSON Lines records a :class:`RunWriter` (or a
crashed one) left; :meth:`RunReader.refresh` reads what was appended since
the last read, so the app can follow a live run. A torn last line (a
writer killed mid-write) is left for later or skipped; arrays are loaded
with ``allow_pickle=False``; nothing is unpickled or executed.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnviz.core import runfolder_format as fmt
from nnviz.core.errors import NnvizError
from nnviz.core.snapshot import Snapshot

# Two ranks "agree" when their values differ by at most this, relative to
# the larger magnitude (float32 all-reduce sums can differ in the last bits
# across ranks, never by more).
DESYNC_RTOL = 1e-4


@dataclass
class RunChanges:
    """What :meth:`RunReader.refresh` found appended since the last read."""

    metrics: list[dict] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)  # steps added
    dropped: list[int] = field(default_factory=list)  # steps thinned away
    ranks: int = 0  # per-rank records added
    completed: bool = False  # the writer closed the run since the last read (see .ended)

    def __bool__(self) -> bool:
        return bool(self.metrics or self.snapshots or self.dropped or self.ranks or self.completed)


class _Tail:
    """Complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.line_no = 0

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise NnvizError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        end = data.rfind(b"\n")
        if end < 0:
            return []  # nothing complete yet (or a torn last line)
        self.offset += end + 1
        out = []
        for raw in data[: end + 1].splitlines():
            self.line_no += 1
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise NnvizError(
                    f"{self.path} line {self.line_no} is not a JSON record; "
                    "the run folder is damaged"
                ) from None
            if not isinstance(rec, dict) or not isinstance(rec.get("step"), int):
                raise NnvizError(
                    f"{self.path} line {self.line_no} is not a step record; "
                    "the run folder is damaged"
                )
            out.append(rec)
        return out


def read_meta(run_dir: Path) -> dict:
    """meta.json of a run folder, checked (clear errors for bad folders)."""
    if not run_dir.exists():
        raise NnvizError(f"{run_dir} does not exist; give the folder a run was recorded into")
    if not run_dir.is_dir():
        raise NnvizError(f"{run_dir} is a file, not a run folder; give the folder itself")
    path = run_dir / fmt.META
    if not path.exists():
        what = "is empty" if not any(run_dir.iterdir()) else "holds no meta.json"
        raise NnvizError(
            f"{run_dir} {what}: not a run folder (record one with nnviz.watch or "
            "nnviz train --record) nor a TensorBoard logdir"
        )
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        raise NnvizError(f"{path} is not valid JSON; the run folder is damaged") from None
    if not isinstance(header, dict) or header.get("format") != fmt.FORMAT:
        raise NnvizError(f"{path} does not describe an nnviz run; the run folder is damaged")
    version = header.get("version")
    if not isinstance(version, int):
        raise NnvizError(f"{path} has no format version; the run folder is damaged")
    if version > fmt.FORMAT_VERSION:
        raise NnvizError(
            f"{run_dir} was written in run format {version} by a newer nnviz "
            f"(this one reads format {fmt.FORMAT_VERSION}); upgrade nnviz to open it"
        )
    return header


class RunReader:
    """A run folder, read once and then tailed with :meth:`refresh`.

    - ``meta``: the writer's meta dict (model summary, config, ...);
      ``header``: all of meta.json (format, version, created, versions);
    - ``complete``: the writer closed the run cleanly; ``ended``: it closed
      it at all (``end["reason"]`` says why a run that ended is not complete);
    - :meth:`metrics`: every metric record (``{"step": n, "loss": ...}``);
    - :meth:`snapshot_steps` / :meth:`snapshot`: the snapshots still on disk;
    - ``ranks``: per-rank statistics of a distributed run (:class:`RankInfo`).
    """

    format = fmt.FORMAT

    def __init__(self, run_dir) -> None:
        self.run_dir = Path(run_dir)
        self.header = read_meta(self.run_dir)
        self.meta: dict = self.header.get("meta") or {}
        self.world_size = int(self.header.get("world_size") or 1)
        self._metrics: list[dict] = []
        self._snap_steps: list[int] = []
        self._snap_info: dict[int, dict] = {}
        self._rank_records: list[dict] = []
        self._tails = {
            name: _Tail(self.run_dir / name)
            for name in (fmt.METRICS, fmt.SNAPSHOTS, fmt.RANKS, fmt.TRACES)
        }
        self._traces: dict[int, dict] = {}
        self.complete = False  # the writer closed the run cleanly
        self.ended = False  # the writer closed it (cleanly or after an error: see end)
        self.end: dict = {}
        self.refresh()

    def refresh(self) -> RunChanges:
        """Read what was appended since the last read (a live run grows)."""
        ch = RunChanges()
        new = self._tails[fmt.METRICS].read()
        self._metrics.extend(new)
        ch.metrics = new
        for rec in self._tails[fmt.SNAPSHOTS].read():
            step = rec["step"]
            if rec.get("drop"):
                if step in self._snap_info:
                    del self._snap_info[step]
                    self._snap_steps.remove(step)
                    ch.dropped.append(step)
                continue
            if not isinstance(rec.get("file"), str) or not isinstance(rec.get("info"), dict):
                raise NnvizError(f"{self.run_dir / fmt.SNAPSHOTS}: a bad snapshot record; "
                                 "the run folder is damaged")  # fmt: skip
            if step not in self._snap_info:
                bisect.insort(self._snap_steps, step)
            self._snap_info[step] = rec
            ch.snapshots.append(step)
        ranks = self._tails[fmt.RANKS].read()
        self._rank_records.extend(ranks)
        ch.ranks = len(ranks)
        for rec in self._tails[fmt.TRACES].read():
            self._traces[rec["step"]] = rec
        if not self.ended and (self.run_dir / fmt.END).exists():
            try:
                end = json.loads((self.run_dir / fmt.END).read_text(encoding="utf-8"))
            except (ValueError, OSError):
                end = None
            if isinstance(end, dict):
                self.end, self.ended = end, True
                self.complete = bool(end.get("complete"))
                ch.completed = True
                ch.metrics.extend(self._finish())
        return ch

    def _finish(self) -> list[dict]:
        # the writer closed: whatever it wrote is complete; read the rest
        more = self._tails[fmt.METRICS].read()
        self._metrics.extend(more)
        return more

    # --- metrics ---------------------------------------------------------------------------

    def metrics(self) -> list[dict]:
        """Every metric record so far, in the order written (step + scalars;
        a NaN or infinite value is None)."""
        return list(self._metrics)

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for r in self._metrics:
            for k in r:
                if k != "step":
                    names.setdefault(k, None)
        return list(names)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metric (None written as NaN)."""
        rows = [(r["step"], r[name]) for r in self._metrics if name in r]
        steps = np.asarray([s for s, _ in rows], dtype=np.int64)
        values = np.asarray([math.nan if v is None else v for _, v in rows], dtype=np.float64)
        return steps, values

    def last(self) -> dict:
        """The last value of each metric."""
        out: dict = {}
        for r in self._metrics:
            out.update({k: v for k, v in r.items() if k != "step"})
        return out

    # --- snapshots -------------------------------------------------------------------------

    def snapshot_steps(self) -> list[int]:
        return list(self._snap_steps)

    def snapshot(self, step: int) -> Snapshot:
        """The snapshot at ``step`` exactly (see :meth:`snapshot_at` for the
        nearest one before)."""
        rec = self._snap_info.get(int(step))
        if rec is None:
            raise NnvizError(
                f"no snapshot of step {step} in {self.run_dir}; recorded steps: "
                f"{_steps_text(self._snap_steps)}"
            )
        path = (self.run_dir / rec["file"]).resolve()
        if self.run_dir.resolve() not in path.parents:
            raise NnvizError(f"{self.run_dir}: a snapshot record points outside the run folder")
        return fmt.snapshot_from_arrays(rec["info"], fmt.load_npz(path))

    def snapshot_at(self, step: int) -> Snapshot | None:
        """The newest snapshot at or before ``step`` (the first if none is); None if empty."""
        if not self._snap_steps:
            return None
        i = max(bisect.bisect_right(self._snap_steps, step) - 1, 0)
        return self.snapshot(self._snap_steps[i])

    def snapshot_bytes(self) -> int:
        return sum(int(r.get("bytes", 0)) for r in self._snap_info.values())

    # --- traces ----------------------------------------------------------------------------

    def trace_steps(self) -> list[int]:
        return sorted(self._traces)

    def trace(self, step: int):
        """The :class:`~nnviz.core.trace.AutogradTrace` recorded at ``step``."""
        from nnviz.core.runfolder_trace import trace_from_arrays

        rec = self._traces.get(int(step))
        if rec is None:
            raise NnvizError(f"no autograd trace of step {step} in {self.run_dir}")
        return trace_from_arrays(rec["info"], fmt.load_npz(self.run_dir / rec["file"]))

    # --- distributed -----------------------------------------------------------------------

    @property
    def ranks(self) -> RankInfo:
        return RankInfo(self.world_size, list(self._rank_records))


@dataclass
class RankInfo:
    """Per-rank statistics of a distributed run.

    ``records``: one ``{"step": n, "ranks": [stats of rank 0, rank 1, ...]}``
    per recorded step; each rank's stats hold ``loss``, ``act_mean`` /
    ``act_std`` / ``grad_norm`` / ``layer_param_norm`` (layer name -> number)
    and ``param_norm`` / ``param_abs_sum`` (the whole model). ``desync()`` lists where gradients or
    parameters differ across ranks, which DDP says must agree.
    """

    world_size: int
    records: list[dict]

    def desync(self, rtol: float = DESYNC_RTOL) -> list[dict]:
        """``[{"step", "what", "layer", "values"}, ...]``: each gradient norm or
        parameter checksum that differs across ranks by more than ``rtol``."""
        out = []
        for rec in self.records:
            ranks = rec.get("ranks") or []
            if len(ranks) < 2:
                continue
            for what in ("param_norm", "param_abs_sum"):
                vals = [r.get(what) for r in ranks]
                if _differ(vals, rtol):
                    out.append({"step": rec["step"], "what": what, "layer": "", "values": vals})
            for what in ("grad_norm", "layer_param_norm"):
                for layer in ranks[0].get(what) or {}:
                    vals = [(r.get(what) or {}).get(layer) for r in ranks]
                    if _differ(vals, rtol):
                        out.append(
                            {"step": rec["step"], "what": what, "layer": layer, "values": vals}
                        )
        return out

    @property
    def first_desync_step(self) -> int | None:
        d = self.desync()
        return d[0]["step"] if d else None


def _differ(vals, rtol: float) -> bool:
    nums = [v for v in vals if isinstance(v, int | float)]
    if len(nums) < 2:
        return False
    lo, hi = min(nums), max(nums)
    scale = max(abs(lo), abs(hi), 1e-12)
    return (hi - lo) > rtol * scale


def _steps_text(steps: list[int]) -> str:
    if not steps:
        return "none"
    if len(steps) <= 8:
        return ", ".join(map(str, steps))
    return f"{', '.join(map(str, steps[:4]))}, ..., {', '.join(map(str, steps[-2:]))}"
