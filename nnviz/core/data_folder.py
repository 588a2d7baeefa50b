"""The seed-000 competition's folder format: ``train.csv`` (``id,label``) with
``<id>.png`` images, an optional ``test.csv``, and the predictions file
(``id,label``) written back. Pillow is imported only when images are read."""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from nnviz.core.data_common import (
    APPAREL_CLASSES,
    Dataset,
    few,
    model_name_for,
    shape_text,
    split_rows,
)
from nnviz.core.errors import NnvizError

MAX_IMAGE_PIXELS = 4096 * 4096  # checked from the header, before anything is decoded
MAX_CSV_BYTES = 256 * 2**20  # a train.csv of a million rows is ~10 MB


def _read_png(path: Path, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A grey image as float in [0, 1] (RGB/RGBA/palette images are converted).

    The size is read from the header first (Pillow opens lazily): an image of
    another size than ``expected_shape``, or of more than
    :data:`MAX_IMAGE_PIXELS`, is refused before it is decompressed."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            if expected_shape is not None and (h, w) != tuple(expected_shape):
                raise _SizeMismatch((h, w))
            if w * h > MAX_IMAGE_PIXELS:
                raise NnvizError(
                    f"image {path} declares {w}x{h} pixels, more than nnviz reads "
                    f"({MAX_IMAGE_PIXELS:,}); is the file damaged?"
                )
            im.load()
            if im.mode.startswith("I;16") or im.mode == "I":
                return np.clip(np.asarray(im, dtype=np.float64) / 65535.0, 0.0, 1.0)
            if im.mode == "F":
                return np.clip(np.asarray(im, dtype=np.float64), 0.0, 1.0)
            return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except (NnvizError, _SizeMismatch):
        raise
    except Image.DecompressionBombError:  # Image.open refuses past 2x its own limit
        raise NnvizError(
            f"image {path} declares more pixels than nnviz reads ({MAX_IMAGE_PIXELS:,}); "
            "is the file damaged?"
        ) from None
    except FileNotFoundError:
        raise NnvizError(
            f"image {path} is gone: was it moved or deleted while reading? put it back"
        ) from None
    except PermissionError:
        raise NnvizError(
            f"cannot read image {path}: permission denied; check the file's permissions"
        ) from None
    except MemoryError:
        raise NnvizError(f"image {path} is too large to read") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many kinds on bad bytes
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise NnvizError(
            f"cannot read image {path}: {why}; replace the file or remove its row"
        ) from None


class _SizeMismatch(Exception):
    """An image of another size than the model needs (found from its header)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        super().__init__(shape)
        self.shape = shape


def _read_csv(path: Path, need: Sequence[str]) -> list[dict[str, str]]:
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise NnvizError(
                f"{path} is larger than nnviz reads ({MAX_CSV_BYTES // 2**20} MB); "
                "is it the right file?"
            )
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
    except PermissionError:
        raise NnvizError(
            f"cannot read {path}: permission denied; check the file's permissions"
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise NnvizError(f"cannot read {path}: {why}") from None


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
            f"from {folder}: {few(missing)}"
        )
    out = np.empty((len(paths), *expected_shape), dtype=np.float32)
    for k, p in enumerate(paths):
        try:
            out[k] = _read_png(p, expected_shape)
        except _SizeMismatch as exc:
            raise NnvizError(
                f"images are {shape_text(exc.shape)} but {needed_by} needs "
                f"{shape_text(expected_shape)} (first: {p}); resize them to "
                f"{shape_text(expected_shape)} grey images"
            ) from None
    return out


def find_train_csv(directory: Path) -> Path | None:
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
    who = model_name_for(needed_by, classes)
    csv_path = find_train_csv(directory)
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

    x_tr, y_tr, x_va, y_va = split_rows(x, y, val_fraction, seed)
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


def write_predictions_csv(
    path: str | os.PathLike, ids: Iterable[str], labels: Iterable[int]
) -> Path:
    """Write ``id,label`` rows, one per prediction (the competition's submission file)."""
    path = Path(path)
    ids = [str(i) for i in ids]
    labels = [int(v) for v in np.asarray(list(labels)).reshape(-1)]
    if len(ids) != len(labels):
        raise NnvizError(f"cannot write predictions: {len(ids)} ids but {len(labels)} labels")
    # written to a temporary name beside it and renamed: a full disk or a crash
    # mid-write leaves the old file (if any) as it was, never half a file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.nnviz-tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "label"])
            writer.writerows(zip(ids, labels, strict=True))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise NnvizError(
            f"cannot write predictions to {path}: {exc.strerror or exc}; "
            "choose another file or folder (is the disk full?)"
        ) from None
    return path
