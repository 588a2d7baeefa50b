"""A model file's ``data()``, made into arrays the trainer can batch.

``data()`` may return ``(X, y)`` tensors or arrays, a ``torch.utils.data.Dataset``,
a ``DataLoader``, or a ``(train, validation)`` pair of those. Everything is read
once into memory (bounded: :data:`MAX_DATA_BYTES`), so training batches by
index like the built-in scenarios. Integer inputs (token ids for an
``nn.Embedding``) stay integer; without a validation part, a fixed
:data:`VAL_FRACTION` of the rows is held out (the same rows every time).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from nnviz.core.data_common import split_rows
from nnviz.core.errors import NnvizError

MAX_DATA_BYTES = 2 * 2**30
VAL_FRACTION = 0.2
SPLIT_SEED = 0  # the held-out rows do not change with the training seed
MIN_ROWS_TO_SPLIT = 5
MAX_BATCHES = 2_000_000  # an iterable data set that never ends stops here  # fewer rows: the training rows are the validation rows too

FORMS = (
    "(X, y) tensors or arrays, a torch Dataset, a DataLoader, "
    "or a (train, validation) pair of those"
)


class DataProblem(NnvizError):
    """What is wrong with what ``data()`` returned (the caller adds the file and line)."""


def describe(obj) -> str:
    """What a value is, in a few words: ``a dict``, ``a tuple of 3 items``."""
    if isinstance(obj, torch.Tensor | np.ndarray):
        return f"a {type(obj).__name__} of shape {tuple(obj.shape)}"
    if isinstance(obj, list | tuple):
        return f"a {type(obj).__name__} of {len(obj)} item{'s' if len(obj) != 1 else ''}"
    if obj is None:
        return "None"
    article = "an" if type(obj).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(obj).__name__}"


def _is_array(obj) -> bool:
    return isinstance(obj, torch.Tensor | np.ndarray)


def _is_form(obj) -> bool:
    if isinstance(obj, DataLoader | TorchDataset):
        return True
    return isinstance(obj, tuple | list) and len(obj) == 2 and all(_is_array(o) for o in obj)


def split_parts(obj) -> tuple[object, object | None]:
    """(train, validation or None) of what ``data()`` returned, or DataProblem."""
    if isinstance(obj, tuple | list) and len(obj) == 2:
        a, b = obj
        if _is_array(a) and _is_array(b):
            return obj, None
        if _is_form(a) and _is_form(b):
            return a, b
        if _is_array(a) or _is_array(b):
            other = b if _is_array(a) else a
            raise DataProblem(
                f"returned (X, y) where one of them is {describe(other)}; "
                "both must be tensors or numpy arrays"
            )
    if isinstance(obj, DataLoader | TorchDataset):
        return obj, None
    raise DataProblem(f"returned {describe(obj)}; it must return {FORMS}")


def _numpy(a, what: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        t = a.detach().cpu()
        if t.is_complex():
            raise DataProblem(f"gave {what} of complex numbers; nnviz trains on real numbers")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return t.numpy()
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, int | float | bool | np.generic):
        return np.asarray(a)
    raise DataProblem(f"gave {what} as {describe(a)}; use tensors or numpy arrays")


def _tidy(a: np.ndarray, what: str, is_target: bool) -> np.ndarray:
    """Inputs: floats stay float (float64 kept), integers become int64 (token
    ids), booleans float. Targets: integers int64 (class indices), floats and
    booleans float32 (or float64)."""
    kind = a.dtype.kind
    if kind == "b":
        return a.astype(np.float32)
    if kind in "iu":
        return a.astype(np.int64, copy=False)
    if kind == "f":
        return a if a.dtype == np.float64 else a.astype(np.float32, copy=False)
    raise DataProblem(f"gave {what} of type {a.dtype}; use numbers (float or integer tensors)")


def _check_bytes(nbytes: float, where: str) -> None:
    if nbytes > MAX_DATA_BYTES:
        raise DataProblem(
            f"gave about {nbytes / 2**30:.1f} GB of {where}; nnviz reads the data into "
            f"memory and takes at most {MAX_DATA_BYTES / 2**30:.0f} GB: return a subset "
            "(e.g. torch.utils.data.Subset) or smaller inputs"
        )


def _pair(item, i: int) -> tuple:
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    raise DataProblem(
        f"gave a data set whose item {i} is {describe(item)}; "
        "each item must be an (input, target) pair"
    )


def _from_dataset(ds: TorchDataset, where: str) -> tuple[np.ndarray, np.ndarray]:
    tensors = getattr(ds, "tensors", None)  # TensorDataset: no need to go item by item
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return _numpy(tensors[0], "inputs"), _numpy(tensors[1], "targets")
    try:
        n = len(ds)  # type: ignore[arg-type]
    except TypeError:
        return _from_batches(iter(ds), where, rows_per_batch=1)  # an IterableDataset
    if n == 0:
        raise DataProblem(f"gave an empty data set for {where}")
    xs, ys = [], []
    for i in range(n):
        x, y = _pair(ds[i], i)
        x, y = _numpy(x, "inputs"), _numpy(y, "targets")
        if i == 0:
            _check_bytes((x.nbytes + y.nbytes) * n, where)
        elif x.shape != xs[0].shape:
            raise DataProblem(
                f"gave inputs of different shapes in {where} (item 0: {xs[0].shape}, "
                f"item {i}: {x.shape}); pad or crop them to one shape"
            )
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.stack(ys)


def _from_batches(batches, where: str, rows_per_batch: int | None = None):
    xs, ys, total = [], [], 0
    for i, batch in enumerate(batches):
        x, y = _pair(batch, i)
        x, y = _numpy(x, "inputs"), _numpy(y, "targets")
        if rows_per_batch == 1:  # items of an iterable data set: one row each
            x, y = x[None], y[None]
        total += x.nbytes + y.nbytes
        _check_bytes(total, where)
        if i >= MAX_BATCHES:
            raise DataProblem(
                f"gave more than {MAX_BATCHES:,} items or batches for {where} (an endless "
                "iterable?); return a data set with a length"
            )
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DataProblem(f"gave no batches for {where}")
    try:
        return np.concatenate(xs), np.concatenate(ys)
    except ValueError as exc:
        raise DataProblem(f"gave batches that do not stack ({exc}); use one input shape") from None


def _from_loader(loader: DataLoader, where: str) -> tuple[np.ndarray, np.ndarray]:
    ds = loader.dataset
    try:
        first = ds[0]  # type: ignore[index]
        n = len(ds)  # type: ignore[arg-type]
    except Exception:
        first, n = None, 0
    if first is not None and n:
        x0, y0 = _pair(first, 0)
        _check_bytes((_numpy(x0, "inputs").nbytes + _numpy(y0, "targets").nbytes) * n, where)
    return _from_batches(iter(loader), where)


def to_arrays(obj, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) numpy arrays from one part; runs the user's data set code."""
    if isinstance(obj, DataLoader):
        x, y = _from_loader(obj, where)
    elif isinstance(obj, TorchDataset):
        x, y = _from_dataset(obj, where)
    else:
        x, y = _numpy(obj[0], "inputs"), _numpy(obj[1], "targets")
        _check_bytes(x.nbytes + y.nbytes, where)
    x, y = _tidy(x, "inputs", False), _tidy(y, "targets", True)
    if x.ndim == 0 or y.ndim == 0:
        raise DataProblem(f"gave a single number as {where}'s inputs or targets, not rows")
    if len(x) != len(y):
        raise DataProblem(
            f"gave {len(x):,} inputs but {len(y):,} targets for {where}; "
            "each input needs one target"
        )
    if len(x) == 0:
        raise DataProblem(f"gave no rows for {where}")
    return x, y


def first_nonfinite(a: np.ndarray) -> tuple[int, int] | None:
    """(how many values are NaN/Inf, the first row with one), or None."""
    if a.dtype.kind != "f":
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    rows = bad.reshape(len(a), -1).any(1)
    return int(bad.sum()), int(np.argmax(rows))


def _check_finite(x: np.ndarray, y: np.ndarray, part: str) -> None:
    """NaN/Inf named with its row as ``data()`` gave it (before any split)."""
    for name, a in (("inputs", x), ("targets", y)):
        bad = first_nonfinite(a)
        if bad is not None:
            count, row = bad
            raise DataProblem(
                f"gave {count:,} NaN or infinite value{'s' if count != 1 else ''} in the "
                f"{part}{name} (the first in row {row}); drop those rows or replace them "
                "(e.g. torch.nan_to_num) before returning"
            )


def materialise(obj) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(x_train, y_train, x_val, y_val, held_out) from what ``data()`` returned;
    ``held_out``: the validation rows were taken from the training data."""
    train, val = split_parts(obj)
    x, y = to_arrays(train, "training" if val is not None else "the data")
    _check_finite(x, y, "training " if val is not None else "")
    if val is not None:
        xv, yv = to_arrays(val, "validation")
        _check_finite(xv, yv, "validation ")
        if xv.shape[1:] != x.shape[1:]:
            raise DataProblem(
                f"gave training inputs of shape {x.shape[1:]} but validation inputs of "
                f"shape {xv.shape[1:]}; both must have the same shape"
            )
        held_out = False
    elif len(x) < MIN_ROWS_TO_SPLIT:
        xv, yv, held_out = x, y, False
    else:
        x, y, xv, yv = split_rows(x, y, VAL_FRACTION, SPLIT_SEED)
        held_out = True
    return x, y, xv, yv, held_out
