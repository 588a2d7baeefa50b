"""The block view's inspector contents: a module call's numbers, one
pixel of a Conv2d's feature maps or kernels, or one unit of a narrow
layer (no Qt widgets here)."""

from __future__ import annotations

import numpy as np

from nnviz.core.block_snapshot import MAX_UNITS, BlockSnapshot
from nnviz.core.snapshot import Snapshot
from nnviz.qt import block_layout as L
from nnviz.qt.neuron_inspector import MAX_INCOMING, NeuronInfo


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "scalar"


def value_of(b: BlockSnapshot, part: str, where) -> float | None:
    if part == "units":
        ok = b.units is not None and where is not None and where[0] < b.units.size
        return float(b.units[where[0]]) if ok else None
    if part == "row" or where is None:
        return b.act.mean if b.act is not None else None
    ch, i, j = where
    if part == "kernels":
        if b.kernels is None:
            return None
        k = b.kernels[: L.KERNEL_ROWS, : L.KERNEL_COLS]
        o, c = divmod(ch, k.shape[1])
        return float(k[o, c, i, j]) if o < k.shape[0] else None
    arr = b.maps if part == "maps" else b.map_grads
    return float(arr[ch, i, j]) if arr is not None and ch < arr.shape[0] else None


def block_info(
    snap: Snapshot, b: BlockSnapshot, part: str = "row", where=None, series=None
) -> NeuronInfo:
    """A block's numbers (or one pixel of its maps or kernels) as the
    inspector shows them, with their history over the kept snapshots."""
    steps, values = series if series is not None else (np.zeros(0, np.int64), np.zeros(0))
    if part == "units" and where is not None and b.units is not None:
        return unit_info(snap, b, int(where[0]), (steps, values))
    if part != "row" and where is not None:
        ch, i, j = where
        if part == "kernels":
            k = b.kernels[: L.KERNEL_ROWS, : L.KERNEL_COLS]
            o, c = divmod(ch, k.shape[1])
            w = float(k[o, c, i, j])
            return NeuronInfo(0, ch, f"{b.label} · kernel {o}, input {c}", b.type, w,
                              rows=(("w", w, f"weight at ({i}, {j})"),),
                              note=f"{b.type} '{b.name}'<br>output channel {o}, input "
                                   f"channel {c}", history=values, history_steps=steps,
                              history_label="w")  # fmt: skip
        a = float(b.maps[ch, i, j])
        g = float(b.map_grads[ch, i, j]) if b.map_grads is not None else None
        return NeuronInfo(0, ch, f"{b.label} · channel {ch}", b.type, a,
                          rows=(("a", a, "feature map"), ("dL/dz", g, "its gradient")),
                          note=f"{b.type} '{b.name}'<br>row {i}, column {j} of sample "
                               f"#{snap.sample_index}'s map", history=values,
                          history_steps=steps, history_label="a")  # fmt: skip
    act, grad = b.act, b.grad
    rows = [
        ("mean", act.mean if act else None, "of the outputs"),
        ("std", act.std if act else None, ""),
        ("min", act.lo if act else None, ""),
        ("max", act.hi if act else None, ""),
    ]
    if b.dead_fraction is not None:
        rows.append(("dead", b.dead_fraction, "fraction == 0"))
    rows += [
        ("dL/dz", grad.mean if grad else None, "mean gradient"),
        ("std", grad.std if grad else None, "of the gradient"),
        ("‖dL/dz‖", grad.norm if grad else None, ""),
    ]
    shapes = ", ".join(shape_text(s) for s in b.out_shapes)
    note = f"'{b.name}'<br>output {shapes} · {b.params:,} parameters"
    if act is not None and act.nonfinite:
        note += f" · {act.nonfinite:,} NaN/inf"
    note += _units_note(b)
    return NeuronInfo(0, 0, f"{b.label} · {b.type}", b.type, act.mean if act else 0.0,
                      rows=tuple(rows), note=note, history=values, history_steps=steps,
                      history_label="output mean")  # fmt: skip


def _units_note(b: BlockSnapshot) -> str:
    """Why a Linear's units are not drawn as neurons (nothing when they are)."""
    if b.type != "Linear" or b.units is not None or not b.shape:
        return ""
    if len(b.shape) != 2:
        return "<br>one output per position and unit: shown as statistics over the batch"
    if b.shape[1] > MAX_UNITS:
        return (f"<br>{b.shape[1]:,} units: more than {MAX_UNITS}, so shown as statistics "
                "over the batch, not as neurons")  # fmt: skip
    return ""


def unit_info(snap: Snapshot, b: BlockSnapshot, k: int, series=None) -> NeuronInfo:
    """Unit ``k`` of a narrow layer for the chosen sample: its value, its
    gradient and, for a Linear, its bias and strongest incoming weights."""
    steps, values = series if series is not None else (np.zeros(0, np.int64), np.zeros(0))
    linear = b.type == "Linear"
    sym = "z" if linear else "a"
    v = float(b.units[k])
    g = float(b.unit_grads[k]) if b.unit_grads is not None else None
    base = b.name.split("#", 1)[0]  # a second call of a module has the same parameters
    weight, bias = snap.params.get(f"{base}.weight"), snap.params.get(f"{base}.bias")
    rows = [(sym, v, "this unit's output" if linear else f"{b.type}'s output")]
    if linear and bias is not None and bias.ndim == 1 and k < bias.size:
        rows.append(("bias b", float(bias[k]), ""))
    rows.append((f"dL/d{sym}", g, "its gradient"))
    incoming, fan_in = (), 0
    x = b.unit_inputs
    if linear and weight is not None and weight.ndim == 2 and k < weight.shape[0]:
        w = weight[k]
        fan_in = int(w.size)
        if x is not None and x.size == w.size:
            top = np.argsort(-np.abs(w), kind="stable")[:MAX_INCOMING]
            incoming = tuple((int(j), float(w[j]), float(w[j] * x[j])) for j in top)
    return NeuronInfo(0, k, f"{b.label} · unit {k}", b.type, v, dz=g, fan_in=fan_in,
                      incoming=incoming, rows=tuple(rows),
                      note=f"{b.type} '{b.name}', sample #{snap.sample_index}",
                      history=values, history_steps=steps, history_label=sym)  # fmt: skip
