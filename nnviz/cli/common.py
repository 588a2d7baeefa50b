"""Argument types and output helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

# --- number types (issue 13): every number is range-checked against what torch
# and Qt accept, so a bad one is one `nnviz: error:` line, never a traceback ---
MAX_INT = 2**31 - 1  # Qt's spin boxes (the seed, steps, batch) hold 32-bit ints
MAX_THREADS = 256  # torch starts this many OpenMP threads: more is never useful
MAX_FLOAT = 1e6  # a learning rate above this overflows float32 in the first step


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _at_most(value: int, maximum: int, what: str = "a number") -> int:
    if value > maximum:
        raise argparse.ArgumentTypeError(f"expected {what} ≤ {maximum}, got {value}")
    return value


def positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {value}")
    return _at_most(value, MAX_INT)


def nonnegative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {value}")
    return _at_most(value, MAX_INT)


def thread_count(text: str) -> int:
    return _at_most(positive_int(text), MAX_THREADS, "a thread count")


# --- end number types (issue 13) ---


def add_threads_flag(parser: argparse.ArgumentParser) -> argparse.Action:
    """``--threads N``: a fixed torch thread count (``args.threads``, None when not given:
    the run chooses it by timing steps; see :class:`nnviz.core.threads.ThreadTuner`)."""
    return parser.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        metavar="N",
        help="torch threads (default: chosen by timing a few steps)",
    )


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    if value > MAX_FLOAT:  # (issue 13) torch's float32 overflows past ~3e38 mid-step
        raise argparse.ArgumentTypeError(f"expected a number ≤ {MAX_FLOAT:g}, got {text!r}")
    return value


def layer_sizes(text: str) -> tuple[int, ...]:
    """``8,8`` → (8, 8); ``""`` or ``none`` → () (no hidden layer)."""
    text = text.strip()
    if text.lower() in ("", "none", "-"):
        return ()
    try:
        sizes = tuple(int(t) for t in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hidden layer sizes like 8,8 — got {text!r}"
        ) from None
    if any(s < 1 or s > 4096 for s in sizes):
        raise argparse.ArgumentTypeError("each hidden layer needs 1 to 4096 neurons")
    if len(sizes) > 32:  # (issue 13) bounded before anything is built
        raise argparse.ArgumentTypeError(f"at most 32 hidden layers, got {len(sizes)}")
    return sizes


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 1600x900, got {text!r}") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise argparse.ArgumentTypeError("width and height must be between 64 and 8192")
    return w, h


def to_jsonable(obj):
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def print_json(obj) -> None:
    """One JSON object on one line: the last line of stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj)) + "\n")
    sys.stdout.flush()


class Progress:
    """A progress bar on stderr, only when stderr is a terminal (≤ 10 redraws/s)."""

    def __init__(self, total: int, label: str, enabled: bool | None = None) -> None:
        self.total = max(1, total)
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    def update(self, done: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, done / self.total)
        bar = "█" * int(frac * 30) + "·" * (30 - int(frac * 30))
        sys.stderr.write(f"\r{self.label} {bar} {frac * 100:5.1f}% {text}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- targets: a scenario id or a model file (issue 9) ---------------------------------------

TARGET_HELP = "a scenario id (see `nnviz scenarios`) or a model file FILE.py"
# `--preset` of train and open (issue 11: TensorFlow Playground's settings)
PRESET_HELP = "playground: raw x1,x2, 4-2 tanh, tanh output, ½·MSE on ±1 labels, SGD"


class Target:
    """What a command works on: a scenario, and the model file it came from
    (None for a built-in scenario). ``spec`` is what the user typed."""

    def __init__(self, spec: str, scenario, model_file=None) -> None:
        self.spec, self.scenario, self.model_file = spec, scenario, model_file

    @property
    def id(self) -> str:
        return self.scenario.id


def resolve_target(text: str | None, default: str | None = None) -> Target:
    """A command's ID-or-FILE argument: a model file (``FILE.py`` or
    ``package.module:function``) is loaded and checked now, so a bad one fails
    with its file and line before anything else starts; anything else is a
    scenario id."""
    from nnviz.core.model_file import is_model_file, load_model_file
    from nnviz.core.scenarios import get_scenario

    text = text if text is not None else default
    from nnviz.core.errors import NnvizError

    if text is not None and is_model_file(text):
        mf = load_model_file(text)
        return Target(text, mf.scenario, mf)
    try:
        return Target(text, get_scenario(text))
    except NnvizError as exc:
        raise NnvizError(
            f"{exc}, or give your own model file (a FILE.py defining model())"
        ) from None


def check_data_flag(target: Target, data) -> None:
    """``--data`` is a built-in scenario's; a model file's data() gives its own."""
    if data is not None and target.model_file is not None:
        from nnviz.core.errors import NnvizError

        raise NnvizError(
            f"--data is for the built-in scenarios; {target.model_file.display} gives its "
            "own data with data()"
        )
