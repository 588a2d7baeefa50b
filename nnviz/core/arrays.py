"""Tensors to read-only numpy arrays: the one helper every capture uses.

Duck-typed (anything with ``detach``), so modules that only hold arrays —
snapshots, traces, views — import no torch.
"""

from __future__ import annotations

import numpy as np


def frozen(a) -> np.ndarray:
    """A read-only numpy copy of a tensor or array (detached, on the CPU).

    Complex tensors become their magnitude, sparse ones dense, and half or
    bfloat16 float32 (numpy has no bfloat16)."""
    if hasattr(a, "detach"):
        t = a.detach()
        if t.is_complex():
            t = t.abs()
        if getattr(t, "is_sparse", False) or str(getattr(t, "layout", "")) != "torch.strided":
            t = t.to_dense()
        t = t.to("cpu")
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        a = t.numpy()
    out = np.array(a, copy=True)
    out.setflags(write=False)
    return out


def frozen_or_none(a) -> np.ndarray | None:
    return None if a is None else frozen(a)
