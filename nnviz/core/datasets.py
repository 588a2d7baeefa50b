"""Data sets: 2-D toy sets, scikit-learn's digits, MNIST-format IDX files and
the seed-000 folder format (``train.csv`` with ``id,label`` + ``<id>.png``).

Every loader returns a :class:`Dataset` of numpy arrays; nothing is ever
downloaded. Bad files raise :class:`~nnviz.core.errors.NnvizError` with a
message that says what is wrong and what to do.

scikit-learn and Pillow are imported inside the functions that need them, so
``import nnviz.core`` stays fast.

The work is split by job: :mod:`~nnviz.core.data_common` (the ``Dataset``
type, the split), :mod:`~nnviz.core.data_synthetic` (toy sets, digits,
synthetic images), :mod:`~nnviz.core.data_idx` (IDX files) and
:mod:`~nnviz.core.data_folder` (``train.csv`` + PNGs); this module is the one
place to import them from, and picks the format of a user's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from nnviz.core.data_common import APPAREL_CLASSES, DIGIT_CLASSES, TOY_KINDS, Dataset
from nnviz.core.data_folder import (
    find_train_csv,
    load_image_folder,
    write_predictions_csv,
)
from nnviz.core.data_idx import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    find_idx,
    load_idx_dir,
    read_idx,
    write_idx,
)
from nnviz.core.data_synthetic import load_digits, synthetic_images, toy_2d
from nnviz.core.errors import NnvizError

__all__ = [
    "APPAREL_CLASSES",
    "DIGIT_CLASSES",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
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


def load_data_dir(directory: str | os.PathLike, **kw) -> Dataset:
    """Load MNIST-format IDX files or the seed-000 folder format, whichever is there.

    ``kw`` goes to :func:`load_idx_dir` or :func:`load_image_folder`
    (``val_fraction``, ``seed``, ``classes``, ``expected_shape``, ``needed_by``).
    A path to ``train.csv`` or to an IDX file is taken to mean its folder.
    """
    directory = Path(directory).expanduser()
    try:
        return _load_data_dir(directory, **kw)
    except OSError as exc:  # a folder that cannot be read, a file deleted mid-read, EIO
        raise _os_error(directory, exc) from None


def _os_error(directory: Path, exc: OSError) -> NnvizError:
    where = exc.filename or directory
    if isinstance(exc, PermissionError):
        return NnvizError(
            f"cannot read {where}: permission denied; make the data folder readable "
            f"(chmod -R u+rX {directory}) or copy it somewhere you can read"
        )
    if isinstance(exc, FileNotFoundError):
        return NnvizError(f"{where} is gone: was it moved or deleted while reading? try again")
    return NnvizError(f"cannot read {where}: {exc.strerror or exc}")


def _load_data_dir(directory: Path, **kw) -> Dataset:
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
    if find_idx(directory, "train", "images") or find_idx(directory, "train", "labels"):
        return load_idx_dir(directory, **kw)
    if find_train_csv(directory) is not None:
        return load_image_folder(directory, **kw)
    raise NnvizError(
        f"no data found in {directory}: expected MNIST IDX files "
        "(train-images-idx3-ubyte and train-labels-idx1-ubyte, optionally .gz) "
        "or a train.csv with columns id,label and the <id>.png images"
    )
