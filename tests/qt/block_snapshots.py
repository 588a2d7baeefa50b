"""Snapshots of models that are not Linear chains, trained on the 8×8 digits
(tests, the block view's benchmark and its pictures)."""

from __future__ import annotations

import torch
from torch import nn

from nnviz.core.engine import TrainConfig, Trainer
from nnviz.core.scenarios import get_scenario


class _LastStep(nn.Module):
    def forward(self, x):
        return x[:, -1]


def cnn() -> nn.Module:
    """A small CNN with BatchNorm for (N, 8, 8) digit images."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 8)),
        nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def transformer() -> nn.Module:
    """A two-layer transformer encoder reading an image's 8 rows as 8 tokens."""
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
        nn.LayerNorm(16),
        nn.Flatten(),
        nn.Linear(16 * 8, 10),
    )


def gru() -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(8, 12, batch_first=True)
            self.last = _LastStep()
            self.head = nn.Linear(12, 10)

        def forward(self, x):
            out, _h = self.rnn(x)
            return self.head(self.last(out))

    return Net()


def trainer(model: nn.Module, batch_size: int = 32, seed: int = 0) -> Trainer:
    sc = get_scenario("digits-mlp")
    torch.manual_seed(seed)
    return Trainer(sc, TrainConfig.for_scenario(sc, batch_size=batch_size, seed=seed), model=model)


def snapshots(model: nn.Module, steps: int = 5, frames: int = 1, row: int = 0):
    """``frames`` snapshots, ``steps`` training steps apart."""
    torch.manual_seed(0)
    tr = trainer(model)
    out = []
    for _ in range(frames):
        for _ in range(steps):
            tr.step()
        out.append(tr.snapshot(sample_row=row))
    return out
