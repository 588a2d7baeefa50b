"""The decision boundary of a 2-D scenario, as TensorFlow Playground shows it.

The model's output over the input plane (``snap.field.output``, a
probability) is a heatmap in the diverging colours around 0.5, with the 0.5
contour drawn over it and the data points on top (test points ringed).
Beside it, a small picture per hidden neuron shows what that neuron computes
over the same plane (``snap.field.hidden``).

A view of the protocol (:mod:`nnviz.qt.view_protocol`): it draws the snapshot
it is handed and needs no history.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core.contour import level_segments
from nnviz.core.history import History
from nnviz.core.snapshot import DecisionField, Snapshot
from nnviz.qt.theme import DARK, Theme, diverging_lut, lut_indices

THUMB_COLS = 8  # thumbnails per row (up to 16, in two rows, for wider layers)
THUMB_MAX = 32  # neurons shown per layer (the first ones)
THUMB_RES = 32  # grid points a side of a thumbnail


class BoundaryView(QtWidgets.QWidget):
    """Decision-boundary heatmap, data points and per-neuron thumbnails."""

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
        history: History | None = None,  # not used: the field comes with each snapshot
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.field: DecisionField | None = None
        self._thumb_key: tuple | None = None
        self._thumbs: list[dict] = []
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)

        self.thumbs_view = pg.GraphicsView()
        self.thumb_vb = pg.ViewBox(
            lockAspect=True, invertY=True, enableMouse=False, enableMenu=False
        )
        self.thumbs_view.setCentralItem(self.thumb_vb)

        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "x₁")
        self.plot.setLabel("left", "x₂")
        self.image = pg.ImageItem(np.zeros((2, 2, 4), np.uint8), axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        # the 0.5 line, as independent segments (nnviz.core.contour): pyqtgraph's
        # IsocurveItem joined them in Python, 23 ms a frame for a long boundary
        self.contour = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True)
        self.contour.setZValue(5)
        self.plot.addItem(self.contour)
        self.train_points = pg.ScatterPlotItem(pxMode=True)
        self.test_points = pg.ScatterPlotItem(pxMode=True)
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)
        # --- what is on screen, in words (issue 11): a title and key that wrap, never clip ---
        self.key = QtWidgets.QLabel()
        self.key.setObjectName("boundaryKey")
        self.key.setTextFormat(QtCore.Qt.RichText)
        self.key.setWordWrap(True)
        self.key.setAlignment(QtCore.Qt.AlignCenter)
        lay.addWidget(self.key)
        lay.addWidget(self.glw, 3)
        lay.addWidget(self.thumbs_view, 1)
        self.glw.setToolTip(
            "The model's probability of class 1 over the input plane; the white line is "
            "where it crosses 0.5. Dots are the data, coloured by class; ringed dots are "
            "held out for testing."
        )
        self.thumbs_view.setToolTip(
            "h1, h2, …: what each neuron of hidden layer 1, 2, … computes over the same "
            "plane (its activation), as TensorFlow Playground shows it"
        )
        self._points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.set_theme(theme)

    # --- public API -------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.lut = diverging_lut(theme)
        s = theme.scale
        self.glw.setBackground(theme.background)
        self.thumbs_view.setBackground(theme.background)
        for name in ("left", "bottom"):
            ax = self.plot.getAxis(name)
            ax.setPen(theme.muted)
            ax.setTextPen(theme.foreground)
            f = QtGui.QFont()
            f.setPointSizeF(theme.pt(10))
            ax.setTickFont(f)
            ax.label.setFont(f)
            ax.setStyle(tickTextOffset=int(3 * s))
        fm = QtGui.QFontMetricsF(f)
        self.plot.getAxis("bottom").setHeight(int(fm.height() * 2.2 + 4 * s))
        self.plot.getAxis("left").setWidth(int(fm.horizontalAdvance("−0.5") + fm.height() * 1.4))
        self.plot.setLabel("bottom", "x₁", color=theme.foreground)
        self.plot.setLabel("left", "x₂", color=theme.foreground)
        self.contour.setPen(pg.mkPen(theme.foreground, width=2.0 * s))
        # Two prebuilt brushes, one per class (never fresh brushes per frame).
        self._class_brushes = np.array(
            [pg.mkBrush(theme.negative), pg.mkBrush(theme.positive)], dtype=object
        )
        self.train_points.setPen(pg.mkPen(theme.background, width=1.2 * s))
        self.test_points.setPen(pg.mkPen(theme.foreground, width=1.8 * s))
        self._set_title()
        if self._points is not None:
            self.set_points(*self._points)
        self._thumb_key = None
        if self.field is not None:
            self._show_field(self.field)

    def set_points(self, x: np.ndarray, y: np.ndarray, test_mask: np.ndarray | None = None) -> None:
        """The data: (N, 2) inputs, (N,) labels 0/1 (or probabilities), test rows masked."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        y = np.asarray(y).reshape(-1)
        test = (
            np.zeros(len(x), bool) if test_mask is None else np.asarray(test_mask, bool).reshape(-1)
        )
        self._points = (x, y, test)
        cls = (y > 0.5).astype(np.intp)
        s = self.theme.scale
        for item, m, size in ((self.train_points, ~test, 8), (self.test_points, test, 9)):
            item.setData(pos=x[m], size=size * s, brush=self._class_brushes[cls[m]], symbol="o")

    def set_snapshot(self, snap: Snapshot | None) -> None:
        """Draw the snapshot's decision field (one without a field changes nothing)."""
        if snap is not None and snap.field is not None:
            self._show_field(snap.field)

    def reset(self) -> None:
        """A new model: forget its field (heatmap, 0.5 line, thumbnails). The data
        points stay until :meth:`set_points` replaces them: they belong to the
        data set, not the model."""
        self.field = None
        self.image.setImage(np.zeros((2, 2, 4), np.uint8), autoLevels=False)
        self.contour.setData([], [])
        self._build_thumbs([])
        self._thumb_key = None

    def refresh(self) -> None:
        """Nothing to do: everything drawn comes with a snapshot."""

    # --- drawing ---------------------------------------------------------------------------

    def _set_title(self) -> None:
        """The title and the key to the points: what the colours and rings mean."""
        t = self.theme
        self.plot.setTitle(None)
        dot = f"<span style='color:{t.foreground}'>●</span>"
        ring = f"<span style='color:{t.foreground}'>◎</span>"
        self.key.setText(
            f"<b>Decision boundary</b> "
            f"<span style='color:{t.muted}'>P(class 1) </span>"
            f"<span style='color:{t.negative}'><b>0</b></span>…"
            f"<span style='color:{t.positive}'><b>1</b></span><br>"
            f"{dot} training point &nbsp; {ring} held out (test) &nbsp; "
            f"<span style='color:{t.muted}'>line: P = 0.5</span>"
        )
        self.key.setStyleSheet(
            f"#boundaryKey {{ color: {t.foreground}; background: {t.background};"
            f" font-size: {t.pt(10):.1f}pt; padding: {int(2 * t.scale)}px; }}"
        )

    def _show_field(self, field: DecisionField) -> None:
        self.field = field
        out = np.asarray(field.output, dtype=np.float64)
        rgba = self.lut[lut_indices(out - 0.5, 0.5)]
        # soften the colours so that the data points stand out
        bg = np.array(QtGui.QColor(self.theme.background).getRgb()[:3], dtype=np.float64)
        rgba = rgba.astype(np.float64)
        rgba[..., :3] = bg + (rgba[..., :3] - bg) * 0.62
        self.image.setImage(rgba.astype(np.uint8), autoLevels=False)
        x0, x1, y0, y1 = field.extent
        res_y, res_x = out.shape
        # pixel centres sit on the grid points, so the image spans half a cell more
        dx = (x1 - x0) / max(res_x - 1, 1)
        dy = (y1 - y0) / max(res_y - 1, 1)
        rect = QtCore.QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy)
        if self.image.mapRectToParent(self.image.boundingRect()) != rect:
            self.image.setRect(rect)
            self.plot.setRange(rect, padding=0)
        seg = level_segments(out, 0.5).reshape(-1, 2)  # grid (column, row) = sample points
        self.contour.setData(x0 + seg[:, 0] * dx, y0 + seg[:, 1] * dy)
        self._show_thumbs(field)

    def _show_thumbs(self, field: DecisionField) -> None:
        # thumbnails are drawn a few dozen pixels wide: at most THUMB_RES points a
        # side (the trainer sends every other grid point; older recordings all)
        layers = [
            np.asarray(h)[
                :THUMB_MAX, :: max(1, h.shape[1] // THUMB_RES), :: max(1, h.shape[2] // THUMB_RES)
            ]
            for h in field.hidden
        ]
        key = tuple(h.shape for h in layers)
        if key != self._thumb_key:
            self._build_thumbs(layers)
            self._thumb_key = key
        for h, item in zip(layers, self._thumbs):
            flat = h.reshape(-1)
            # the colour scale: a 99th percentile, estimated from a subsample
            # (sorting all 64 neurons × 4,096 points cost most of a frame)
            sample = np.abs(flat[:: max(1, flat.size // 4096)])
            vmax = (
                float(
                    np.partition(sample, int(0.99 * (sample.size - 1)))[
                        int(0.99 * (sample.size - 1))
                    ]
                )
                if sample.size
                else 1.0
            )
            # one indexed copy fills every thumbnail (the map is built once)
            item["rgba"].reshape(-1, 4)[item["dst"]] = self.lut[
                lut_indices(flat[item["src"]], vmax)
            ]
            item["image"].setImage(item["rgba"], autoLevels=False)

    def _build_thumbs(self, layers: list[np.ndarray]) -> None:
        for item in self._thumbs:
            self.thumb_vb.removeItem(item["image"])
            self.thumb_vb.removeItem(item["label"])
        self._thumbs = []
        t = self.theme
        y = 0.0
        gap = 6  # grid pixels between thumbnails
        res = 1
        width = 0
        for li, h in enumerate(layers):
            n, res = h.shape[0], h.shape[1]
            cols = min(n, max(THUMB_COLS, -(-n // 2)))
            rows = max(1, -(-n // cols))
            if li:
                y += 0.25 * res  # a little room between layers
            buf = np.zeros((rows * (res + gap), cols * (res + gap), 4), np.uint8)
            # where each thumbnail pixel comes from: neuron k, row flipped (this
            # view's y grows downwards, the plane's upwards), column
            k, r, c = np.meshgrid(np.arange(n), np.arange(res), np.arange(res), indexing="ij")
            dst_r = (k // cols) * (res + gap) + r
            dst_c = (k % cols) * (res + gap) + c
            dst = (dst_r * (cols * (res + gap)) + dst_c).reshape(-1)
            src = (k * res * res + (res - 1 - r) * res + c).reshape(-1)
            img = pg.ImageItem(buf, axisOrder="row-major")
            img.setRect(QtCore.QRectF(0, y, buf.shape[1], buf.shape[0]))
            self.thumb_vb.addItem(img)
            # short names to the left, where a wide panel has room (above the
            # grid, a fixed band was less than a line tall in a short panel)
            label = pg.TextItem(f"h{li + 1}", color=t.muted, anchor=(1, 0.5))
            f = QtGui.QFont()
            f.setPointSizeF(t.pt(10.0))
            f.setBold(True)
            label.setFont(f)
            label.setPos(-gap, y + buf.shape[0] / 2)
            self.thumb_vb.addItem(label)
            origin = [((j // cols) * (res + gap), (j % cols) * (res + gap)) for j in range(n)]
            self._thumbs.append(
                {
                    "image": img,
                    "rgba": buf,
                    "origin": origin,
                    "src": src,
                    "dst": dst,
                    "label": label,
                }
            )
            y += buf.shape[0]
            width = max(width, buf.shape[1])
        if self._thumbs:
            left = 0.07 * width  # room for the names
            self.thumb_vb.setRange(
                QtCore.QRectF(-left, -gap, width + left + gap, y + 2 * gap), padding=0.02
            )
