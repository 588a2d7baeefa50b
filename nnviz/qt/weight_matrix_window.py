"""A layer's weight matrix as a heatmap, in a window of its own.

Rows are the layer's neurons, columns its inputs; the colour is w on the
theme's activation map, symmetric around 0 (±max |w|), with pyqtgraph's
``ColorBarItem`` as its scale. The network view opens one per layer (double
click, or its context menu) and hands it every new snapshot while it is open.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from nnviz.core.network_geometry import layer_title
from nnviz.core.numfmt import fmt
from nnviz.core.snapshot import Snapshot
from nnviz.qt.theme import Theme, colour_map


class WeightMatrixWindow(QtWidgets.QWidget):
    """The weight matrix W of drawn layer ``layer`` (≥ 1) as a heatmap."""

    def __init__(self, layer: int, theme: Theme, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, QtCore.Qt.WindowType.Tool)
        self.layer = layer
        self.resize(640, 480)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.glw = pg.GraphicsLayoutWidget()
        lay.addWidget(self.glw)
        self.plot = self.glw.addPlot()
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "from input neuron j")
        self.plot.setLabel("left", "to neuron i")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), interactive=False, width=14, colorMapMenu=False)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self._title = ""
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.glw.setBackground(theme.background)
        self.bar.setColorMap(colour_map(theme))
        if self._title:
            self._set_title()

    def set_weights(self, title: str, w: np.ndarray) -> None:
        """Show ``w`` (rows: neurons, columns: inputs) under ``title``."""
        vmax = float(np.max(np.abs(w))) if w.size else 1.0
        self.vmax = vmax if vmax > 0 else 1.0
        self.image.setImage(np.asarray(w, dtype=np.float32), autoLevels=False)
        self.bar.setLevels((-self.vmax, self.vmax))
        self._title = title
        self.setWindowTitle(title)
        self._set_title()

    def show_snapshot(self, snap: Snapshot) -> bool:
        """Show this window's layer of ``snap``; False when it has no such layer."""
        if not 1 <= self.layer <= len(snap.layers):
            return False
        w = snap.layers[self.layer - 1].weight
        kind = layer_title(self.layer, len(snap.layers) + 1)
        self.set_weights(f"{kind} weights W ({w.shape[0]} × {w.shape[1]})", w)
        return True

    def _set_title(self) -> None:
        self.plot.setTitle(
            f"{self._title}   (colour = w, max |w| = {fmt(self.vmax, 3)})",
            color=self.theme.foreground,
        )
