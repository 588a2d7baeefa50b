"""A residual MLP with LayerNorm separates two interleaved spirals (one turn each).

Each block computes ``x + Linear(ReLU(Linear(LayerNorm(x))))``: the block
only adds a correction to what it was given, so the signal (and, going
backward, the gradient) has a straight path through all four blocks. The
2-D points are lifted to 32 numbers first and read out as two class scores.

What to look at:

- In the autograd graph each block ends in an ``Add`` with two inputs: the
  skip path and the block's correction. Stepping backward, the Add passes
  the same gradient down both paths (its local derivative is 1).
- ``NativeLayerNorm`` nodes normalise each point's 32 numbers; their output
  has mean 0 and standard deviation 1 across the features.

Figure: trained for 300 steps of 64 points (Adam, learning rate 0.01), at
least 95 % of 400 held-out points are classified correctly (98–100 %
measured over seeds 0–2), in about four seconds on one CPU core.
"""

import math

import torch
from torch import nn

classes = ["arm A", "arm B"]
task = "classify"
batch_size = 64
steps = 300  # the planned length: `nnviz train` and the app stop here


def _spirals(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    arm = torch.randint(0, 2, (n,), generator=g)
    r = torch.rand(n, generator=g)
    angle = 2 * math.pi * r + math.pi * arm
    radius = 0.2 + 0.8 * r
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    x = x + 0.03 * torch.randn(n, 2, generator=g)
    return x, arm


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 2 * width)
        self.act = nn.ReLU()
        self.down = nn.Linear(2 * width, width)

    def forward(self, x):
        return x + self.down(self.act(self.up(self.norm(x))))


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 32, blocks: int = 4) -> None:
        super().__init__()
        self.lift = nn.Linear(2, width)
        self.blocks = nn.Sequential(*(Block(width) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.lift(x))))


def data():
    return _spirals(2000, seed=1), _spirals(400, seed=2)


def model():
    return ResidualMLP()


loss = nn.CrossEntropyLoss()


def optimizer(params):
    return torch.optim.Adam(params, lr=0.01)


def example_input():
    return _spirals(8, seed=3)[0]
