"""The ranks of a distributed run, compared step by step (no Qt, no torch).

A run folder written under ``torch.distributed`` holds, for each recording
step, every rank's few numbers (:class:`nnviz.core.runfolder_read.RankInfo`).
:func:`rank_table` lays out one step of them for a side-by-side view: per
layer each rank's gradient norm, activation mean and std and parameter
norm, with the cells flagged where ranks disagree that DDP says must agree
(gradients and parameters: :meth:`RankInfo.desync`). :func:`desync_text`
says a disagreement in the words ``nnviz inspect`` uses.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from nnviz.core.numfmt import fmt
from nnviz.core.runfolder_read import DESYNC_RTOL, RankInfo

#: per-layer columns: (key in a rank's record, heading); DDP says the ones in
#: CHECKED agree across ranks (activations differ: each rank has its own data)
LAYER_STATS: tuple[tuple[str, str], ...] = (
    ("grad_norm", "‖grad‖"),
    ("act_mean", "act mean"),
    ("act_std", "act std"),
    ("layer_param_norm", "‖weights‖"),
)
CHECKED = ("grad_norm", "layer_param_norm", "param_norm", "param_abs_sum")
MODEL_ROW = "model"  # the row of the whole model's weight checksums


def desync_text(d: dict) -> str:
    """One disagreement (an entry of :meth:`RankInfo.desync`, as ``nnviz
    inspect --json`` prints it) in the words ``nnviz inspect`` uses."""
    layer = f" of {d['layer']}" if d.get("layer") else ""
    values = ", ".join(f"rank {i}: {fmt(v, 7)}" for i, v in enumerate(d["values"]))
    return f"DESYNC at step {d['step']}: {d['what']}{layer} differs across ranks ({values})"


def _agree(a, b, rtol: float) -> bool:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return True  # a value missing on one rank is not a disagreement
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


def odd_ranks(values: list, rtol: float = DESYNC_RTOL) -> list[int]:
    """The ranks whose value differs from the one most ranks agree on (ties:
    the group with the lowest rank, so with two ranks rank 0 is the reference)."""
    n = len(values)
    if n < 2:
        return []
    support = [sum(_agree(values[i], values[j], rtol) for j in range(n)) for i in range(n)]
    ref = max(range(n), key=lambda i: (support[i], -i))
    return [i for i in range(n) if not _agree(values[i], values[ref], rtol)]


@dataclass
class RankTable:
    """One recorded step of every rank, laid out for a side-by-side view.

    ``cells[(key, layer)]``: one value per rank (None where a rank has
    none); ``flags[(key, layer)]``: the ranks that disagree there (only
    for the :data:`CHECKED` keys); ``loss``: each rank's loss."""

    step: int
    world_size: int
    layers: list[str]
    loss: list[float | None]
    cells: dict[tuple[str, str], list] = field(default_factory=dict)
    flags: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def flagged_ranks(self) -> list[int]:
        return sorted({r for ranks in self.flags.values() for r in ranks})


def _num(v):
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def record_at(info: RankInfo, step: int | None) -> dict | None:
    """The per-rank record at or before ``step`` (None: the newest; before
    the first: the first)."""
    recs = info.records
    if not recs:
        return None
    if step is None:
        return recs[-1]
    steps = [r["step"] for r in recs]
    return recs[max(bisect.bisect_right(steps, int(step)) - 1, 0)]


def rank_table(info: RankInfo, step: int | None, rtol: float = DESYNC_RTOL) -> RankTable | None:
    """The step shown (the record at or before ``step``) as a :class:`RankTable`."""
    rec = record_at(info, step)
    if rec is None:
        return None
    ranks = rec.get("ranks") or []
    n = max(len(ranks), 1)
    layers: dict[str, None] = {}
    for key, _ in LAYER_STATS:
        for r in ranks:
            layers.update(dict.fromkeys(str(k) for k in (r.get(key) or {})))
    table = RankTable(int(rec["step"]), n, list(layers), [_num(r.get("loss")) for r in ranks])
    for key, _ in LAYER_STATS:
        for layer in table.layers:
            vals = [_num((r.get(key) or {}).get(layer)) for r in ranks]
            table.cells[(key, layer)] = vals
            if key in CHECKED and (odd := odd_ranks(vals, rtol)):
                table.flags[(key, layer)] = odd
    for key in ("param_norm", "param_abs_sum"):
        vals = [_num(r.get(key)) for r in ranks]
        table.cells[(key, MODEL_ROW)] = vals
        if odd := odd_ranks(vals, rtol):
            table.flags[(key, MODEL_ROW)] = odd
    return table


def loss_curves(info: RankInfo) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses of shape (world size, steps)): each rank's loss at the
    recorded steps (NaN where a rank has none)."""
    recs = info.records
    n = max([info.world_size, *(len(r.get("ranks") or []) for r in recs)])
    steps = np.asarray([r["step"] for r in recs], dtype=np.int64)
    losses = np.full((n, len(recs)), math.nan)
    for j, rec in enumerate(recs):
        for i, r in enumerate(rec.get("ranks") or []):
            v = _num(r.get("loss"))
            if v is not None:
                losses[i, j] = v
    return steps, losses


def first_desync(info: RankInfo, rtol: float = DESYNC_RTOL) -> dict | None:
    """The first disagreement of the run (what ``nnviz inspect --json`` calls
    ``desync``), or None when the ranks agree."""
    found = info.desync(rtol)
    return found[0] if found else None
