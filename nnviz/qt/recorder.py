"""Record the next N seconds of a view (or the whole window) to a GIF or MP4.

A timer on the GUI thread grabs what the widget shows, ``fps`` times a
second, for ``seconds`` seconds: the frames are what the user saw, training
or not. Frames are kept at most :data:`MAX_WIDTH` pixels wide and a recording
lasts at most :data:`MAX_SECONDS`, so memory stays bounded. When the last frame
is taken the file is written on a plain thread (no widget is touched there)
through :func:`nnviz.qt.animated_export.write_animation`: a temporary name,
renamed when whole. ``finished(path)`` or ``failed(message)`` says how it
ended; ``progress(done, total)`` counts frames.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from nnviz.core.errors import NnvizError
from nnviz.qt.animated_export import check_target, write_animation
from nnviz.qt.animated_stage import _Grabbed, even_size, grab_frame

RECORD_FPS = 10
MAX_SECONDS = 30
MAX_WIDTH = 960  # 30 s at 10 fps of 960x540 frames: about 470 MB held before writing


class ViewRecorder(QtCore.QObject):
    progress = QtCore.Signal(int, int)  # frames taken, frames in all
    finished = QtCore.Signal(object)  # the Path written
    failed = QtCore.Signal(str)  # one line: what went wrong and what to do
    _written = QtCore.Signal(object, str)  # from the writing thread: (path, error)

    def __init__(self, widget, path, seconds: float, fps: int = RECORD_FPS, parent=None):
        super().__init__(parent)
        if not 0 < seconds <= MAX_SECONDS:
            raise NnvizError(f"cannot record {seconds:g} s; choose 1 to {MAX_SECONDS} seconds")
        self.path = check_target(path)  # a bad name fails before anything is recorded
        self.widget = widget
        self.fps = fps
        self.total = max(2, round(seconds * fps))
        self.frames: list = []
        self._size: QtCore.QSize | None = None
        self._thread: threading.Thread | None = None
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(round(1000 / fps))
        self.timer.timeout.connect(self._tick)
        self._written.connect(self._done)

    @property
    def recording(self) -> bool:
        return self.timer.isActive()

    @property
    def busy(self) -> bool:
        return self.recording or (self._thread is not None and self._thread.is_alive())

    def start(self) -> None:
        self._tick()
        self.timer.start()

    def cancel(self) -> None:
        if self.recording:
            self.timer.stop()
            self.frames.clear()
            self.failed.emit("Recording cancelled: nothing was written")

    def _tick(self) -> None:
        try:
            self.frames.append(self._grab())
        except NnvizError as exc:
            self.timer.stop()
            self.frames.clear()
            self.failed.emit(str(exc))
            return
        self.progress.emit(len(self.frames), self.total)
        if len(self.frames) >= self.total:
            self.timer.stop()
            self._write()

    def _grab(self):
        w = self.widget
        if self._size is None:
            width, height = w.width(), w.height()
            if width > MAX_WIDTH:
                width, height = MAX_WIDTH, round(height * MAX_WIDTH / width)
            self._size = QtCore.QSize(*even_size((width, height)))
        if w.size() == self._size:
            return grab_frame(w)
        # resized while recording, or scaled down: every frame the first one's size
        pix = w.grab().scaled(
            self._size,
            QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
            QtCore.Qt.TransformationMode.SmoothTransformation,
        )
        return grab_frame(_Grabbed(pix))

    def _write(self) -> None:
        frames, self.frames = self.frames, []

        def work() -> None:
            try:
                self._written.emit(write_animation(frames, self.path, self.fps), "")
            except NnvizError as exc:
                self._written.emit(None, str(exc))
            except Exception as exc:  # the encoder may raise anything: say so, never hang
                self._written.emit(None, f"cannot write {self.path}: {exc}")

        self._thread = threading.Thread(target=work, name="nnviz-record-write", daemon=True)
        self._thread.start()

    def _done(self, path, error: str) -> None:
        if self._thread is not None:
            self._thread.join()
        if error:
            self.failed.emit(error)
        else:
            self.finished.emit(path)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the file is written (tests, closing the window)."""
        if self._thread is not None:
            self._thread.join(timeout)


# --- the window's menu entry --------------------------------------------------------------------


def record_view(window, name: str | None, seconds: float, path) -> ViewRecorder:
    """Record ``seconds`` of the view ``name`` (None: the whole window) to
    ``path``, with a progress dialog; errors go to the window's error box."""
    widget = window.export_target(name)
    rec = ViewRecorder(widget, Path(path), seconds, parent=window)
    dialog = QtWidgets.QProgressDialog(
        f"Recording {seconds:g} s to {Path(path).name}…", "Cancel", 0, rec.total, window
    )
    dialog.setObjectName("record_progress")
    dialog.setWindowTitle("Recording")
    dialog.setWindowModality(QtCore.Qt.WindowModality.NonModal)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setMinimumDuration(0)
    dialog.canceled.connect(rec.cancel)

    def progress(done: int, total: int) -> None:
        dialog.setValue(done)
        if done >= total:
            dialog.setLabelText(f"Writing {Path(path).name}…")
            dialog.setCancelButton(None)

    def finished(out) -> None:
        dialog.close()
        status = getattr(window, "status_step", None)
        if status is not None:
            status.show_message(f"Recorded {out}", 10)

    def failed(message: str) -> None:
        dialog.close()
        if not message.startswith("Recording cancelled"):
            window.on_error(message, "")

    rec.progress.connect(progress)
    rec.finished.connect(finished)
    rec.failed.connect(failed)
    dialog.show()
    window._recorder = rec  # kept alive while it records
    rec.start()
    return rec


def ask_and_record(window) -> ViewRecorder | None:
    """The menu entry: which view, how many seconds, which file; then record."""
    old = getattr(window, "_recorder", None)
    if old is not None and old.busy:
        window.on_error("A recording is already running; wait for it to finish", "")
        return None
    from nnviz.qt.views import BY_NAME

    names = [n for n, v in window.views.items() if v.isVisible()]
    titles = ["The whole window"] + [BY_NAME[n].title for n in names]
    under = window.view_under_mouse()
    current = names.index(under) + 1 if under in names else 0
    title, ok = QtWidgets.QInputDialog.getItem(
        window, "Record a view", "What to record:", titles, current, False
    )
    if not ok:
        return None
    name = None if title == titles[0] else names[titles.index(title) - 1]
    seconds, ok = QtWidgets.QInputDialog.getInt(
        window, "Record a view", "Record the next N seconds:", 5, 1, MAX_SECONDS
    )
    if not ok:
        return None
    path, chosen = QtWidgets.QFileDialog.getSaveFileName(
        window,
        "Save recording",
        f"nnviz-{name or 'window'}.gif",
        "GIF animation (*.gif);;MP4 video (*.mp4)",
    )
    if not path:
        return None
    if Path(path).suffix.lower() not in (".gif", ".mp4"):
        path += ".mp4" if "mp4" in chosen else ".gif"
    try:
        return record_view(window, name, seconds, path)
    except NnvizError as exc:
        window.on_error(str(exc), "")
        return None


__all__ = ["MAX_SECONDS", "RECORD_FPS", "ViewRecorder", "ask_and_record", "record_view"]
