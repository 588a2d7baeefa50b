"""Sessions: a trainer saved to one file and resumed exactly (Qt-free).

A checkpoint holds everything the next step depends on: the model's and the
optimizer's ``state_dict``, torch's global RNG state and the trainer's own
batch-order generator (with the shuffled order and the position in it), the
configuration (as a plain dict), the step and epoch counters and the
scenario's id. 100 steps, save, load, 100 more give the same losses as 200
in one go (tests/core/test_checkpoint.py).

Safe both ways: it is written to a temporary name in the same folder and
renamed into place (a failure never leaves half a file where a good one was),
and read with ``torch.load(weights_only=True)``: only tensors, numbers,
strings, lists and dicts, nothing unpickled that could run code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

import torch

from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario

FORMAT = "nnviz-checkpoint"
VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"

__all__ = [
    "CHECKPOINT_NAME",
    "FORMAT",
    "VERSION",
    "checkpoint_path",
    "load_checkpoint",
    "restore_trainer",
    "save_checkpoint",
    "trainer_state",
]


def checkpoint_path(path: str | Path) -> Path:
    """A session folder's checkpoint (or the file itself)."""
    p = Path(path)
    return p / CHECKPOINT_NAME if p.is_dir() or not p.suffix else p


def _config_dict(config: TrainConfig) -> dict:
    d = dataclasses.asdict(config)
    if d.get("hidden") is not None:
        d["hidden"] = [int(h) for h in d["hidden"]]
    return d


def _config_from(d: dict) -> TrainConfig:
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs = {k: v for k, v in d.items() if k in fields}
    if kwargs.get("hidden") is not None:
        kwargs["hidden"] = tuple(int(h) for h in kwargs["hidden"])
    return TrainConfig(**kwargs)


def trainer_state(t: Trainer) -> dict:
    """Everything :func:`restore_trainer` needs, as tensors, numbers, strings,
    lists and dicts (what ``torch.load(weights_only=True)`` accepts)."""
    order = getattr(t, "_order", None)
    model_file = str(getattr(t.scenario, "model_file", "") or "")  # a user's FILE.py
    batch = getattr(t, "_batch", None)
    return {
        "format": FORMAT,
        "version": VERSION,
        "torch": str(torch.__version__),
        "scenario": t.scenario.id,
        "user_model": t._user_model is not None and not model_file,
        "model_file": model_file,
        "data_dir": str(t.data_dir) if t.data_dir is not None else "",
        "config": _config_dict(t.config),
        "step": int(t.step_count),
        "epoch": int(t.epoch),
        "sample_row": int(t.sample_row),
        "model": {k: v.detach().cpu().clone() for k, v in t.model.state_dict().items()},
        "optimizer": t.optimizer.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "order_gen": t._gen.get_state(),
            "order": order.detach().cpu().clone() if order is not None else None,
            "pos": int(t._pos),
            "batch": batch.detach().cpu().clone() if batch is not None else None,
        },
    }


def save_checkpoint(t: Trainer, path: str | Path) -> Path:
    """Write ``t``'s state to ``path`` (a file, or a folder for checkpoint.pt)
    atomically: a temporary file in the same folder, renamed into place."""
    path = checkpoint_path(path)
    state = trainer_state(t)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise NnvizError(
            f"cannot save the session in {str(path.parent)!r}: {exc.strerror or exc}; "
            "choose a folder you can write to"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = getattr(exc, "strerror", None) or str(exc)
        raise NnvizError(
            f"cannot save the session to {str(path)!r}: {reason}; "
            "free some disk space or choose another folder (nothing was overwritten)"
        ) from exc
    return path


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint's state, read safely (``weights_only=True``), checked."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise NnvizError(
            f"no session checkpoint at {str(path)!r}; choose a folder saved with Ctrl+S"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise NnvizError(
            f"{str(path)!r} is not a readable nnviz checkpoint ({type(exc).__name__}); "
            "it may be damaged or from another program"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise NnvizError(f"{str(path)!r} is not an nnviz checkpoint")
    version = state.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise NnvizError(
            f"{str(path)!r} was saved by a newer nnviz (checkpoint format {version}, "
            f"this one reads up to {VERSION}); update nnviz to open it"
        )
    return state


def restore_trainer(state: dict, model=None, data_dir: str | Path | None = None) -> Trainer:
    """A trainer exactly where the checkpoint left off. A user's own model
    (``model``, same architecture) is needed when the session trained one."""
    try:
        return _restore_trainer(state, model, data_dir)
    except NnvizError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise NnvizError(
            f"the checkpoint is damaged or incomplete ({type(exc).__name__}: {first}); "
            "save the session again"
        ) from None


def _restore_trainer(state: dict, model, data_dir) -> Trainer:
    if state.get("user_model") and model is None:
        raise NnvizError(
            "this session trained a model from a file; open that model file again to resume it"
        )
    config = _config_from(state["config"])
    if data_dir is None and state.get("data_dir"):
        data_dir = state["data_dir"]
    if state.get("model_file"):  # the user's own file, imported again as `nnviz open FILE.py` does
        from nnviz.core.model_file import load_model_file

        t = load_model_file(state["model_file"]).trainer(config)
    else:
        t = Trainer(get_scenario(state["scenario"]), config, data_dir=data_dir, model=model)
    try:
        t.model.load_state_dict(state["model"])
        t.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise NnvizError(
            f"the checkpoint does not fit this model ({first}); was it saved from another one?"
        ) from None
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    t._gen.set_state(rng["order_gen"])
    t._order = rng["order"]
    t._pos = int(rng["pos"])
    batch = rng["batch"]
    t._batch = batch  # indices stay on the CPU (the engine moves them per batch)
    t.step_count = int(state["step"])
    t.epoch = int(state["epoch"])
    t.sample_row = int(state.get("sample_row", 0))
    return t
