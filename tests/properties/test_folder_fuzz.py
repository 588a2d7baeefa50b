"""The train.csv + PNG folders from outside: arbitrary and damaged CSV and PNG
bytes give a data set or NnvizError, never another exception; an image's size
is checked from its header before it is decompressed; unreadable folders and
files deleted while reading say so in one line."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nnviz.core import datasets as D
from nnviz.core.errors import NnvizError

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _png(shape=(28, 28), mode="L", value=128) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (shape[1], shape[0]), value).save(buf, "PNG")
    return buf.getvalue()


VALID_PNG = _png()


def _folder(tmp_path, csv: bytes, images: dict[str, bytes]):
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for p in folder.iterdir():
        p.unlink()
    (folder / "train.csv").write_bytes(csv)
    for name, data in images.items():
        (folder / name).write_bytes(data)
    return folder


def _load(folder):
    try:
        ds = D.load_data_dir(folder, seed=0, classes=D.APPAREL_CLASSES)
    except NnvizError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert ds.x_train.shape[1:] == (28, 28)
    assert np.isfinite(ds.x_train).all()
    assert ((ds.y_train >= 0) & (ds.y_train < 10)).all()
    return ds


@FUZZ
@given(csv=st.binary(max_size=200))
def test_arbitrary_csv_bytes(tmp_path, csv):
    _load(_folder(tmp_path, csv, {"1.png": VALID_PNG, "2.png": VALID_PNG}))


csv_text = st.lists(
    st.tuples(st.sampled_from(["1", "2", "3", "", "x", "../1", "1.png"]),
              st.sampled_from(["0", "9", "10", "-1", "Bag", "bag", "", "1e3", "٣"])),
    max_size=6,
).map(lambda rows: "id,label\n" + "".join(f"{i},{lab}\n" for i, lab in rows))  # fmt: skip


@FUZZ
@given(csv=csv_text)
def test_csv_rows_of_any_ids_and_labels(tmp_path, csv):
    _load(_folder(tmp_path, csv.encode(), {"1.png": VALID_PNG, "2.png": VALID_PNG}))


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_image_bytes(tmp_path, data):
    _load(_folder(tmp_path, b"id,label\n1,0\n", {"1.png": data}))


@FUZZ
@given(
    cut=st.integers(0, len(VALID_PNG)),
    edits=st.lists(st.tuples(st.integers(0, len(VALID_PNG) - 1), st.integers(0, 255)), max_size=4),
)
def test_truncated_and_mutated_pngs(tmp_path, cut, edits):
    data = bytearray(VALID_PNG[:cut] if cut < len(VALID_PNG) else VALID_PNG)
    for pos, value in edits:
        if data:
            data[pos % len(data)] = value
    _load(_folder(tmp_path, b"id,label\n1,0\n", {"1.png": bytes(data)}))


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (its data is a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(30000, 30000), (28, 30000), (5000, 5000), (29, 28)])
def test_an_image_of_the_wrong_size_is_refused_from_its_header(tmp_path, size):
    """Issue 13: a PNG declaring 30000x30000 ended in DecompressionBombError."""
    folder = _folder(tmp_path, b"id,label\n1,0\n", {"1.png": _png_declaring(*size)})
    tracemalloc.start()
    try:
        with pytest.raises(NnvizError, match=rf"images are {size[1]}x{size[0]} but|declares"):
            D.load_data_dir(folder, classes=D.APPAREL_CLASSES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


def test_a_huge_image_is_refused_before_decoding_even_when_any_size_would_do(tmp_path):
    from nnviz.core.data_folder import _read_png

    path = tmp_path / "big.png"
    path.write_bytes(_png_declaring(30000, 30000))
    with pytest.raises(NnvizError, match="declares more pixels than nnviz reads"):
        _read_png(path)
    path.write_bytes(_png_declaring(5000, 5000))
    with pytest.raises(NnvizError, match="declares 5000x5000 pixels"):
        _read_png(path)


def test_a_one_sample_data_set_trains_and_evaluates(tmp_path):
    """Issue 13: one image left no validation set, and evaluating it divided by zero."""
    from nnviz.core.engine import TrainConfig, Trainer
    from nnviz.core.scenarios import get_scenario

    folder = _folder(tmp_path, b"id,label\n1,3\n", {"1.png": VALID_PNG})
    sc = get_scenario("apparel-mlp")
    t = Trainer(sc, TrainConfig.for_scenario(sc, seed=0), data_dir=folder)
    for _ in range(3):
        t.step()
    ev = t.evaluate()
    assert np.isfinite(ev.train_loss) and ev.train_accuracy in (0.0, 1.0)
    assert np.isnan(ev.val_loss) and ev.val_accuracy is None


def test_an_unreadable_folder_says_so(tmp_path, monkeypatch):
    """Issue 13: a folder the user cannot read (as a non-root user) gave a
    PermissionError traceback. Root reads everything, so the denial is simulated."""
    from pathlib import Path

    folder = _folder(tmp_path, b"id,label\n1,0\n", {"1.png": VALID_PNG})
    real = Path.stat

    def denied(self, *a, **k):
        if self.parent == folder and self.name != "train.csv" or self.name == "raw":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "stat", denied)
    with pytest.raises(NnvizError, match="permission denied.*readable"):
        D.load_data_dir(folder, classes=D.APPAREL_CLASSES)


def test_an_unreadable_image_or_csv_says_so(tmp_path, monkeypatch):
    import builtins

    folder = _folder(tmp_path, b"id,label\n1,0\n", {"1.png": VALID_PNG})
    real_open = builtins.open

    def denied(path, *a, **k):
        if str(path).endswith(("train.csv", "1.png")):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(NnvizError, match="permission denied"):
        D.load_data_dir(folder, classes=D.APPAREL_CLASSES)


def test_a_file_deleted_while_reading_says_so(tmp_path, monkeypatch):
    """The images are listed, then one disappears before it is opened."""
    from nnviz.core import data_folder

    folder = _folder(tmp_path, b"id,label\n1,0\n2,1\n", {"1.png": VALID_PNG, "2.png": VALID_PNG})
    real = data_folder._read_png

    def vanishing(path, *a, **k):
        if path.name == "2.png":
            path.unlink()
        return real(path, *a, **k)

    monkeypatch.setattr(data_folder, "_read_png", vanishing)
    with pytest.raises(NnvizError, match="2.png is gone"):
        D.load_data_dir(folder, classes=D.APPAREL_CLASSES)


def test_an_idx_file_deleted_while_reading_says_so(tmp_path, monkeypatch):
    from nnviz.core import data_idx
    from tests.factories import make_idx_dir

    folder = make_idx_dir(tmp_path / "idx", n_train=20, n_test=0)
    real = data_idx.read_idx

    def vanishing(path, *a, **k):
        path.unlink()
        return real(path, *a, **k)

    monkeypatch.setattr(data_idx, "read_idx", vanishing)
    with pytest.raises(NnvizError, match="moved or deleted"):
        D.load_data_dir(folder)
