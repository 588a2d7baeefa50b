"""Record your own training loop with nnviz.watch (two lines).

    python examples/watch_train.py runs/exp1      # then: nnviz inspect runs/exp1
                                                  #       nnviz open runs/exp1

A small MLP learns a synthetic 3-class problem; every 10th step is recorded
as a snapshot (activations and gradients per layer, weights and their
gradients), every step's loss and accuracy as metrics. Add
``tensorboard=True`` to get TensorBoard event files in runs/exp1/tensorboard.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

import nnviz


def main(run_dir: str = "runs/exp1") -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randn(512, 2)
    y = (torch.atan2(x[:, 1], x[:, 0]) / (2.1 * torch.pi) + 0.5).mul(3).long().clamp(0, 2)
    with nnviz.watch(model, run_dir, every=10, overwrite=True) as probe:
        for epoch in range(20):
            for i in range(0, 512, 64):
                xb, yb = x[i : i + 64], y[i : i + 64]
                out = model(xb)
                loss = nn.functional.cross_entropy(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                acc = (out.argmax(1) == yb).float().mean()
                probe.log(loss=loss, accuracy=acc, epoch=epoch)
    print(f"recorded {probe.step} steps into {run_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
