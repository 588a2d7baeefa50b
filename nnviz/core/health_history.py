"""The health reports of a run, in step order (Qt-free, numpy only).

The session's :class:`~nnviz.core.history.History` keeps one
:class:`HealthHistory` (``history.health``) and adds the report each
snapshot carries; the distribution and gradient-flow views draw from it.
A report is a few kilobytes, so thousands are kept; beyond ``max_reports``
every other one of the older half is dropped (recent steps stay dense, the
whole run stays covered).
"""

from __future__ import annotations

import bisect

import numpy as np

from nnviz.core.health_types import HealthReport

DEFAULT_MAX_REPORTS = 2000


class HealthHistory:
    def __init__(self, max_reports: int = DEFAULT_MAX_REPORTS) -> None:
        self.max_reports = max(4, int(max_reports))
        self._steps: list[int] = []
        self._reports: list[HealthReport] = []
        self.version = 0
        self._cache: dict[str, tuple[int, tuple[np.ndarray, np.ndarray]]] = {}

    def __len__(self) -> int:
        return len(self._reports)

    def __getitem__(self, i: int) -> HealthReport:
        return self._reports[i]

    def add(self, report: HealthReport | None) -> list[str]:
        """Keep ``report`` as the newest (a step at or before the newest one
        means the run went back: the reports after it go). Returns the
        warnings that started with it (not in the report before)."""
        if report is None:
            return []
        if self._steps and report.step <= self._steps[-1]:
            cut = bisect.bisect_left(self._steps, report.step)
            del self._steps[cut:], self._reports[cut:]
        before = set(self._reports[-1].warnings) if self._reports else set()
        self._steps.append(report.step)
        self._reports.append(report)
        if len(self._reports) > self.max_reports:
            half = len(self._reports) // 2
            keep = list(range(0, half, 2)) + list(range(half, len(self._reports)))
            self._steps = [self._steps[i] for i in keep]
            self._reports = [self._reports[i] for i in keep]
        self.version += 1
        return [w for w in report.warnings if w not in before]

    def clear(self) -> None:
        self._steps.clear()
        self._reports.clear()
        self._cache.clear()
        self.version += 1

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def latest(self) -> HealthReport | None:
        return self._reports[-1] if self._reports else None

    def at(self, step: int) -> HealthReport | None:
        """The newest report at or before ``step`` (the first if earlier); None when empty."""
        if not self._reports:
            return None
        i = bisect.bisect_right(self._steps, step) - 1
        return self._reports[max(i, 0)]

    def nearest_step(self, step: float) -> int | None:
        """The recorded step closest to ``step`` (a click on a plot)."""
        if not self._steps:
            return None
        i = bisect.bisect_left(self._steps, step)
        near = [j for j in (i - 1, i) if 0 <= j < len(self._steps)]
        return min((self._steps[j] for j in near), key=lambda s: abs(s - step))

    def series(self, attr: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values (n, layers)) of a per-layer number (``grad_norm``,
        ``update_ratio``, ...); NaN where a report lacks it. Cached per version."""
        hit = self._cache.get(attr)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        n_layers = max((len(r.layers) for r in self._reports), default=0)
        values = np.full((len(self._reports), n_layers), np.nan)
        for i, rep in enumerate(self._reports):
            for j, layer in enumerate(rep.layers):
                v = getattr(layer, attr)
                if v is not None:
                    values[i, j] = v
        out = (self.steps, values)
        self._cache[attr] = (self.version, out)
        return out
