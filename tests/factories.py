"""Small, learnable data sets written in the real on-disk formats.

Tests of ``mnist-mlp`` and ``apparel-mlp`` use these instead of downloads:
``make_idx_dir`` writes MNIST-format IDX files, ``make_image_folder`` the
seed-000 competition's ``train.csv`` + ``<id>.png`` layout. The images come
from :func:`nnviz.core.datasets.synthetic_images`, so a small MLP learns them
in a few epochs.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nnviz.core.datasets import synthetic_images, write_idx


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def make_idx_dir(
    path: str | Path,
    n_train: int = 300,
    n_test: int = 50,
    shape: tuple[int, int] = (28, 28),
    gz: bool = False,
) -> Path:
    """Write ``train-{images-idx3,labels-idx1}-ubyte`` (and ``t10k-*`` when ``n_test``)
    into the folder ``path`` (created if needed); ``.gz`` files when ``gz``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    sets = [("train", n_train, 0)] + ([("t10k", n_test, 1)] if n_test else [])
    for prefix, n, seed in sets:
        x, y = synthetic_images(n, shape=tuple(shape), n_classes=10, seed=seed)
        write_idx(path / f"{prefix}-images-idx3-ubyte{ext}", _to_uint8(x))
        write_idx(path / f"{prefix}-labels-idx1-ubyte{ext}", y.astype(np.uint8))
    return path


def make_image_folder(
    path: str | Path, n_train: int = 200, n_test: int = 30, classes: int = 10
) -> Path:
    """Write the seed-000 layout into the folder ``path``: ``train.csv`` (``id,label``)
    with ``train/<id>.png``, and ``test.csv`` (``id``) with ``test/<id>.png`` when
    ``n_test``. Images are 28x28 grey PNGs; ids run 1.. as in the competition."""
    from PIL import Image

    path = Path(path)
    for name, n, seed, first_id in (("train", n_train, 0, 1), ("test", n_test, 1, n_train + 1)):
        if name == "test" and not n:
            continue
        x, y = synthetic_images(n, shape=(28, 28), n_classes=classes, seed=seed)
        folder = path / name
        folder.mkdir(parents=True, exist_ok=True)
        ids = [str(first_id + k) for k in range(n)]
        for image_id, img in zip(ids, _to_uint8(x), strict=True):
            Image.fromarray(img).save(folder / f"{image_id}.png")
        with open(path / f"{name}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            if name == "train":
                writer.writerow(["id", "label"])
                writer.writerows(zip(ids, y.tolist(), strict=True))
            else:
                writer.writerow(["id"])
                writer.writerows([i] for i in ids)
    return path


class FlakyModel(nn.Sequential):
    """A user's model that raises in forward while ``fail`` is set."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
        self.fail = False

    def forward(self, x):
        if self.fail:
            raise RuntimeError("boom in the user's forward")
        return super().forward(x)


class ExitingModel(nn.Sequential):
    """A user's model whose forward ends its process (as a crash in an
    extension would) after ``calls`` forward passes with gradients."""

    def __init__(self, exit_code: int = 3, calls: int = 1) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
        self.exit_code, self.calls = exit_code, calls

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            if self.calls <= 0:
                import os

                os._exit(self.exit_code)
            self.calls -= 1
        return super().forward(x)


def train_steps(trainer, steps: int | None = None, epochs: int | None = None) -> list:
    """Step a core Trainer directly: ``steps`` more steps or ``epochs`` more
    epochs; every step's StepMetrics (what the run loop sees of each step)."""
    target_step = trainer.step_count + steps if steps is not None else float("inf")
    target_epoch = trainer.epoch + epochs if epochs is not None else float("inf")
    out = []
    while trainer.step_count < target_step and trainer.epoch < target_epoch:
        out.append(trainer.step())
    return out
