"""The pyqtgraph surface the snapshot views draw on (network neurons, module blocks).

``snapshot_canvas`` makes it: a ``pg.GraphicsView`` holding one aspect-locked
``ViewBox`` with y pointing down and no context menu. ``wire_canvas`` connects
the owner's ``_on_resized``, ``_on_mouse_moved`` and ``_on_mouse_clicked``,
called once the owner has built what those slots touch.
"""

from __future__ import annotations

import pyqtgraph as pg


def snapshot_canvas(
    antialias: bool, viewbox: type[pg.ViewBox] = pg.ViewBox
) -> tuple[pg.GraphicsView, pg.ViewBox]:
    graphics = pg.GraphicsView()
    graphics.setAntialiasing(antialias)
    vb = viewbox(lockAspect=True, invertY=True, enableMenu=False)
    graphics.setCentralItem(vb)
    return graphics, vb


def wire_canvas(owner) -> None:
    """``owner.graphics``/``owner.vb`` report resizes, mouse moves and clicks to it."""
    owner.vb.sigResized.connect(owner._on_resized)
    scene = owner.graphics.scene()
    scene.sigMouseMoved.connect(owner._on_mouse_moved)
    scene.sigMouseClicked.connect(owner._on_mouse_clicked)
