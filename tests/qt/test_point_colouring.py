"""Per-point colouring every frame, the way nnviz does it, must not crash.

PySide6-Essentials 6.12.0 with pyqtgraph 0.14.0 killed the interpreter
(``none_dealloc``) when ScatterPlotItem.setBrush got fresh per-point QBrushes
every frame (DESIGN.md section 4). nnviz indexes a prebuilt palette instead;
this test drives that path for a few hundred painted frames and checks the
colours really change.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from nnviz.qt.theme import DARK, brush_palette, diverging_lut, lut_indices

N_POINTS = 400
N_FRAMES = 300
LUT_N = 256


def _rgb(brush: QtGui.QBrush) -> tuple[int, int, int]:
    return brush.color().getRgb()[:3]


def test_palette_brushes_every_frame(qtbot):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(420, 320)
    w.show()
    qtbot.waitExposed(w)
    rng = np.random.default_rng(0)
    pos = rng.uniform(-1, 1, (N_POINTS, 2))
    item = pg.ScatterPlotItem(pos=pos, size=9, pen=None)
    w.addItem(item)
    palette = brush_palette(DARK, LUT_N)
    lut = diverging_lut(DARK, LUT_N)
    phase = rng.uniform(0, 2 * np.pi, N_POINTS)
    probe = np.array([0, 7, 123, N_POINTS - 1])
    seen: list[list[tuple[int, int, int]]] = []
    for frame in range(N_FRAMES):
        values = np.sin(phase + frame * 0.2)
        idx = lut_indices(values, 1.0, LUT_N)
        item.setBrush(palette[idx])
        if frame % 2 == 0:
            w.grab()  # paint the frame (the crash happened while drawing)
        if frame % 50 == 0:
            brushes = item.data["brush"]
            # the very palette objects, no per-frame copies
            assert all(brushes[i] is palette[idx[i]] for i in probe)
            got = [_rgb(brushes[i]) for i in probe]
            assert got == [tuple(int(c) for c in lut[idx[i], :3]) for i in probe]
            seen.append(got)
    assert item.data["brush"].shape == (N_POINTS,)
    # the same points really changed colour between frames
    changed = sum(a != b for a, b in zip(seen[0], seen[1]))
    assert changed >= 3
    assert len({tuple(s) for s in seen}) == len(seen)
    # and the picture shows both ends of the map
    img = w.grab().toImage()
    colours = {
        img.pixelColor(x, y).rgb()
        for x in range(0, img.width(), 3)
        for y in range(0, img.height(), 3)
    }
    pos_c, neg_c = QtGui.QColor(DARK.positive).rgb(), QtGui.QColor(DARK.negative).rgb()
    near = lambda target: any(  # noqa: E731
        sum(abs(((c >> s) & 255) - ((target >> s) & 255)) for s in (0, 8, 16)) < 40 for c in colours
    )
    assert near(pos_c) and near(neg_c)
