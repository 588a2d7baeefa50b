"""The offscreen stage an animation's frames are taken from: the views an
animation shows, laid out as ``nnviz render`` lays them out, with a caption
line for the teaching pace's sweep ("forward: layer 2 of 3")."""

from __future__ import annotations

import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.qt.theme import Theme

VIEW_NAMES = {
    "network": ["network"],
    "boundary": ["boundary"],
    "loss": ["loss"],
    "all": ["network", "boundary", "loss"],
}


def grab_frame(widget) -> np.ndarray:
    """What ``widget`` shows, as an (H, W, 3) uint8 array."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    if w == 0 or h == 0:
        raise NnvizError("the view has nothing to draw (zero size?); show it first")
    raw = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """MP4 (yuv420p) needs even sides."""
    return max(2, int(size[0]) // 2 * 2), max(2, int(size[1]) // 2 * 2)


def stage_theme(theme_name: str, presenter: bool, size: tuple[int, int]) -> Theme:
    """The theme frames are drawn in: at the presenter's scale for a screen as
    tall as a frame when ``presenter``."""
    from nnviz.qt.theme import get_theme, presenter_scale

    theme = get_theme(theme_name)
    return theme.scaled(presenter_scale(size[1])) if presenter else theme


class Stage:
    def __init__(self, app, theme: Theme, history, info, view: str, size, caption=False):
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QFont
        from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

        from nnviz.qt.theme import font_pt
        from nnviz.qt.views import make_views

        names = list(VIEW_NAMES[view])
        if info.points is None and "boundary" in names and len(names) > 1:
            names.remove("boundary")
        if info.points is None and names == ["boundary"]:
            raise NnvizError(f"{info.scenario.id} has no 2-D points: choose --view network or loss")
        self.app = app
        self.parts = make_views(theme, history, names)
        self.n_layers = 0
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        row = 0
        self.caption = None
        if caption and "network" in self.parts:
            self.caption = QLabel(" ")
            font = QFont(app.font())
            font.setPointSizeF(font_pt(theme, 12))
            font.setBold(True)
            self.caption.setFont(font)
            self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(self.caption, row, 0, 1, 2)
            row += 1
        top = row
        if "network" in self.parts and "boundary" in self.parts:
            grid.addWidget(self.parts["network"], row, 0)
            grid.addWidget(self.parts["boundary"], row, 1)
            grid.setColumnStretch(0, 3)
            grid.setColumnStretch(1, 2)
            row += 1
        elif "network" in self.parts or "boundary" in self.parts:
            only = self.parts.get("network") or self.parts["boundary"]
            grid.addWidget(only, row, 0, 1, 2)
            row += 1
        if "loss" in self.parts:
            grid.addWidget(self.parts["loss"], row, 0, 1, 2)
            if row > top:
                grid.setRowStretch(top, 3)
                grid.setRowStretch(row, 2)
        for name, v in self.parts.items():
            v.reset()
            if name == "boundary":
                v.set_points(info.points, info.labels, info.test_mask)
        self.box = box
        from PySide6.QtCore import QSize

        self.size = QSize(*size)
        box.resize(*size)
        box.show()
        self._settle()

    def _settle(self) -> None:
        for _ in range(3):
            self.app.processEvents()

    def show(self, snap, phase: str | None = None, progress: float = 1.0) -> None:
        """Draw ``snap`` (and the history) in every view; the network mid-sweep
        when ``phase`` is "forward" or "backward"."""
        from nnviz.qt.status_line import pass_caption

        for v in self.parts.values():
            v.set_snapshot(snap)
            v.refresh()
        net = self.parts.get("network")
        if net is not None:
            net.set_phase(phase, progress)
        if self.caption is not None:
            n = len(snap.layers) + 1 if snap is not None else 0
            text = pass_caption(phase, progress, n) if phase else ""
            self.caption.setText(text or "step done: the weights are updated")
        self._settle()

    def frame(self):
        """The stage as a frame of exactly the asked size: a stage that cannot
        shrink that far (the views' minimum sizes) is drawn larger and scaled
        down to fit, the rest filled with the window's background."""
        if self.box.size() == self.size:
            return grab_frame(self.box)
        from PySide6.QtCore import QPoint, Qt
        from PySide6.QtGui import QPainter, QPixmap

        pix = self.box.grab().scaled(
            self.size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        canvas = QPixmap(self.size)
        canvas.fill(self.box.palette().window().color())
        painter = QPainter(canvas)
        painter.drawPixmap(
            QPoint(
                (self.size.width() - pix.width()) // 2, (self.size.height() - pix.height()) // 2
            ),
            pix,
        )
        painter.end()
        return grab_frame(_Grabbed(canvas))

    def close(self) -> None:
        self.box.close()
        self.box.deleteLater()


class _Grabbed:
    """A picture already taken, for :func:`grab_frame`."""

    def __init__(self, pix) -> None:
        self._pix = pix

    def grab(self):
        return self._pix
