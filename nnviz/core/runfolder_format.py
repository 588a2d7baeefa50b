"""The run folder's on-disk format: names, version, and snapshots as arrays.

A run folder (format ``nnviz-run``, version :data:`FORMAT_VERSION`)::

    meta.json          {"format": "nnviz-run", "version": 1, "created": ..., "meta": {...},
                        "world_size": 1}  (written once, atomically, at the start)
    metrics.jsonl      one JSON object a line: {"step": 12, "loss": 0.31, ...}
    snapshots.jsonl    {"step": 10, "file": "snapshots/step_000000010.npz", "bytes": ...,
                        "info": {...}}; a later {"drop": 10} line means thinned away
    snapshots/*.npz    the arrays of one snapshot (numpy .npz; loaded with
                        allow_pickle=False)
    ranks.jsonl        {"step": 10, "ranks": [{...per-rank statistics...}, ...]}
    traces.jsonl       {"step": 10, "file": "traces/step_000000010.npz", "info": {...}}
    end.json           {"complete": true, ...}: written by close(), atomically
    tensorboard/       TensorBoard event files, when asked for

Records are JSON Lines: a line counts once its newline is written, so a
reader tailing the files (or opening them after a crash) skips a torn last
line. Array files are written to a temporary name and renamed into place
before their index line is written. Nothing is pickled: every array is a
plain numeric array and every record plain JSON.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.lib import format as npy

from nnviz.core.errors import NnvizError
from nnviz.core.snapshot import DecisionField, LayerSnapshot, Snapshot

FORMAT = "nnviz-run"
FORMAT_VERSION = 1

META = "meta.json"
METRICS = "metrics.jsonl"
SNAPSHOTS = "snapshots.jsonl"
RANKS = "ranks.jsonl"
TRACES = "traces.jsonl"
END = "end.json"
SNAPSHOT_DIR = "snapshots"
TRACE_DIR = "traces"
TENSORBOARD_DIR = "tensorboard"

_LAYER_OPTIONAL = ("dz", "da", "bias", "weight_grad", "bias_grad", "dz_abs_mean")


def json_value(v):
    """A JSON-safe number: NaN and infinities become None (JSON has none)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it in."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def snapshot_arrays(snap: Snapshot) -> tuple[dict, dict[str, np.ndarray]]:
    """A snapshot as (info: plain JSON, arrays: name -> numeric array).

    A layer's weight, bias and their gradients are usually the same arrays as
    in ``params``/``grads``; they are stored once and referred to by key."""
    arrays: dict[str, np.ndarray] = {}
    by_id: dict[int, str] = {}

    def put(key: str, a) -> str | None:
        if a is None:
            return None
        a = np.asarray(a)
        known = by_id.get(id(a))
        if known is not None:
            return known
        if a.dtype == object:
            raise ValueError(f"{key}: object arrays are not stored")
        arrays[key] = a
        by_id[id(a)] = key
        return key

    params = {name: put(f"p:{name}", a) for name, a in snap.params.items()}
    grads = {name: put(f"g:{name}", a) for name, a in snap.grads.items()}
    layers = []
    for i, layer in enumerate(snap.layers):
        entry = {
            "name": layer.name,
            "activation": layer.activation,
            "dead_fraction": float(layer.dead_fraction),
        }
        for key in ("z", "a", "weight", "a_mean", "a_std", *_LAYER_OPTIONAL):
            entry[key] = put(f"L{i}:{key}", getattr(layer, key))
        layers.append(entry)
    info = {
        "step": int(snap.step),
        "epoch": int(snap.epoch),
        "loss": json_value(float(snap.loss)),
        "sample_row": int(snap.sample_row),
        "sample_index": int(snap.sample_index),
        "input_shape": [int(n) for n in snap.input_shape],
        "input": put("input", snap.input),
        "target": put("target", snap.target),
        "output": put("output", snap.output),
        "params": params,
        "grads": grads,
        "layers": layers,
        "field": None,
    }
    info["blocks"] = [_block_info(i, b, put) for i, b in enumerate(getattr(snap, "blocks", ()))]
    if snap.field is not None:
        info["field"] = {
            "extent": [float(v) for v in snap.field.extent],
            "output": put("field:output", snap.field.output),
            "hidden": [put(f"field:h{i}", h) for i, h in enumerate(snap.field.hidden)],
        }
    return info, arrays


_UNIT_KEYS = ("units", "unit_grads", "unit_inputs")  # a narrow layer's units (issue 9)
_STATS = ("mean", "std", "lo", "hi", "norm", "zero_fraction", "count", "nonfinite")


def _block_info(i: int, b, put) -> dict:
    """One module block (nnviz.core.block_snapshot) as JSON + array keys."""

    def stats(key: str, st):
        if st is None:
            return None
        d = {k: json_value(float(getattr(st, k))) for k in _STATS}
        d["hist"] = put(f"B{i}:{key}:hist", st.hist)
        return d

    return {
        "name": b.name,
        "type": b.type,
        "parent": b.parent,
        "depth": int(b.depth),
        "container": bool(b.container),
        "shape": [int(n) for n in b.shape],
        "out_shapes": [[int(n) for n in s] for s in b.out_shapes],
        "act": stats("act", b.act),
        "grad": stats("grad", b.grad),
        "dead_fraction": None if b.dead_fraction is None else float(b.dead_fraction),
        "params": int(b.params),
        "maps": put(f"B{i}:maps", b.maps),
        "map_grads": put(f"B{i}:map_grads", b.map_grads),
        "kernels": put(f"B{i}:kernels", b.kernels),
        **{k: put(f"B{i}:{k}", getattr(b, k, None)) for k in _UNIT_KEYS},  # units (issue 9)
    }


def _blocks_from(info: dict, get) -> tuple:
    from nnviz.core.block_snapshot import BlockSnapshot, TensorStats

    def stats(d):
        if d is None:
            return None
        vals = {k: (math.nan if d.get(k) is None else d[k]) for k in _STATS}
        vals["count"], vals["nonfinite"] = int(vals["count"]), int(vals["nonfinite"])
        return TensorStats(hist=get(d["hist"]), **vals)

    return tuple(
        BlockSnapshot(
            name=b["name"],
            type=b["type"],
            parent=b["parent"],
            depth=int(b["depth"]),
            container=bool(b["container"]),
            shape=tuple(b["shape"]),
            out_shapes=tuple(tuple(s) for s in b["out_shapes"]),
            act=stats(b["act"]),
            grad=stats(b["grad"]),
            dead_fraction=b["dead_fraction"],
            params=int(b["params"]),
            maps=get(b["maps"]),
            map_grads=get(b["map_grads"]),
            kernels=get(b["kernels"]),
            **{k: get(b.get(k)) for k in _UNIT_KEYS},  # units (issue 9)
        )
        for b in info.get("blocks") or ()
    )


def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> int:
    """Write ``arrays`` as an .npz to a temporary name, rename it into place;
    return its size in bytes."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        # what np.savez writes, without its chunked copy of each array: the
        # array's own memory goes to the file (the writer thread's CPU time)
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for key, a in arrays.items():
                a = np.asarray(a)
                if not a.flags.c_contiguous:
                    a = a.copy(order="C")
                with z.open(f"{key}.npy", "w", force_zip64=True) as out:
                    npy.write_array_header_1_0(out, npy.header_data_from_array_1_0(a))
                    out.write(memoryview(a.reshape(-1).view(np.uint8)))
        size = f.tell()
    os.replace(tmp, path)
    return size


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, read-only; never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise NnvizError(
            f"{path} is missing (thinned away or not written yet); pick another step"
        ) from None
    except Exception as exc:  # a torn or foreign file
        raise NnvizError(
            f"{path} is not a readable array file ({exc}); the run folder is damaged"
        ) from None
    for a in out.values():
        a.setflags(write=False)
    return out


def snapshot_from_arrays(info: dict, arrays: dict[str, np.ndarray]) -> Snapshot:
    """The inverse of :func:`snapshot_arrays`."""

    def get(key):
        if key is None:
            return None
        try:
            return arrays[key]
        except KeyError:
            raise NnvizError(f"snapshot of step {info.get('step')} lacks array {key!r}; "
                             "the run folder is damaged") from None  # fmt: skip

    try:
        layers = tuple(
            LayerSnapshot(
                name=e["name"],
                activation=e["activation"],
                dead_fraction=float(e["dead_fraction"]),
                **{
                    k: get(e.get(k))
                    for k in ("z", "a", "weight", "a_mean", "a_std", *_LAYER_OPTIONAL)
                },
            )
            for e in info["layers"]
        )
        field = None
        if info.get("field"):
            f = info["field"]
            field = DecisionField(
                extent=tuple(f["extent"]),
                output=get(f["output"]),
                hidden=tuple(get(k) for k in f["hidden"]),
            )
        loss = info.get("loss")
        blocks = _blocks_from(info, get)
        return Snapshot(
            step=int(info["step"]),
            epoch=int(info["epoch"]),
            loss=math.nan if loss is None else float(loss),
            sample_row=int(info["sample_row"]),
            sample_index=int(info["sample_index"]),
            input=get(info["input"]),
            input_shape=tuple(int(n) for n in info["input_shape"]),
            target=get(info["target"]),
            output=get(info["output"]),
            layers=layers,
            params=MappingProxyType({n: get(k) for n, k in info["params"].items()}),
            grads=MappingProxyType({n: get(k) for n, k in info["grads"].items()}),
            field=field,
            **({"blocks": blocks} if blocks else {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NnvizError(
            f"snapshot of step {info.get('step')} has a bad record ({exc}); "
            "the run folder is damaged"
        ) from None


def clean(obj):
    """``obj`` as strict JSON data: NaN/inf become None, numpy scalars Python
    numbers, tuples lists; anything else becomes its ``str``."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (bool, type(None), str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return json_value(float(obj))
    return str(obj)


def dumps(record: dict) -> str:
    """One JSON Lines record (NaN written as null: strict JSON)."""
    return json.dumps(clean(record), separators=(",", ":"), allow_nan=False) + "\n"
