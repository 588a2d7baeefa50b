"""The run loop's messages: typed commands in, typed events out.

All frozen: they cross threads (the GUI submits commands, the worker emits
events). The run loop (``nnviz.core.run``) says what each one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnviz.core.engine import EvalMetrics, TrainConfig
from nnviz.core.scenarios import Scenario
from nnviz.core.snapshot import Snapshot

# --- commands (frozen: they cross threads) -----------------------------------------------


@dataclass(frozen=True)
class Configure:
    """Build a trainer for ``scenario`` (a user's ``model`` instead of the
    scenario's, if given). An expression scenario has nothing to train: the
    run keeps it for graph captures. On failure the old trainer stays.

    ``model_file``: a model file's spec (a path or ``package.module:function``;
    in the same process also a loaded :class:`nnviz.core.model_file.ModelFile`):
    the run loads it itself, and ``scenario`` may then be None. A scenario made
    from a model file names its file, so a settings change keeps to it.
    ``weights``: a state_dict file to start from. ``overrides``: with no
    ``config``, changes to the scenario's defaults (e.g. seed and device)."""

    scenario: Scenario | None
    config: TrainConfig | None = None
    data_dir: Path | None = None
    model: object = None
    model_file: object = None
    weights: Path | None = None
    overrides: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Play:
    pass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Step:
    """Train ``n`` batches, then pause (each one shown on its own)."""

    n: int = 1


@dataclass(frozen=True)
class StepEpoch:
    """Train to the end of the current epoch, then pause."""


@dataclass(frozen=True)
class Evaluate:
    """Evaluate now on the usual subsets (the result comes with the next Metrics)."""


@dataclass(frozen=True)
class Reset:
    """A fresh model (the trained one can come back with Undo)."""


@dataclass(frozen=True)
class Undo:
    pass


@dataclass(frozen=True)
class Redo:
    pass


# --- playground (issue 11) ---
@dataclass(frozen=True)
class SetWeight:
    """Set one weight by hand, ``layer``'s ``weight[row, col]`` (its bias
    ``[row]`` when ``col`` is None); undoable; a snapshot follows."""

    layer: str
    row: int
    col: int | None
    value: float


# --- end playground (issue 11) ---


@dataclass(frozen=True)
class SetLearningRate:
    lr: float


@dataclass(frozen=True)
class SetPace:
    """Seconds per step while playing (0: full speed); with
    ``snapshot_every_step`` every step is captured (the teaching pace)."""

    seconds_per_step: float = 0.0
    snapshot_every_step: bool = False


@dataclass(frozen=True)
class SetThreads:
    """torch's intra-op threads: a count, or None to choose by timing steps."""

    n: int | None = None


@dataclass(frozen=True)
class RequestSnapshot:
    """A snapshot of the next step (or now, when paused)."""


@dataclass(frozen=True)
class CaptureGraph:
    scalar: bool = False


@dataclass(frozen=True)
class GradCheck:
    names: tuple[str, ...] = ()  # all parameters when empty


@dataclass(frozen=True)
class Unload:
    """Drop the trainer: nothing trains."""


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What the views need to know about a freshly built trainer."""

    scenario: Scenario
    config: TrainConfig
    device: str
    param_count: int
    widths: tuple[int, ...]
    steps_per_epoch: int
    data_note: str
    points: np.ndarray | None = None  # 2-D scenarios: all points (N, 2)
    labels: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    data_name: str = ""
    layer_modules: tuple[tuple[str, str | None], ...] = ()  # per drawn layer ≥ 1: (linear, act)


@dataclass(frozen=True)
class Built:
    info: ModelInfo


@dataclass(frozen=True)
class Unloaded:
    """The trainer was dropped (an expression scenario, or Unload)."""


@dataclass(frozen=True)
class Rejected:
    """A configuration could not be built; the previous trainer is kept."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class Metrics:
    """Steps trained since the last Metrics (numpy arrays, not lists)."""

    steps: np.ndarray  # step index of each loss (0-based: the step that computed it)
    losses: np.ndarray
    evals: tuple[EvalMetrics, ...]
    step: int  # steps done
    epoch: int
    steps_per_epoch: int
    rate: float  # steps per second over these steps


@dataclass(frozen=True)
class SnapshotReady:
    snapshot: Snapshot


@dataclass(frozen=True)
class StateChanged:
    playing: bool


HALT_PLANNED, HALT_NONFINITE, HALT_ERROR = "planned", "nonfinite", "error"


@dataclass(frozen=True)
class Halted:
    """Training paused by itself: ``reason`` is ``planned`` (the scenario's
    length), ``nonfinite`` (a NaN/Inf loss) or ``error`` (the model raised)."""

    reason: str
    message: str
    details: str = ""


@dataclass(frozen=True)
class Failed:
    """A command could not be carried out (training is unaffected)."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class HistoryChanged:
    can_undo: bool
    can_redo: bool


@dataclass(frozen=True)
class GraphReady:
    trace: object  # nnviz.core.trace.AutogradTrace


@dataclass(frozen=True)
class GradCheckReady:
    result: object  # nnviz.core.gradcheck.GradCheckResult


# --- sessions (issue 10): save and resume a trainer exactly (nnviz.core.checkpoint) ---


@dataclass(frozen=True)
class SaveSession:
    """Write the trainer's checkpoint to ``path`` (a folder: its checkpoint.pt)."""

    path: Path


@dataclass(frozen=True)
class LoadSession:
    """Replace the trainer with the one saved at ``path``, exactly where it was."""

    path: Path
    data_dir: Path | None = None


@dataclass(frozen=True)
class SessionSaved:
    path: Path  # the checkpoint file written
    step: int


@dataclass(frozen=True)
class SessionLoaded:
    """Follows the Built of a loaded session: training resumes from ``step``."""

    path: Path
    step: int
    epoch: int


# --- end sessions (issue 10) ---
