"""Errors in a user's own code (a model file), told in terms of their code.

:class:`UserCodeError` is an :class:`~nnviz.core.errors.NnvizError` whose message
names the file and line (``my_model.py, line 12: model() raised ValueError: …``)
and which carries the user's own traceback frames: frames in their file (or
their package) only, never ours or torch's. When the error was raised inside
torch, the last frame shown is the line of theirs that called it. The command
line prints the message and then :attr:`UserCodeError.detail`; the app shows
both in its error dialog.
"""

from __future__ import annotations

import ast
import contextlib
import linecache
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

from nnviz.core.errors import NnvizError

TRACEBACK_TITLE = "Traceback (your code, most recent call last):"
MAX_FRAMES = 12


class UserCodeError(NnvizError):
    """A model file failed; ``detail`` holds the user's own traceback frames."""

    def __init__(self, file: str, line: int | None, what: str, frames: tuple[str, ...] = ()):
        self.file, self.line, self.what, self.frames = file, line, what, tuple(frames)
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {what}")

    def __reduce__(self):  # picklable with its fields (it may cross to the window)
        return (type(self), (self.file, self.line, self.what, self.frames))

    @property
    def detail(self) -> str:
        """The lines printed after the message: the user's own frames, if any."""
        if not self.frames:
            return ""
        return "\n".join((TRACEBACK_TITLE, *self.frames))

    def full_text(self) -> str:
        return "\n".join(t for t in (str(self), self.detail) if t)


def full_text(exc: BaseException) -> str:
    """An error's message with a model file's own traceback frames, as the CLI prints it."""
    detail = getattr(exc, "detail", "")
    return f"{exc}\n{detail}" if detail else str(exc)


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(path))


class UserCode:
    """The files that are the user's, and how to show them.

    ``display`` is the file as the user named it (the message's first words);
    ``path`` the file itself; ``root``, for a module in a package, the
    package's folder (its other modules are the user's too).
    """

    def __init__(self, display: str, path: Path | None, root: Path | None = None) -> None:
        self.display = display
        self.path = Path(path) if path is not None else None
        self._file = _real(path) if path is not None else None
        self.root = Path(root) if root is not None else None
        self._root = _real(root) + os.sep if root is not None else None
        self._tree: ast.Module | None = None

    def is_theirs(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False
        real = _real(filename)
        return real == self._file or (self._root is not None and real.startswith(self._root))

    def shown(self, filename: str) -> str:
        """How a file is named in messages: as the user gave it, else relative to here."""
        if self._file is not None and _real(filename) == self._file:
            return self.display
        try:
            return os.path.relpath(filename)
        except ValueError:
            return filename

    # --- where things are defined -------------------------------------------------------

    def def_line(self, name: str) -> int | None:
        """The line where the file defines ``name`` at top level (def, class or
        assignment), found without running anything."""
        if self.path is None:
            return None
        if self._tree is None:
            try:
                self._tree = ast.parse(self.path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError):
                return None
        line = None
        for node in self._tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == name:
                    line = node.lineno
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    line = node.lineno
            elif isinstance(node, ast.ImportFrom | ast.Import) and any(
                (a.asname or a.name.split(".")[0]) == name for a in node.names
            ):
                line = node.lineno
        return line  # the last definition wins, as in Python

    # --- errors ---------------------------------------------------------------------------

    def frames(self, exc: BaseException) -> list[traceback.FrameSummary]:
        return [f for f in traceback.extract_tb(exc.__traceback__) if self.is_theirs(f.filename)]

    def error(self, exc: BaseException, what: str, at: str | None = None) -> UserCodeError:
        """``what`` (e.g. ``model() raised``) for ``exc``, at the user's deepest
        frame, else where ``at`` is defined."""
        if isinstance(exc, SyntaxError) and exc.filename and self.is_theirs(exc.filename):
            return self.syntax_error(exc)
        frames = self.frames(exc)
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        lines = [
            f'  File "{self.shown(f.filename)}", line {f.lineno}, in {f.name}'
            + (f"\n    {f.line.strip()}" if f.line else "")
            for f in frames[-MAX_FRAMES:]
        ]
        if frames and self._file is not None and _real(frames[-1].filename) == self._file:
            line = frames[-1].lineno
        elif frames:  # deepest in another module of their package: name that file
            f = frames[-1]
            return UserCodeError(
                f"{self.shown(f.filename)}", f.lineno, f"{what} {text}", tuple(lines)
            )
        else:
            line = self.def_line(at) if at else None
        return UserCodeError(self.display, line, f"{what} {text}", tuple(lines))

    def syntax_error(self, exc: SyntaxError) -> UserCodeError:
        line = exc.lineno
        text = exc.text or linecache.getline(exc.filename or "", line or 0)
        frames: tuple[str, ...] = ()
        if text:
            caret = ""
            if exc.offset:
                stripped = text.rstrip("\n")
                indent = len(stripped) - len(stripped.lstrip())
                caret = "\n    " + " " * max(0, exc.offset - 1 - indent) + "^"
            frames = (
                f'  File "{self.shown(exc.filename)}", line {line}\n    {text.strip()}{caret}',
            )
        kind = type(exc).__name__
        return UserCodeError(
            self.shown(exc.filename), line, f"{kind}: {exc.msg}; fix it and try again", frames
        )

    def at(self, name: str, what: str) -> UserCodeError:
        """A problem with what the file defines as ``name`` (no exception)."""
        return UserCodeError(self.display, self.def_line(name), what)

    @contextlib.contextmanager
    def calling(self, what: str, at: str | None = None) -> Iterator[None]:
        """Run user code: any exception becomes a :class:`UserCodeError`
        (``what`` says what was running; ``at`` names the definition to point
        at when the traceback has no frame of theirs)."""
        try:
            yield
        except NnvizError:
            raise
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit) as exc:  # sys.exit() in their file must not end ours
            raise self.error(exc, what, at) from exc
