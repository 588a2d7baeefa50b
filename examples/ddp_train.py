"""DistributedDataParallel training recorded with nnviz.watch (CPU, gloo).

Run on one machine with two processes::

    torchrun --standalone --nproc-per-node 2 examples/ddp_train.py --run-dir runs/ddp
    nnviz inspect runs/ddp          # ranks: 2, ranks agree

Rank 0 writes the run folder; every ``--every`` steps each rank's loss,
activation statistics, gradient norms (after DDP's all-reduce) and
parameter norms are gathered to it. ``--perturb-rank R`` (or the
environment variable NNVIZ_DDP_PERTURB_RANK=R) makes rank R nudge its
weights once, half way, as a buggy script might (a rank that loaded another
checkpoint, a different seed): DDP does not notice, ``nnviz inspect`` does.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import nnviz


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default="runs/ddp")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run in --run-dir")
    default_perturb = os.environ.get("NNVIZ_DDP_PERTURB_RANK")
    p.add_argument("--perturb-rank", type=int, default=None if default_perturb is None
                   else int(default_perturb))  # fmt: skip
    args = p.parse_args()

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1000 + rank)  # each rank its own shard of data
    w_true = torch.randn(8, 3, generator=torch.Generator().manual_seed(7))

    with nnviz.watch(ddp, args.run_dir, every=args.every, overwrite=args.overwrite) as probe:
        for step in range(args.steps):
            x = torch.randn(32, 8, generator=g)
            y = (x @ w_true).argmax(1)
            loss = nn.functional.cross_entropy(ddp(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == args.steps // 2 and rank == args.perturb_rank:
                with torch.no_grad():  # the bug: this rank's weights drift from the others'
                    model[0].weight.add_(0.01 * torch.randn_like(model[0].weight))
            probe.log(loss=loss)
    if rank == 0:
        print(f"recorded {args.steps} steps of {world} ranks into {args.run_dir}", flush=True)
    # every rank reaches the end before any tears its connections down: without
    # this, a rank whose peer had already closed its gloo pairs sometimes aborted
    # in teardown ("terminate called without an active exception", about 1 run in 12)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
