"""Pictures of widgets, as PNG (raster) or SVG (vector): the one exporter.

Every picture the app writes (``nnviz render``, the graph's export, slides)
goes through :func:`save_widget`. It draws into a temporary file in the
target's own folder, checks what was written, and only then renames it into
place, so a reader never sees a half-written picture and a failure leaves the
old file (if any) as it was. Anything that stops the file from being written
(no such folder, a read-only one, a name too long, a full disk, ``/proc``)
raises :class:`~nnviz.core.errors.NnvizError` with one line that says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.errors import NnvizError

FORMATS = (".png", ".svg")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save_widget(widget: QtWidgets.QWidget, path: str | os.PathLike, title: str = "nnviz") -> Path:
    """Write what ``widget`` shows to ``path`` (``.png`` or ``.svg``); returns the path.

    The widget should be laid out at its final size (shown, or resized, and
    events processed). ``title`` is the SVG's title."""
    path = check_target(path, FORMATS)
    suffix = path.suffix.lower()
    tmp = _create_temporary(path)
    try:
        if suffix == ".png":
            _write_png(widget, tmp, path)
        else:
            _write_svg(widget, tmp, path, title)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _error(path: Path, exc: OSError) -> NnvizError:
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENAMETOOLONG:
        return NnvizError(f"cannot write {path}: the file name is too long; choose a shorter one")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NnvizError(f"cannot write {path}: {why}; choose a folder you can write to")
    return NnvizError(f"cannot write {path}: {why}; choose another file or folder")


def check_target(path: str | os.PathLike, formats: tuple[str, ...]) -> Path:
    """``path`` as a Path when a file of one of ``formats`` can be written there,
    else an NnvizError saying why (checked before any work, so a bad name fails at once)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in formats:
        names = " or ".join(formats)
        raise NnvizError(
            f"can only write {names} files, not {suffix or 'a name without one'!r} "
            f"({path.name}); end the name in {names}"
        )
    folder = path.parent
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise NnvizError(f"cannot write {path}: {folder} {why}; choose an existing folder")
    if not os.access(folder, os.W_OK):
        raise NnvizError(
            f"cannot write {path}: {folder} is read-only; choose a folder you can write to"
        )
    _check_name_length(path)
    return path


def _check_name_length(path: Path) -> None:
    try:
        limit = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows) or no answer
        limit = 255
    if len(os.fsencode(path.name)) > limit:
        raise NnvizError(
            f"cannot write {path.name[:40]}…: the file name is too long ({len(path.name)} "
            f"characters; this folder allows {limit}); choose a shorter one"
        )


def _create_temporary(path: Path) -> Path:
    """An empty file beside ``path`` with a short unique name (so a long target
    name cannot make it too long), created with the usual permissions."""
    tmp = path.with_name(f".{uuid.uuid4().hex[:12]}.nnviz-tmp{path.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise _error(path, exc) from None
    return tmp


def _written(tmp: Path, path: Path, n: int) -> bytes:
    """The first ``n`` bytes written (the last ``-n`` when negative)."""
    try:
        with open(tmp, "rb") as fh:
            if n >= 0:
                return fh.read(n)
            fh.seek(max(0, os.fstat(fh.fileno()).st_size + n))
            return fh.read()
    except OSError as exc:
        raise _error(path, exc) from None


def _write_png(widget: QtWidgets.QWidget, tmp: Path, path: Path) -> None:
    image = widget.grab()
    if image.isNull():
        raise NnvizError(f"cannot write {path}: the widget has nothing to draw (zero size?)")
    ok = image.save(str(tmp), "PNG")
    if not ok or _written(tmp, path, len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise NnvizError(f"cannot write {path}: the picture could not be saved (disk full?)")


def _write_svg(widget: QtWidgets.QWidget, tmp: Path, path: Path, title: str) -> None:
    from PySide6.QtSvg import QSvgGenerator  # ships with PySide6-Essentials

    size = widget.size()
    if size.isEmpty():
        raise NnvizError(f"cannot write {path}: the widget has nothing to draw (zero size)")
    gen = QSvgGenerator()
    gen.setFileName(str(tmp))
    gen.setSize(size)
    gen.setViewBox(QtCore.QRect(0, 0, size.width(), size.height()))
    gen.setTitle(title)
    painter = QtGui.QPainter()
    if not painter.begin(gen):
        raise NnvizError(f"cannot write {path}: the SVG file could not be opened")
    try:
        widget.render(painter, QtCore.QPoint(0, 0))
    finally:
        painter.end()  # a painter left active on the generator crashes Qt
    # QSvgGenerator reports no write errors: check the file holds a whole SVG
    if b"</svg>" not in _written(tmp, path, -64):
        raise NnvizError(f"cannot write {path}: the SVG was cut short (disk full?)")


__all__ = ["FORMATS", "save_widget"]
