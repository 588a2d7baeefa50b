"""``nnviz render ID --out F.gif|F.mp4``: training progress in chunks of steps,
or one step's forward and backward sweep (issue 11, item 6). Frames come from
:class:`nnviz.qt.animated_stage.Stage`; files are written by
:func:`nnviz.qt.animated_export.write_animation`."""

from __future__ import annotations

import os
from pathlib import Path

from nnviz.core.errors import NnvizError
from nnviz.qt.animated_export import (
    ANIM_VIEWS,
    DEFAULT_FPS,
    DEFAULT_SIZE,
    HOLD_LAST_S,
    MAX_FRAMES,
    PROGRESS_FRAMES,
    SWEEP_PERIOD_S,
    check_target,
    write_animation,
)
from nnviz.qt.animated_stage import even_size


def render_animation(
    scenario_id: str,
    view: str,
    out: str | os.PathLike,
    steps: int | None = None,
    sweep: bool = False,
    frames: int | None = None,
    fps: float = DEFAULT_FPS,
    size: tuple[int, int] = DEFAULT_SIZE,
    theme_name: str = "dark",
    presenter: bool = False,
    data_dir: Path | None = None,
    seed: int = 0,
    threads: int | None = None,
    model_file=None,
    weights: Path | None = None,
    progress=None,  # called with (frames done, frames in all)
) -> Path:
    """Train a scenario and write its animation to ``out`` (.gif or .mp4).

    Without ``sweep``: training progress over ``steps`` steps in ``frames``
    frames (default :data:`PROGRESS_FRAMES`, at most one per step). With
    ``sweep``: after ``steps`` steps (default none), one more step's forward
    and backward sweep over :data:`SWEEP_PERIOD_S` (``frames`` frames,
    default the period times ``fps``)."""
    from nnviz.core.scenarios import get_scenario
    from nnviz.qt.animated_stage import Stage, stage_theme
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.render import train_for_render
    from nnviz.qt.theme import apply_theme

    if view not in ANIM_VIEWS:
        raise NnvizError(f"cannot animate --view {view}; choose one of {', '.join(ANIM_VIEWS)}")
    out = check_target(out)
    if frames is not None and not 2 <= frames <= MAX_FRAMES:
        raise NnvizError(f"--frames {frames}: choose 2 to {MAX_FRAMES} frames")
    if not 1 <= fps <= 60:
        raise NnvizError(f"--fps {fps:g}: choose 1 to 60 frames a second")
    sc = model_file.scenario if model_file is not None else get_scenario(scenario_id)
    if not sc.trainable:
        raise NnvizError(f"{sc.id} is an expression, nothing trains: render it as .png or .svg")
    size = even_size(size)
    app = make_app()
    theme = stage_theme(theme_name, presenter, size)
    apply_theme(app, theme)
    run, info, history = train_for_render(  # built, evaluated, not trained yet
        scenario_id, 0, data_dir, seed, threads, model_file=model_file, weights=weights
    )
    stage = Stage(app, theme, history, info, view, size, caption=sweep)
    try:
        if sweep:
            shots = _sweep_frames(run, history, stage, steps or 0, frames, fps, progress)
        else:
            n = steps if steps is not None else min(info.steps_per_epoch * 5, 300)
            shots = _progress_frames(run, history, stage, n, frames, progress)
    finally:
        stage.close()
    return write_animation(shots, out, fps, hold_last_s=0.0 if sweep else HOLD_LAST_S)


def chunk_ends(steps: int, frames: int | None) -> list[int]:
    """The step counts after which a progress frame is taken: 0 first, ``steps``
    last, evenly between; never two frames of the same step."""
    n = min(frames or PROGRESS_FRAMES, MAX_FRAMES, steps + 1)
    n = max(n, 2) if steps > 0 else 1
    ends = sorted({round(steps * k / (n - 1)) for k in range(n)}) if n > 1 else [0]
    return ends


def _drive(run, history) -> None:
    from nnviz.core import run as R

    failed: list[str] = []

    def keep(ev) -> None:
        if isinstance(ev, R.Metrics):
            history.metrics.append_metrics(ev)
        elif isinstance(ev, R.SnapshotReady):
            history.snapshots.add(ev.snapshot)
        elif isinstance(ev, R.Failed):
            failed.append(ev.message)

    run.drive(keep)
    if failed:
        raise NnvizError(failed[0])


def _progress_frames(run, history, stage, steps: int, frames: int | None, progress) -> list:
    from nnviz.core import run as R

    ends = chunk_ends(steps, frames)
    shots, done = [], 0
    for i, end in enumerate(ends):
        if end > done:
            run.submit(R.Step(end - done))
            run.submit(R.Evaluate())
            run.submit(R.RequestSnapshot())
            _drive(run, history)
            done = end
        stage.show(history.snapshots.latest)
        shots.append(stage.frame())
        if progress is not None:
            progress(i + 1, len(ends))
    return shots


def sweep_times(frames: int, period: float = SWEEP_PERIOD_S) -> list[float]:
    return [period * k / frames for k in range(frames)]


def _sweep_frames(run, history, stage, steps: int, frames: int | None, fps, progress) -> list:
    from nnviz.core import run as R
    from nnviz.qt.pass_animator import PassAnimator

    if steps > 0:
        run.submit(R.Step(steps))
        _drive(run, history)
    run.submit(R.Step(1))  # the step shown: its own snapshot, forward then backward
    run.submit(R.Evaluate())
    _drive(run, history)
    snap = history.snapshots.latest
    n = frames or min(MAX_FRAMES, round(SWEEP_PERIOD_S * fps))
    animator = PassAnimator()
    animator.configure(SWEEP_PERIOD_S, True)
    shots = []
    for i, t in enumerate(sweep_times(n)):
        animator.start(now=0.0)  # the clock stepped by hand: no waiting
        phase, frac = animator.phase(now=t)
        stage.show(snap, phase, frac)
        shots.append(stage.frame())
        if progress is not None:
            progress(i + 1, n)
    return shots


__all__ = ["chunk_ends", "render_animation", "sweep_times"]
