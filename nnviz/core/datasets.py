"""Data sets: 2-D toy sets, scikit-learn's digits, MNIST-format IDX files and
the seed-000 folder format (``train.csv`` with ``id,label`` + ``<id>.png``).

Every loader returns a :class:`Dataset` of numpy arrays; nothing is ever
downloaded. Bad files raise :class:`~nnviz.core.errors.NnvizError` with a
message that says what is wrong and what to do.

scikit-learn and Pillow are imported inside the functions that need them, so
``import nnviz.core`` stays fast.
"""

from __future__ import annotations

import csv
import gzip
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnviz.core.errors import NnvizError

APPAREL_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
TOY_KINDS = ("circle", "xor", "gauss", "spiral")

__all__ = [
    "APPAREL_CLASSES",
    "DIGIT_CLASSES",
    "TOY_KINDS",
    "Dataset",
    "load_data_dir",
    "load_digits",
    "load_idx_dir",
    "load_image_folder",
    "read_idx",
    "synthetic_images",
    "toy_2d",
    "write_idx",
    "write_predictions_csv",
]


@dataclass(frozen=True)
class Dataset:
    """Arrays ready for training.

    ``x_*`` are float32 of shape ``(N, *input_shape)`` (images scaled to
    [0, 1]). For classification ``y_*`` are int64 class indices ``(N,)``;
    for a binary task with one sigmoid output they are float32 ``(N, 1)`` of
    0/1. ``x_test`` / ``test_ids`` hold inputs to predict (the seed-000
    competition's ``test.csv``, or MNIST's ``t10k`` files), if any;
    ``y_test`` holds their labels when the files have them (``t10k`` does,
    ``test.csv`` does not).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    input_shape: tuple[int, ...]
    classes: tuple[str, ...] = ()
    x_test: np.ndarray | None = None
    test_ids: tuple[str, ...] | None = None
    note: str = ""  # shown to the user, e.g. where the data came from
    y_test: np.ndarray | None = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def binary(self) -> bool:
        return self.y_train.ndim == 2 and self.y_train.shape[1] == 1


# --- shared helpers ----------------------------------------------------------------


def _check_fraction(val_fraction: float) -> None:
    if not 0.0 <= float(val_fraction) < 1.0:
        raise NnvizError(
            f"validation fraction must be at least 0 and below 1, not {val_fraction}; "
            "use e.g. 0.1 to hold out 10 %"
        )


def _split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and hold out ``val_fraction`` of the rows.

    The same seed always gives the same split; train and validation never share
    a row. With a positive fraction at least one row is held out and at least
    one is kept for training (when there are two or more).
    """
    _check_fraction(val_fraction)
    n = int(x.shape[0])
    n_val = int(round(n * float(val_fraction)))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _needed_by(needed_by: str | None, classes: Sequence[str]) -> str:
    if needed_by:
        return needed_by
    if tuple(classes) == APPAREL_CLASSES:
        return "apparel-mlp"
    if tuple(classes) == DIGIT_CLASSES:
        return "mnist-mlp"
    return "the model"


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def _few(names: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


# --- 2-D toy sets ------------------------------------------------------------------


def toy_2d(
    kind: str,
    n_samples: int = 400,
    noise: float = 0.1,
    val_fraction: float = 0.5,
    seed: int = 0,
) -> Dataset:
    """A two-class 2-D set made the way TensorFlow Playground makes it.

    ``kind`` is one of :data:`TOY_KINDS`. Points are generated in Playground's
    units (radius 5) and divided by 5, so they lie in about [-1, 1]².
    ``noise`` is Playground's noise slider as a fraction (its 0..50 % is
    0..0.5 here): for circle and xor each point's label is taken from a
    position jittered by up to ``noise`` x 5 units, so labels near the border
    flip; for gauss the blobs' variance grows from 0.5 (noise 0) to 4
    (noise 0.5); for spiral each point moves by up to ``noise`` units.
    ``y`` is float32 ``(N, 1)`` of 0/1; ``x_val``/``y_val`` are the test split
    (``val_fraction`` of the points), fixed by ``seed``.
    """
    if kind not in TOY_KINDS:
        raise NnvizError(f"unknown 2-D data set {kind!r}; choose one of {', '.join(TOY_KINDS)}")
    n_samples = int(n_samples)
    if n_samples < 4:
        raise NnvizError(f"a 2-D data set needs at least 4 points, not {n_samples}")
    noise = float(noise)
    if not 0.0 <= noise <= 1.0:
        raise NnvizError(
            f"noise must be between 0 and 1 (Playground's 0..50 % is 0..0.5), not {noise}"
        )
    _check_fraction(val_fraction)

    rng = np.random.default_rng(seed)
    half = n_samples // 2
    rest = n_samples - half
    if kind == "circle":
        radius = 5.0

        def ring(n: int, r_lo: float, r_hi: float) -> tuple[np.ndarray, np.ndarray]:
            r = rng.uniform(r_lo, r_hi, n)
            angle = rng.uniform(0, 2 * np.pi, n)
            pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
            jitter = rng.uniform(-radius, radius, (n, 2)) * noise
            label = np.linalg.norm(pts + jitter, axis=1) < radius * 0.5
            return pts, label

        p_in, l_in = ring(half, 0.0, radius * 0.5)
        p_out, l_out = ring(rest, radius * 0.7, radius)
        pts, label = np.concatenate([p_in, p_out]), np.concatenate([l_in, l_out])
    elif kind == "xor":
        pts = rng.uniform(-5, 5, (n_samples, 2))
        pts += np.where(pts > 0, 0.3, -0.3)  # Playground's padding off the axes
        jitter = rng.uniform(-5, 5, (n_samples, 2)) * noise
        moved = pts + jitter
        label = moved[:, 0] * moved[:, 1] >= 0
    elif kind == "gauss":
        variance = 0.5 + (4.0 - 0.5) * noise / 0.5
        std = np.sqrt(variance)
        pos = rng.normal(2.0, std, (half, 2))
        neg = rng.normal(-2.0, std, (rest, 2))
        pts = np.concatenate([pos, neg])
        label = np.r_[np.ones(half, bool), np.zeros(rest, bool)]
    else:  # spiral

        def arm(n: int, delta: float) -> np.ndarray:
            i = np.arange(n)
            r = i / n * 5.0
            t = 1.75 * i / n * 2 * np.pi + delta
            xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
            return xy + rng.uniform(-1, 1, (n, 2)) * noise

        pts = np.concatenate([arm(half, 0.0), arm(rest, np.pi)])
        label = np.r_[np.ones(half, bool), np.zeros(rest, bool)]

    x = (pts / 5.0).astype(np.float32)
    y = label.astype(np.float32).reshape(-1, 1)
    x_tr, y_tr, x_va, y_va = _split(x, y, val_fraction, seed)
    return Dataset(
        kind,
        x_tr,
        y_tr,
        x_va,
        y_va,
        (2,),
        classes=("0", "1"),
        note=f"{kind}: {n_samples} points, noise {noise:g}, {len(x_va)} held out for testing",
    )


# --- scikit-learn's digits -----------------------------------------------------------


def _resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` images to ``(N, size, size)`` (pixel centres aligned)."""

    def weights(n_in: int) -> np.ndarray:
        pos = (np.arange(size) + 0.5) * n_in / size - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = pos - lo
        m = np.zeros((size, n_in))
        m[np.arange(size), lo] += 1 - frac
        m[np.arange(size), hi] += frac
        return m

    rows, cols = weights(images.shape[1]), weights(images.shape[2])
    return np.einsum("ri,nij,cj->nrc", rows, images, cols)


def load_digits(val_fraction: float = 0.2, seed: int = 0, size: int = 8) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

    ``x`` is float32 ``(N, size, size)`` in [0, 1], ``y`` int64 ``(N,)``. With
    ``size=28`` every image is resized bilinearly to 28x28, an offline stand-in
    for MNIST (``note`` says so).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    size = int(size)
    if size < 1:
        raise NnvizError(f"digit image size must be positive, not {size}")
    bunch = sk_load_digits()
    x = np.asarray(bunch.images, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    note = "scikit-learn's bundled 8x8 digits (1,797 images)"
    if size != 8:
        x = _resize_bilinear(x, size)
        note = (
            f"no MNIST files given: using scikit-learn's bundled 8x8 digits resized to "
            f"{size}x{size} as an offline stand-in for MNIST (pass --data DIR for real MNIST)"
        )
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    x_tr, y_tr, x_va, y_va = _split(x, y, val_fraction, seed)
    name = "digits" if size == 8 else f"digits-{size}x{size}"
    return Dataset(name, x_tr, y_tr, x_va, y_va, (size, size), classes=DIGIT_CLASSES, note=note)


# --- IDX files (MNIST, Fashion-MNIST) ------------------------------------------------

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


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NnvizError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise NnvizError(f"{path} is a folder, not an IDX file") from None
    except OSError as exc:
        raise NnvizError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] == _GZIP_MAGIC:  # sniff: the name may say .gz or not
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise NnvizError(
                f"{path} looks gzip-compressed but cannot be decompressed ({exc}); "
                "the download may be incomplete: fetch the file again"
            ) from None
    return raw


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (MNIST's format), plain or gzip-compressed.

    Compression is detected from the content, not the name. The magic number
    (``0x0801`` for uint8 labels, ``0x0803`` for uint8 images) is checked
    against ``expected_magic`` when given, and the file's length against its
    header. Returns the array in native byte order.
    """
    path = Path(path)
    raw = _read_bytes(path)
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
    if len(raw) < header:
        raise NnvizError(
            f"{path} is truncated: its header needs {header} bytes, the file has {len(raw)}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise NnvizError(
            f"{path} is {state}: the header says {_shape_text(dims)} values "
            f"({expected} bytes with the header) but the file has {len(raw)} bytes; "
            "fetch the file again"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


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


def _idx_names(prefix: str, kind: str) -> list[str]:
    dim = "idx3" if kind == "images" else "idx1"
    return [f"{prefix}-{kind}{sep}{dim}-ubyte{ext}" for sep in ("-", ".") for ext in ("", ".gz")]


def _find_idx(directory: Path, prefix: str, kind: str) -> Path | None:
    for folder in (directory, directory / "raw"):
        for name in _idx_names(prefix, kind):
            if (folder / name).is_file():
                return folder / name
    return None


def _idx_images(path: Path, expected_shape: tuple[int, ...], needed_by: str) -> np.ndarray:
    images = read_idx(path, IDX_IMAGES_MAGIC)
    if images.shape[1:] != tuple(expected_shape):
        raise NnvizError(
            f"images are {_shape_text(images.shape[1:])} but {needed_by} needs "
            f"{_shape_text(expected_shape)} (in {path})"
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
    who = _needed_by(needed_by, classes)
    img_path = _find_idx(directory, "train", "images")
    lab_path = _find_idx(directory, "train", "labels")
    if img_path is None or lab_path is None:
        missing = [k for k, p in (("images", img_path), ("labels", lab_path)) if p is None]
        looked = "; ".join(", ".join(_idx_names("train", k)) for k in missing)
        raise NnvizError(
            f"no MNIST training {' or '.join(missing)} in {directory}: looked for {looked}"
        )
    x = _idx_images(img_path, expected_shape, who)
    y = _idx_labels(lab_path, len(classes))
    _check_counts(x, y, img_path, lab_path)
    if len(x) == 0:
        raise NnvizError(f"{img_path} holds no images")

    x_test = y_test = ids = None
    test_img = _find_idx(directory, "t10k", "images")
    if test_img is not None:
        x_test = (_idx_images(test_img, expected_shape, who) / 255.0).astype(np.float32)
        ids = tuple(str(i) for i in range(len(x_test)))
        test_lab = _find_idx(directory, "t10k", "labels")
        if test_lab is not None:
            y_test = _idx_labels(test_lab, len(classes))
            _check_counts(x_test, y_test, test_img, test_lab)

    x = (x / 255.0).astype(np.float32)
    x_tr, y_tr, x_va, y_va = _split(x, y, val_fraction, seed)
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


# --- the seed-000 folder format -------------------------------------------------------


def _read_png(path: Path) -> np.ndarray:
    """A grey image as float in [0, 1] (RGB/RGBA/palette images are converted)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I;16") or im.mode == "I":
                return np.clip(np.asarray(im, dtype=np.float64) / 65535.0, 0.0, 1.0)
            if im.mode == "F":
                return np.clip(np.asarray(im, dtype=np.float64), 0.0, 1.0)
            return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise NnvizError(
            f"cannot read image {path}: {exc}; replace the file or remove its row"
        ) from None


def _read_csv(path: Path, need: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            missing = [c for c in need if c not in header]
            if missing:
                found = ",".join(reader.fieldnames or []) or "nothing"
                raise NnvizError(
                    f"{path} needs a header line with columns {','.join(need)}; "
                    f"its first line is {found!r} (missing {', '.join(missing)})"
                )
            rows = []
            for row in reader:
                clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
                if any(clean.values()):
                    rows.append(clean)
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NnvizError(f"cannot read {path}: {exc}") from None


def _pick_image_dir(ids: Sequence[str], candidates: Sequence[Path]) -> Path | None:
    """The candidate folder holding most of the first listed images, if any holds one."""
    sample = ids[:20]
    best, best_hits = None, 0
    for folder in candidates:
        if not folder.is_dir():
            continue
        hits = sum((folder / _png_name(i)).is_file() for i in sample)
        if hits > best_hits:
            best, best_hits = folder, hits
    return best


def _png_name(image_id: str) -> str:
    return image_id if image_id.lower().endswith(".png") else f"{image_id}.png"


def _load_pngs(
    csv_path: Path,
    ids: Sequence[str],
    candidates: Sequence[Path],
    expected_shape: tuple[int, ...],
    needed_by: str,
) -> np.ndarray:
    folder = _pick_image_dir(ids, candidates)
    if folder is None:
        where = ", ".join(str(c) for c in dict.fromkeys(candidates))
        raise NnvizError(
            f"none of the {len(ids)} images listed in {csv_path.name} were found, "
            f"e.g. {_png_name(ids[0])} (looked in {where}); put the <id>.png files "
            "in an images/ or train/ folder beside the csv"
        )
    paths = [folder / _png_name(i) for i in ids]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise NnvizError(
            f"{len(missing)} of the {len(ids)} images listed in {csv_path.name} are missing "
            f"from {folder}: {_few(missing)}"
        )
    out = np.empty((len(paths), *expected_shape), dtype=np.float32)
    for k, p in enumerate(paths):
        img = _read_png(p)
        if img.shape != tuple(expected_shape):
            raise NnvizError(
                f"images are {_shape_text(img.shape)} but {needed_by} needs "
                f"{_shape_text(expected_shape)} (first: {p}); resize them to "
                f"{_shape_text(expected_shape)} grey images"
            )
        out[k] = img
    return out


def _find_train_csv(directory: Path) -> Path | None:
    for p in (directory / "train.csv", directory / "train" / "train.csv"):
        if p.is_file():
            return p
    return None


def load_image_folder(
    directory: str | os.PathLike,
    val_fraction: float = 0.1,
    seed: int = 0,
    classes: Sequence[str] = APPAREL_CLASSES,
    expected_shape: tuple[int, ...] = (28, 28),
    *,
    needed_by: str | None = None,
) -> Dataset:
    """The seed-000 competition's format: ``train.csv`` (``id,label``) and ``<id>.png``.

    ``train.csv`` sits in ``directory`` or ``directory/train/``; the images in
    ``images/``, ``train/`` or beside the csv. Labels are class indices (or
    class names). An optional ``test.csv`` (``id`` column; in ``directory``,
    ``directory/test/`` or beside ``train.csv``) with its images in ``test/``,
    ``images/`` or beside it becomes ``x_test``/``test_ids`` for the
    predictions file. Colour images are converted to grey.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NnvizError(f"data folder not found: {directory}")
    who = _needed_by(needed_by, classes)
    csv_path = _find_train_csv(directory)
    if csv_path is None:
        raise NnvizError(
            f"no train.csv in {directory} (looked for {directory / 'train.csv'} and "
            f"{directory / 'train' / 'train.csv'}); it needs the columns id,label"
        )
    rows = _read_csv(csv_path, ("id", "label"))
    if not rows:
        raise NnvizError(f"{csv_path} lists no images; add rows of id,label")
    n_classes = len(classes)
    by_name = {c.lower(): i for i, c in enumerate(classes)}
    ids, labels, bad = [], [], []
    for line, row in enumerate(rows, start=2):
        ids.append(row["id"])
        text = row["label"]
        try:
            value = int(text)
        except ValueError:
            value = by_name.get(text.lower(), -1)
        if not 0 <= value < n_classes:
            bad.append((line, text))
        labels.append(value)
    if bad:
        line, text = bad[0]
        raise NnvizError(
            f"labels in {csv_path.name} must be 0..{n_classes - 1} ({n_classes} classes) "
            f"but line {line} has {text!r} ({len(bad)} bad labels)"
        )
    if any(not i for i in ids):
        raise NnvizError(f"{csv_path} has a row with an empty id")

    base = csv_path.parent
    candidates = [base / "images", base / "train", base]
    x = _load_pngs(csv_path, ids, candidates, expected_shape, who)
    y = np.asarray(labels, dtype=np.int64)

    x_test = test_ids = None
    test_csv = next(
        (
            p
            for p in (directory / "test.csv", directory / "test" / "test.csv", base / "test.csv")
            if p.is_file()
        ),
        None,
    )
    if test_csv is not None:
        test_rows = _read_csv(test_csv, ("id",))
        if test_rows:
            test_ids = tuple(r["id"] for r in test_rows)
            tb = test_csv.parent
            x_test = _load_pngs(
                test_csv, test_ids, [tb / "test", tb / "images", tb], expected_shape, who
            )

    x_tr, y_tr, x_va, y_va = _split(x, y, val_fraction, seed)
    note = f"{csv_path}: {len(x)} training images"
    if x_test is not None:
        note += f", {len(x_test)} test images from {test_csv.name}"
    return Dataset(
        directory.name or "images",
        x_tr,
        y_tr,
        x_va,
        y_va,
        tuple(int(s) for s in expected_shape),
        classes=tuple(classes),
        x_test=x_test,
        test_ids=test_ids,
        note=note,
    )


def load_data_dir(directory: str | os.PathLike, **kw) -> Dataset:
    """Load MNIST-format IDX files or the seed-000 folder format, whichever is there.

    ``kw`` goes to :func:`load_idx_dir` or :func:`load_image_folder`
    (``val_fraction``, ``seed``, ``classes``, ``expected_shape``, ``needed_by``).
    A path to ``train.csv`` or to an IDX file is taken to mean its folder.
    """
    directory = Path(directory).expanduser()
    if directory.is_file():
        name = directory.name
        if name == "train.csv" or "idx" in name:
            directory = directory.parent
        else:
            raise NnvizError(f"{directory} is a file; pass the folder that holds the data")
    if not directory.exists():
        raise NnvizError(
            f"data folder not found: {directory}; pass a folder with MNIST IDX files "
            "or a train.csv (id,label) and its <id>.png images"
        )
    if not directory.is_dir():
        raise NnvizError(f"{directory} is not a folder")
    if _find_idx(directory, "train", "images") or _find_idx(directory, "train", "labels"):
        return load_idx_dir(directory, **kw)
    if _find_train_csv(directory) is not None:
        return load_image_folder(directory, **kw)
    raise NnvizError(
        f"no data found in {directory}: expected MNIST IDX files "
        "(train-images-idx3-ubyte and train-labels-idx1-ubyte, optionally .gz) "
        "or a train.csv with columns id,label and the <id>.png images"
    )


def write_predictions_csv(
    path: str | os.PathLike, ids: Iterable[str], labels: Iterable[int]
) -> Path:
    """Write ``id,label`` rows, one per prediction (the competition's submission file)."""
    path = Path(path)
    ids = [str(i) for i in ids]
    labels = [int(v) for v in np.asarray(list(labels)).reshape(-1)]
    if len(ids) != len(labels):
        raise NnvizError(f"cannot write predictions: {len(ids)} ids but {len(labels)} labels")
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "label"])
            writer.writerows(zip(ids, labels, strict=True))
    except OSError as exc:
        raise NnvizError(f"cannot write predictions to {path}: {exc.strerror or exc}") from None
    return path


# --- synthetic images for tests and benchmarks --------------------------------------------


def synthetic_images(
    n: int, shape: tuple[int, ...] = (28, 28), n_classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images of ``n_classes`` patterns: float32 in [0, 1] and int64 labels.

    Each class is a fixed blocky pattern (the same for every ``seed``, so sets
    made with different seeds share their classes) plus per-image noise and
    brightness; a small MLP separates them in a few epochs. Labels are
    balanced and shuffled.
    """
    n, n_classes = int(n), int(n_classes)
    if n < 0 or n_classes < 1:
        raise NnvizError(f"need n >= 0 and at least one class, not n={n}, n_classes={n_classes}")
    h = int(shape[0])
    w = int(shape[1]) if len(shape) > 1 else 1
    protos_small = np.random.default_rng(1234).random((n_classes, 7, 7)) > 0.5
    rows = np.arange(h) * 7 // h
    cols = np.arange(w) * 7 // w
    protos = protos_small[:, rows][:, :, cols].astype(np.float32)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    bright = rng.uniform(0.6, 0.9, (n, 1, 1)).astype(np.float32)
    x = protos[y] * bright + rng.normal(0.1, 0.12, (n, h, w)).astype(np.float32)
    x = np.clip(x, 0.0, 1.0).astype(np.float32).reshape(n, *shape)
    return x, y
