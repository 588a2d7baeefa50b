"""MNIST-format IDX files (MNIST, Fashion-MNIST): reading and writing single
files, plain or gzip-compressed, and loading a folder of them as a
:class:`~nnviz.core.data_common.Dataset`."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nnviz.core.data_common import (
    DIGIT_CLASSES,
    Dataset,
    model_name_for,
    shape_text,
    split_rows,
)
from nnviz.core.errors import NnvizError

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {
    dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in _IDX_TYPES.items()
}
IDX_LABELS_MAGIC = 0x0801
IDX_IMAGES_MAGIC = 0x0803
_GZIP_MAGIC = b"\x1f\x8b"


MAX_IDX_BYTES = 2**31  # the most one IDX file may hold (MNIST's largest: 47 MB)
_PIECE = 2**20


def _os_error(path: Path, exc: OSError) -> NnvizError:
    if isinstance(exc, FileNotFoundError):
        return NnvizError(f"file not found: {path}; was it moved or deleted while reading?")
    if isinstance(exc, IsADirectoryError):
        return NnvizError(f"{path} is a folder, not an IDX file")
    if isinstance(exc, PermissionError):
        return NnvizError(f"cannot read {path}: permission denied; check the file's permissions")
    return NnvizError(f"cannot read {path}: {exc.strerror or exc}")


def _gzip_error(path: Path, exc: Exception) -> NnvizError:
    return NnvizError(
        f"{path} looks gzip-compressed but cannot be decompressed ({exc}); "
        "the download may be incomplete: fetch the file again"
    )


class _Reader:
    """Reads an IDX file's bytes, plain or gzip (sniffed from the content), a
    piece at a time: nothing is read beyond what the header promises, so a
    file or a gzip bomb cannot make us allocate more than the header allows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fh = open(path, "rb")  # noqa: SIM115 - closed in close()
            self.gzip = self.fh.read(2) == _GZIP_MAGIC
            self.fh.seek(0)
            self.size = os.fstat(self.fh.fileno()).st_size
        except OSError as exc:
            raise _os_error(path, exc) from None
        self.stream = gzip.GzipFile(fileobj=self.fh, mode="rb") if self.gzip else self.fh

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes, read a piece at a time: a read of ``n`` bytes at once
        would allocate ``n`` bytes first, however little the file holds."""
        parts, left = [], n
        while left > 0:
            part = self._read(min(left, _PIECE))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def _read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _gzip_error(self.path, exc) from None
        except OSError as exc:
            if self.gzip and exc.errno is None:
                raise _gzip_error(self.path, exc) from None
            raise _os_error(self.path, exc) from None

    def close(self) -> None:
        self.stream.close()
        self.fh.close()


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (MNIST's format), plain or gzip-compressed.

    Compression is detected from the content, not the name. The magic number
    (``0x0801`` for uint8 labels, ``0x0803`` for uint8 images) is checked
    against ``expected_magic`` when given, and the file's length against its
    header; a header promising more than :data:`MAX_IDX_BYTES` is refused
    before anything is allocated. Returns the array in native byte order.
    """
    path = Path(path)
    reader = _Reader(path)
    try:
        return _read_idx(reader, path, expected_magic)
    finally:
        reader.close()


def _read_idx(reader: _Reader, path: Path, expected_magic: int | None) -> np.ndarray:
    raw = reader.read(4)
    if len(raw) < 4:
        raise NnvizError(f"{path} is too short ({len(raw)} bytes) to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    what = {IDX_LABELS_MAGIC: "labels", IDX_IMAGES_MAGIC: "images"}
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        hint = (
            f"expected 0x{expected_magic:08x} ({what.get(expected_magic, 'IDX')})"
            if expected_magic is not None
            else "expected an IDX magic number such as 0x00000801 (labels) or 0x00000803 (images)"
        )
        raise NnvizError(f"{path} is not an IDX file: magic number is 0x{magic:08x}, {hint}")
    if expected_magic is not None and magic != expected_magic:
        raise NnvizError(
            f"{path} has magic number 0x{magic:08x} but 0x{expected_magic:08x} "
            f"({what.get(expected_magic, 'IDX')}) was expected; is it the right file?"
        )
    header = 4 + 4 * ndim
    dims_raw = reader.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        have = 4 + len(dims_raw)
        raise NnvizError(
            f"{path} is truncated: its header needs {header} bytes, the file has {have}"
        )
    dims = tuple(int.from_bytes(dims_raw[4 * i : 4 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    body = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    expected = header + body
    if expected > MAX_IDX_BYTES:
        raise NnvizError(
            f"{path} claims {shape_text(dims)} values ({expected:,} bytes); nnviz reads IDX "
            f"files of at most {MAX_IDX_BYTES:,} bytes: is the header damaged?"
        )
    if not reader.gzip and reader.size < expected:  # known without reading the body
        raise NnvizError(_length_message(path, dims, expected, reader.size))
    data = reader.read(body + 1)  # one byte more: is there more than promised?
    have = header + len(data)
    if have != expected:
        have = reader.size if not reader.gzip else have
        raise NnvizError(_length_message(path, dims, expected, have, more=have > expected))
    arr = np.frombuffer(data, dtype=dtype, count=math.prod(dims)).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _length_message(path: Path, dims, expected: int, have: int, more: bool = False) -> str:
    state = "longer than its header says" if more else "truncated"
    has = f"more than {expected}" if more and have <= expected + 1 else str(have)
    return (
        f"{path} is {state}: the header says {shape_text(dims)} values "
        f"({expected} bytes with the header) but the file has {has} bytes; "
        "fetch the file again"
    )


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _IDX_CODES.get(arr.dtype.newbyteorder("=") if arr.dtype.itemsize > 1 else arr.dtype)
    if code is None:
        raise NnvizError(
            f"IDX cannot store {arr.dtype}; use uint8, int8, int16, int32, float32 or float64"
        )
    if arr.ndim == 0 or arr.ndim > 255:
        raise NnvizError(f"IDX needs an array with 1 to 255 dimensions, not {arr.ndim}")
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    body = np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    data = head + body
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def idx_names(prefix: str, kind: str) -> list[str]:
    dim = "idx3" if kind == "images" else "idx1"
    return [f"{prefix}-{kind}{sep}{dim}-ubyte{ext}" for sep in ("-", ".") for ext in ("", ".gz")]


def find_idx(directory: Path, prefix: str, kind: str) -> Path | None:
    for folder in (directory, directory / "raw"):
        for name in idx_names(prefix, kind):
            if (folder / name).is_file():
                return folder / name
    return None


def _idx_images(path: Path, expected_shape: tuple[int, ...], needed_by: str) -> np.ndarray:
    images = read_idx(path, IDX_IMAGES_MAGIC)
    if images.shape[1:] != tuple(expected_shape):
        raise NnvizError(
            f"images are {shape_text(images.shape[1:])} but {needed_by} needs "
            f"{shape_text(expected_shape)} (in {path})"
        )
    return images


def _idx_labels(path: Path, n_classes: int) -> np.ndarray:
    labels = read_idx(path, IDX_LABELS_MAGIC).astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        raise NnvizError(
            f"labels must be 0..{n_classes - 1} ({n_classes} classes) but {path.name} has "
            f"{labels[bad[0]]} at position {bad[0]} ({bad.size} labels out of range); "
            "are these the right label files for this model?"
        )
    return labels


def _check_counts(images: np.ndarray, labels: np.ndarray, img_path: Path, lab_path: Path) -> None:
    if len(images) != len(labels):
        raise NnvizError(
            f"{img_path.name} has {len(images)} images but {lab_path.name} has "
            f"{len(labels)} labels; the two files must come from the same set"
        )


def load_idx_dir(
    directory: str | os.PathLike,
    val_fraction: float = 0.1,
    seed: int = 0,
    classes: Sequence[str] = DIGIT_CLASSES,
    expected_shape: tuple[int, ...] = (28, 28),
    *,
    needed_by: str | None = None,
) -> Dataset:
    """MNIST-format files in ``directory`` (or its ``raw/`` folder).

    Needs ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (also
    spelled ``train-images.idx3-ubyte``, each optionally ``.gz``); the
    ``t10k-*`` pair, when present, becomes ``x_test`` (ids ``"0"``..) with its
    labels in ``y_test``. ``needed_by`` names the model in size errors
    (guessed from ``classes`` when not given).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NnvizError(f"data folder not found: {directory}")
    who = model_name_for(needed_by, classes)
    img_path = find_idx(directory, "train", "images")
    lab_path = find_idx(directory, "train", "labels")
    if img_path is None or lab_path is None:
        missing = [k for k, p in (("images", img_path), ("labels", lab_path)) if p is None]
        looked = "; ".join(", ".join(idx_names("train", k)) for k in missing)
        raise NnvizError(
            f"no MNIST training {' or '.join(missing)} in {directory}: looked for {looked}"
        )
    x = _idx_images(img_path, expected_shape, who)
    y = _idx_labels(lab_path, len(classes))
    _check_counts(x, y, img_path, lab_path)
    if len(x) == 0:
        raise NnvizError(f"{img_path} holds no images")

    x_test = y_test = ids = None
    test_img = find_idx(directory, "t10k", "images")
    if test_img is not None:
        x_test = (_idx_images(test_img, expected_shape, who) / 255.0).astype(np.float32)
        ids = tuple(str(i) for i in range(len(x_test)))
        test_lab = find_idx(directory, "t10k", "labels")
        if test_lab is not None:
            y_test = _idx_labels(test_lab, len(classes))
            _check_counts(x_test, y_test, test_img, test_lab)

    x = (x / 255.0).astype(np.float32)
    x_tr, y_tr, x_va, y_va = split_rows(x, y, val_fraction, seed)
    note = f"IDX files in {directory}: {len(x)} training images"
    if x_test is not None:
        note += f", {len(x_test)} test images"
    return Dataset(
        directory.name or "idx",
        x_tr,
        y_tr,
        x_va,
        y_va,
        tuple(int(s) for s in expected_shape),
        classes=tuple(classes),
        x_test=x_test,
        test_ids=ids,
        note=note,
        y_test=y_test,
    )
