"""What every data set is: the :class:`Dataset` arrays, the class names of the
built-in sets, and the helpers the loaders share (the seeded train/validation
split, error-message pieces)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnviz.core.errors import NnvizError

APPAREL_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
TOY_KINDS = ("circle", "xor", "gauss", "spiral")


@dataclass(frozen=True)
class Dataset:
    """Arrays ready for training.

    ``x_*`` are float32 of shape ``(N, *input_shape)`` (images scaled to
    [0, 1]). For classification ``y_*`` are int64 class indices ``(N,)``;
    for a binary task with one sigmoid output they are float32 ``(N, 1)`` of
    0/1. ``x_test`` / ``test_ids`` hold inputs to predict (the seed-000
    competition's ``test.csv``, or MNIST's ``t10k`` files), if any;
    ``y_test`` holds their labels when the files have them (``t10k`` does,
    ``test.csv`` does not).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    input_shape: tuple[int, ...]
    classes: tuple[str, ...] = ()
    x_test: np.ndarray | None = None
    test_ids: tuple[str, ...] | None = None
    note: str = ""  # shown to the user, e.g. where the data came from
    y_test: np.ndarray | None = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def binary(self) -> bool:
        return self.y_train.ndim == 2 and self.y_train.shape[1] == 1


# --- shared helpers ----------------------------------------------------------------


def check_fraction(val_fraction: float) -> None:
    if not 0.0 <= float(val_fraction) < 1.0:
        raise NnvizError(
            f"validation fraction must be at least 0 and below 1, not {val_fraction}; "
            "use e.g. 0.1 to hold out 10 %"
        )


def split_rows(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and hold out ``val_fraction`` of the rows.

    The same seed always gives the same split; train and validation never share
    a row. With a positive fraction at least one row is held out and at least
    one is kept for training (when there are two or more).
    """
    check_fraction(val_fraction)
    n = int(x.shape[0])
    n_val = int(round(n * float(val_fraction)))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def model_name_for(needed_by: str | None, classes: Sequence[str]) -> str:
    if needed_by:
        return needed_by
    if tuple(classes) == APPAREL_CLASSES:
        return "apparel-mlp"
    if tuple(classes) == DIGIT_CLASSES:
        return "mnist-mlp"
    return "the model"


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def few(names: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")
