"""Looking must not change what is looked at: a capture's extra forward leaves
the model as it was.

A forward in training mode updates BatchNorm's running statistics (and its
``num_batches_tracked``) and draws dropout masks from torch's random number
generator; code may also flip ``training`` flags. ``kept_state(model)``
restores all three afterwards, so the next training step is the one that
would have run without the capture (same batch statistics, same dropout
masks).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def _rng_states() -> dict:
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


@contextmanager
def kept_state(*modules: nn.Module | None):
    """Buffers (BatchNorm running statistics), ``training`` flags of every
    submodule and torch's RNG state are what they were when the block began."""
    mods = [m for m in modules if isinstance(m, nn.Module)]
    flags = [(sub, sub.training) for m in mods for sub in m.modules()]
    buffers = [
        (sub, name, b, b.detach().clone())
        for m in mods
        for sub in m.modules()
        for name, b in sub._buffers.items()
        if b is not None
    ]
    rng = _rng_states()
    try:
        yield
    finally:
        with torch.no_grad():
            for sub, name, b, old in buffers:
                if b.shape == old.shape:
                    b.copy_(old)  # in place: whoever holds the buffer sees it restored
                    sub._buffers[name] = b  # and the module holds it again if it swapped it
                else:
                    sub._buffers[name] = old
        for sub, flag in flags:
            sub.training = flag
        _set_rng_states(rng)
