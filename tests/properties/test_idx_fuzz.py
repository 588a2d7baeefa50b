"""MNIST IDX files from outside: arbitrary bytes, truncations and mutations of
valid files give a valid array or NnvizError, never another exception, and a
header promising more than the file holds is refused before allocating."""

from __future__ import annotations

import contextlib
import gzip
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnviz.core import datasets as D
from nnviz.core.data_idx import MAX_IDX_BYTES
from nnviz.core.errors import NnvizError

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _valid_files() -> list[bytes]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    out = []
    for arr in (images, labels, rng.standard_normal((3, 4)).astype(np.float32)):
        head = bytes([0, 0, {np.uint8: 8, np.float32: 0x0D}[arr.dtype.type], arr.ndim])
        head += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
        body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
        out.append(head + body)
    return out


VALID = _valid_files()


def _read(tmp_path, data: bytes, compress: bool = False):
    path = tmp_path / "f-idx3-ubyte"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    try:
        arr = D.read_idx(path)
    except NnvizError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert isinstance(arr, np.ndarray) and arr.ndim >= 1
    return arr


@FUZZ
@given(data=st.binary(max_size=300), compress=st.booleans())
def test_arbitrary_bytes(tmp_path, data, compress):
    _read(tmp_path, data, compress)


@FUZZ
@given(which=st.sampled_from(range(len(VALID))), cut=st.integers(0, 10_000), gz=st.booleans())
def test_truncations(tmp_path, which, cut, gz):
    data = VALID[which]
    if gz:  # a cut-off download of a compressed file
        packed = gzip.compress(data, mtime=0)
        path = tmp_path / "t-idx1-ubyte.gz"
        path.write_bytes(packed[: cut % (len(packed) + 1)])
        with contextlib.suppress(NnvizError):
            D.read_idx(path)
        return
    arr = _read(tmp_path, data[: cut % (len(data) + 1)])
    assert arr is None or cut % (len(data) + 1) == len(data)


@FUZZ
@given(
    which=st.sampled_from(range(len(VALID))),
    edits=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=6),
    compress=st.booleans(),
)
def test_mutations_of_valid_files(tmp_path, which, edits, compress):
    data = bytearray(VALID[which])
    for pos, value in edits:  # the header and the first bytes: where the damage matters
        data[pos % len(data)] = value
    _read(tmp_path, bytes(data), compress)


@FUZZ
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8), gz=st.booleans())
def test_any_header_is_refused_before_allocating(tmp_path, dims, gz):
    """A header may claim anything (10⁹ images, dimensions multiplying past
    2⁶⁴): reading allocates about what the file holds, never what it claims."""
    head = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    data = head + bytes(64)
    tracemalloc.start()
    try:
        arr = _read(tmp_path, data, gz)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20
    if arr is not None:
        assert arr.size == 64


@pytest.mark.parametrize("gz", [False, True])
def test_a_billion_images_are_refused_before_anything_is_allocated(tmp_path, gz):
    head = bytes([0, 0, 8, 3]) + (10**9).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(head + bytes(1000)) if gz else head + bytes(1000))
    tracemalloc.start()
    try:
        with pytest.raises(NnvizError, match=r"1000000000x28x28.*at most"):
            D.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert MAX_IDX_BYTES < 10**9 * 28 * 28


def test_dimensions_multiplying_past_2_to_the_64_are_refused(tmp_path):
    """Issue 13: numpy's int64 product wrapped around and reshape crashed."""
    dims = [2**32 - 1] * 3  # product ≈ 2^96; wrapped in int64 it was small
    path = tmp_path / "wrap-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in dims))
    with pytest.raises(NnvizError, match="claims"):
        D.read_idx(path)


def test_a_gzip_bomb_is_not_decompressed_past_what_the_header_promises(tmp_path):
    head = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(head + bytes(200 * 2**20), compresslevel=9))  # 200 MB of 0s
    tracemalloc.start()
    try:
        with pytest.raises(NnvizError, match="longer than its header"):
            D.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
