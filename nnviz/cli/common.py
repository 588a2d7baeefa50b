"""Argument types and output helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {value}")
    return value


def add_threads_flag(parser: argparse.ArgumentParser) -> argparse.Action:
    """``--threads N``: a fixed torch thread count (``args.threads``, None when not given:
    the run chooses it by timing steps; see :class:`nnviz.core.threads.ThreadTuner`)."""
    return parser.add_argument(
        "--threads",
        type=positive_int,
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
