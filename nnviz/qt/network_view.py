"""The network view: neurons coloured by activation, edges by weight, gradients.

Where things go and which edges are drawn is worked out in
:mod:`nnviz.core.network_geometry` (Qt-free); this module makes the
graphics items and colours them each frame. A layer of discs carries a
second encoding, its gradient dL/dz: a halo around each disc (thicker with
|dL/dz|, coloured by its sign); a grid layer has a gradient grid beside it.
Discs and edges are the cheap items of :mod:`nnviz.qt.network_items`
(issue 8): one path per colour/width bin of edges. The legend strip is :class:`NetworkLegend`, the words
around the columns :class:`ColumnCaptions`, a layer's
weight matrix opens in a :class:`WeightMatrixWindow`, and the inspector's
sparkline reads the session's :class:`~nnviz.core.history.History`.

Every frame only calls ``setData``/``setImage``/``setBrush`` on items made
when the architecture was first seen; brushes come from the theme's
prebuilt palettes (fresh per-point QBrushes every frame crashed PySide6 6.12).

Layers are numbered as drawn: 0 is the input, ``i`` ≥ 1 is ``snap.layers[i-1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnviz.core import network_geometry as geo
from nnviz.core.history import History
from nnviz.core.network_geometry import H, LayerGeom
from nnviz.core.snapshot import Snapshot
from nnviz.qt import weight_edit_dialog  # playground (issue 11)
from nnviz.qt.block_view import BlockView
from nnviz.qt.health_overlay import HealthOverlay  # issue 12
from nnviz.qt.network_items import Discs, EdgePaths  # issue 8: cheap per frame
from nnviz.qt.network_legend import ColumnCaptions, NetworkLegend
from nnviz.qt.neuron_inspector import NeuronInfo, NeuronInspector, neuron_info
from nnviz.qt.theme import (
    DARK,
    Theme,
    brush_palette,
    diverging_lut,
    edge_pens,
    gradient_lut,
    lut_indices,
)
from nnviz.qt.view_canvas import snapshot_canvas, wire_canvas
from nnviz.qt.weight_matrix_window import WeightMatrixWindow

LUT_N = 256


@dataclass
class _LayerItems:
    """The graphics items of one drawn layer."""

    dots: Discs | None = None
    halo: Discs | None = None
    image: pg.ImageItem | None = None
    grad_image: pg.ImageItem | None = None
    rgba: np.ndarray | None = None  # the images' pixels, recoloured in place
    grad_rgba: np.ndarray | None = None
    extras: list = field(default_factory=list)  # frames and captions around grids
    has_grad: bool = False

    def graphics(self) -> list:
        items = (self.dots, self.halo, self.image, self.grad_image, *self.extras)
        return [it for it in items if it is not None]


class NetworkView(QtWidgets.QWidget):
    """Neurons, weights and gradients of one snapshot (see the module's docstring)."""

    neuronSelected = QtCore.Signal(int, int)  # layer (0 = input), index
    layerSelected = QtCore.Signal(int)
    weightEdited = QtCore.Signal(str, int, object, float)  # playground (issue 11)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        theme: Theme = DARK,
        history: History | None = None,
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.history = history if history is not None else History()
        self.snapshot: Snapshot | None = None
        self.phase: str | None = None
        self.progress = 1.0
        self.geoms: list[LayerGeom] = []
        self.scales = geo.ColourScales()
        self.weight_windows: dict[int, WeightMatrixWindow] = {}
        self._items: list[_LayerItems] = []
        self._edge_sel: list[geo.EdgeSelection] = []
        self._key: tuple | None = None  # the architecture drawn
        self._selected: tuple[int, int] | None = None  # pinned in the inspector
        self._hover: tuple[int, int] | None = None
        self._highlight = -1
        self._layout_aspect = 1.8
        self._series_key, self._series = None, None  # the inspector's sparkline, cached

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.graphics, self.vb = snapshot_canvas(antialias=True)
        # issue 8: most items change every frame; one clip rectangle paints them
        # faster than the many small ones of the default (mnist: 15 -> 9.5 ms)
        self.graphics.setViewportUpdateMode(
            QtWidgets.QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate
        )
        lay.addWidget(self.graphics, 1)
        self.legend = NetworkLegend(theme=theme)
        lay.addWidget(self.legend)
        self.inspector = NeuronInspector(self, theme)
        # models that are not Linear chains are drawn as module blocks (issue 9)
        self.block_view = BlockView(self, theme, self.history)
        self.block_view.hide()
        lay.addWidget(self.block_view, 1)

        self._edges = EdgePaths()  # one path per (sign, width bin)
        self._edges.setZValue(-10)
        self.vb.addItem(self._edges)
        self._glow = QtWidgets.QGraphicsRectItem()  # the wave front of a sweep
        self._glow.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self._sel_rect = QtWidgets.QGraphicsRectItem()  # the highlighted layer
        self._marker = pg.ScatterPlotItem(pxMode=False)  # the inspected neuron
        self.captions = ColumnCaptions(self.vb)
        for item, z in ((self._glow, -20), (self._sel_rect, 30), (self._marker, 40)):
            item.setZValue(z)
            item.setVisible(item is self._marker)
            self.vb.addItem(item)

        wire_canvas(self)
        self.health_overlay = HealthOverlay(self)  # issue 12: gradient health on the columns
        self.set_theme(theme)

    # --- the view protocol ----------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.act_lut, self.grad_lut = diverging_lut(theme, LUT_N), gradient_lut(theme, LUT_N)
        self._act_brushes = brush_palette(theme, LUT_N)
        self._grad_brushes = brush_palette(theme, LUT_N, kind="gradient")
        self.graphics.setBackground(theme.background)
        s = theme.scale
        self._neuron_pen = pg.mkPen(theme.muted, width=1.0 * s)
        self._font = QtGui.QFont()
        self._font.setPointSizeF(12.5 * s)
        self._small_font = QtGui.QFont()
        self._small_font.setPointSizeF(10.5 * s)
        self._edges.set_pens(edge_pens(theme))
        pen = QtGui.QPen(QtGui.QColor(theme.accent), 2.0 * s)
        pen.setCosmetic(True)
        self._sel_rect.setPen(pen)
        self._marker.setPen(pg.mkPen(theme.accent, width=2.5 * s))
        self._marker.setBrush(pg.mkBrush(None))
        self.legend.set_theme(theme)
        self.inspector.set_theme(theme)
        self.block_view.set_theme(theme)
        for w in self.weight_windows.values():
            w.set_theme(theme)
        if self.snapshot is not None and not self.blocks_shown:  # remake items in new colours
            self._build(self.snapshot)
            self._render(self.snapshot)

    def reset(self) -> None:
        """A new model: forget the scales, the selection and the weight windows;
        the next snapshot is drawn anew."""
        self._key = None
        self._forget()
        self.block_view.reset()

    def set_snapshot(self, snap: Snapshot) -> None:
        """Draw ``snap`` (the newest, or a past one): recolour the existing
        items, rebuilt only when the architecture changed. A snapshot with
        module blocks (a model that is not a Linear chain) goes to the block view."""
        if self._show_blocks(bool(snap.blocks)):
            self.snapshot = snap
            self.block_view.set_snapshot(snap)
            return
        key = (snap.widths, tuple(snap.input_shape), tuple(layer.name for layer in snap.layers))
        if key != self._key:
            self._key = key
            self._forget()
            self.snapshot = snap
            self._build(snap)
        self.snapshot = snap
        self._render(snap)

    def refresh(self) -> None:
        """Nothing to do between snapshots: the view draws only what it is handed."""

    # --- what the rest of the app calls -------------------------------------------------------

    def set_phase(self, phase: str | None, progress: float = 1.0) -> None:
        """Animate a step: "forward" lights layers input→output as ``progress``
        goes 0→1; "backward" sweeps the gradients output→input; None shows all."""
        if phase not in (None, "forward", "backward"):
            raise ValueError(f"phase must be None, 'forward' or 'backward', got {phase!r}")
        self.phase = phase
        self.progress = float(min(max(progress, 0.0), 1.0))
        if self.blocks_shown:
            self.block_view.set_phase(phase, progress)
            return
        self._apply_phase()

    @property
    def blocks_shown(self) -> bool:
        """Whether the model is drawn as module blocks (not neurons)."""
        return not self.block_view.isHidden()

    def _show_blocks(self, blocks: bool) -> bool:
        """Switch between neurons and blocks; the other side forgets what it drew."""
        if blocks != self.blocks_shown:
            self._key, self.geoms = None, []
            self._forget()
            self.block_view.reset()
            self.graphics.setVisible(not blocks)
            self.legend.setVisible(not blocks)
            self.block_view.setVisible(blocks)
        return blocks

    @QtCore.Slot(int)
    def highlight_layer(self, layer: int) -> None:
        """Outline a layer (from the linked graph view); -1 clears."""
        self._highlight = int(layer)
        if 0 <= layer < len(self.geoms):
            x0, y0, x1, y1 = self.geoms[layer].bounds
            self._sel_rect.setRect(QtCore.QRectF(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4))
            self._sel_rect.show()
        else:
            self._sel_rect.hide()

    @property
    def highlighted_layer(self) -> int:
        """The layer outlined by :meth:`highlight_layer` (-1: none)."""
        return self._highlight

    def neuron_pos(self, layer: int, index: int) -> QtCore.QPointF:
        """A neuron's centre in view units (for tests and linked views)."""
        x, y = self.geoms[layer].pos[index]
        return QtCore.QPointF(float(x), float(y))

    def neuron_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (layer, index) of the neuron under a point in view units."""
        return geo.neuron_at(self.geoms, x, y)

    def layer_at(self, x: float, y: float) -> int | None:
        """The layer whose column holds a point in view units."""
        return geo.layer_at(self.geoms, x, y)

    def select_neuron(self, layer: int, index: int, pinned: bool = True) -> NeuronInfo | None:
        """Show a neuron in the inspector (pinned: stays until another click)."""
        if self.snapshot is None or not self._exists(layer, index):
            return None
        info = self.neuron_info(layer, index)
        if pinned:
            self._selected = (layer, index)
            self.inspector.pinned = True
        else:
            self._hover = (layer, index)
        self.inspector.show_info(info)
        scene = self.vb.mapViewToScene(self.neuron_pos(layer, index))
        vp = self.graphics.mapTo(self, self.graphics.mapFromScene(scene))
        self.inspector.place_near(vp, self.graphics.geometry())
        self.inspector.show()
        self._update_marker()
        return info

    def clear_selection(self) -> None:
        self._selected, self._hover = None, None
        self.inspector.pinned = False
        self.inspector.hide()
        self._update_marker()

    def neuron_info(self, layer: int, index: int) -> NeuronInfo:
        """A neuron's numbers in the snapshot shown, with its history up to that step."""
        snap = self.snapshot
        assert snap is not None
        kept = self.history.snapshots
        key = (layer, index, snap.step, kept.version)
        if key != self._series_key:  # the history changes a few times a second at most
            self._series_key = key
            self._series = kept.series(layer, index, until=snap.step)
        return neuron_info(snap, layer, index, self._series)

    def show_weight_heatmap(self) -> WeightMatrixWindow | None:
        """The weight matrix of the selected layer (else the highlighted one,
        else the first hidden layer) as a heatmap."""
        for layer in (self._selected[0] if self._selected else -1, self._highlight, 1):
            if layer >= 1:
                return self.open_weight_matrix(layer)
        return None

    def open_weight_matrix(self, layer: int) -> WeightMatrixWindow | None:
        """Open (or raise) the heatmap of layer ``layer``'s weight matrix."""
        if self.snapshot is None or not 1 <= layer <= len(self.snapshot.layers):
            return None
        win = self.weight_windows.get(layer)
        if win is None:
            win = self.weight_windows[layer] = WeightMatrixWindow(layer, self.theme, self)
        win.show_snapshot(self.snapshot)
        win.show()
        win.raise_()
        return win

    # --- what is drawn (for tests) ---------------------------------------------------------------

    def neuron_colour(self, layer: int, index: int) -> QtGui.QColor:
        """The colour a neuron is drawn in now (its activation's)."""
        items = self._items[layer]
        if items.dots is not None:
            return QtGui.QColor(items.dots.data["brush"][index].color())
        return QtGui.QColor(*items.rgba.reshape(-1, 4)[index].tolist())

    def gradient_mark(self, layer: int, index: int) -> tuple[QtGui.QColor, float] | None:
        """The gradient encoding of a neuron: (colour, relative size), or None
        where none is shown (the input, or outside the backward sweep). The
        size is the halo's diameter over the disc's (1 for a zero gradient);
        for grid layers it is 1."""
        items, g = self._items[layer], self.geoms[layer]
        shown = items.halo if items.halo is not None else items.grad_image
        if layer == 0 or shown is None or not shown.isVisible() or shown.opacity() == 0:
            return None
        if items.halo is not None:
            size = float(items.halo.data["size"][index] / (2 * g.r))
            return QtGui.QColor(items.halo.data["brush"][index].color()), size
        return QtGui.QColor(*items.grad_rgba.reshape(-1, 4)[index].tolist()), 1.0

    def layer_opacity(self, layer: int) -> float:
        """How lit a layer's activations are (dimmed during the forward sweep)."""
        items = self._items[layer]
        return float((items.dots or items.image).opacity())

    def edge_count(self) -> int:
        """Edges drawn now."""
        return self._edges.count()

    # --- building -------------------------------------------------------------------------------

    def _forget(self) -> None:
        """A new architecture or model: nothing selected, no windows, fresh scales."""
        for win in self.weight_windows.values():
            win.close()
            win.deleteLater()
        self.weight_windows = {}
        self._selected = self._hover = None
        self.inspector.pinned = False
        self.inspector.hide()
        self.scales = geo.ColourScales()
        self._series_key = None

    def _margins(self, snap: Snapshot) -> tuple[float, float, float, float]:
        return ColumnCaptions.margins(snap, self.theme, self._small_font)

    def _size_px(self) -> tuple[float, float]:
        size = self.vb.size()
        return size.width(), size.height()

    def _build(self, snap: Snapshot) -> None:
        """Make the per-layer items (on a new architecture, theme or shape)."""
        for items in self._items:
            for obj in items.graphics():
                if obj.scene() is not None:
                    self.vb.removeItem(obj)
        self._layout_aspect = geo.drawing_aspect(self._size_px(), self._margins(snap))
        self.geoms = geo.layout(snap.widths, tuple(snap.input_shape), self._layout_aspect)
        self._items = [self._build_layer(li, g) for li, g in enumerate(self.geoms)]
        self.captions.build(snap, self.geoms, self.theme, self._font, self._small_font)
        self._edges.set_bounds(geo.drawing_bounds(self.geoms))
        self._fit()
        self.highlight_layer(self._highlight)

    def _build_layer(self, li: int, g: LayerGeom) -> _LayerItems:
        items = _LayerItems()
        if g.kind == "dots":
            size, mid = np.full(g.width, 2 * g.r), LUT_N // 2
            items.dots = Discs(pen=self._neuron_pen)
            items.dots.setData(pos=g.pos, size=size, brush=self._act_brushes[mid])
            items.dots.setZValue(2)
            if li > 0:  # the input has no gradient
                items.halo = Discs(pen=None)
                items.halo.setData(pos=g.pos, size=size, brush=self._grad_brushes[mid])
                items.halo.setZValue(1)
        else:
            items.rgba, items.image = self._grid_image(g, g.act_rect)
            items.extras.append(self._frame(g.act_rect))
            if g.grad_rect is not None:
                items.grad_rgba, items.grad_image = self._grid_image(g, g.grad_rect)
                items.extras.append(self._frame(g.grad_rect))
                for rect, text in ((g.act_rect, "a"), (g.grad_rect, "dL/dz")):
                    lab = pg.TextItem(text, color=self.theme.muted, anchor=(0.5, 0))
                    lab.setFont(self._small_font)
                    lab.setZValue(20)
                    lab.setPos(rect[0] + rect[2] / 2, rect[1] + rect[3] + 1.0)
                    items.extras.append(lab)
        for obj in items.graphics():
            self.vb.addItem(obj)
        return items

    @staticmethod
    def _grid_image(g: LayerGeom, rect) -> tuple[np.ndarray, pg.ImageItem]:
        rgba = np.zeros((g.rows, g.cols, 4), dtype=np.uint8)  # recoloured in place each frame
        img = pg.ImageItem(rgba, axisOrder="row-major")
        img.setRect(QtCore.QRectF(*rect))
        img.setZValue(2)
        return rgba, img

    def _frame(self, rect) -> QtWidgets.QGraphicsRectItem:
        item = QtWidgets.QGraphicsRectItem(QtCore.QRectF(*rect))
        pen = QtGui.QPen(QtGui.QColor(self.theme.grid), 1.0)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(3)
        return item

    def _on_resized(self, *_args) -> None:
        if self.blocks_shown:
            return
        if self.snapshot is not None and self.geoms:
            a = geo.drawing_aspect(self._size_px(), self._margins(self.snapshot))
            if abs(a - self._layout_aspect) > 0.15 * self._layout_aspect:
                self._build(self.snapshot)  # re-spread the columns over the new shape
                self._render(self.snapshot)
                self._update_marker()
                return
        self._fit()

    def _fit(self, *_args) -> None:
        """Show the whole network with room, in pixels, for the text around it."""
        if not self.geoms or self.snapshot is None:
            return
        rect, ppu = geo.fit_view(self.geoms, self._size_px(), self._margins(self.snapshot))
        self.vb.setRange(QtCore.QRectF(*rect), padding=0)
        self.captions.fit(geo.min_column_gap(self.geoms) * ppu)

    # --- per frame ------------------------------------------------------------------------------

    def _render(self, snap: Snapshot) -> None:
        self.scales.update(snap)
        self._colour_layers(snap)
        self.health_overlay.update(snap)  # issue 12
        self._edge_sel = geo.select_edges(
            [ls.weight for ls in snap.layers],
            [snap.input, *(ls.a for ls in snap.layers[:-1])],
        )
        self._apply_phase()
        self.captions.update(snap, self.scales.grad)
        lo_hi = (float(snap.input.min()), float(snap.input.max())) if snap.input.size else None
        self.legend.set_values(
            self.scales.act or 1.0,
            lo_hi,
            # --- issue 11: step and loss are the status line's alone (one source of truth) ---
            f"sample #{snap.sample_index}",
            any(ls.dz is not None for ls in snap.layers),
        )
        target = self._selected or self._hover
        if target is not None and self.inspector.isVisible() and self._exists(*target):
            self.inspector.show_info(self.neuron_info(*target))
        for win in self.weight_windows.values():
            if win.isVisible():
                win.show_snapshot(snap)

    def _colour_layers(self, snap: Snapshot) -> None:
        values = [snap.input, *(ls.a for ls in snap.layers)]
        grads = [None, *(ls.dz for ls in snap.layers)]
        for li, (g, items) in enumerate(zip(self.geoms, self._items)):
            sc = self.scales
            idx = lut_indices(values[li], sc.input if li == 0 else sc.act, LUT_N)
            gmax = float(sc.grad[li]) or 1.0
            gidx = lut_indices(grads[li], gmax, LUT_N) if grads[li] is not None else None
            if items.dots is not None:
                items.dots.setBrush(self._act_brushes[idx])
                if gidx is not None and items.halo is not None:
                    mag = np.clip(np.abs(grads[li]) / gmax, 0, 1)
                    items.halo.setBrush(self._grad_brushes[gidx], update=False)
                    items.halo.setSize(2 * g.r * (1.0 + g.halo * np.sqrt(mag)))
            else:
                items.rgba.reshape(-1, 4)[: g.width] = self.act_lut[idx]
                items.image.setImage(items.rgba, autoLevels=False)
                if gidx is not None and items.grad_image is not None:
                    items.grad_rgba.reshape(-1, 4)[: g.width] = self.grad_lut[gidx]
                    items.grad_image.setImage(items.grad_rgba, autoLevels=False)
            items.has_grad = gidx is not None

    def _apply_phase(self) -> None:
        if not self.geoms:
            return
        n = len(self.geoms)
        lit, grad = geo.layer_light(self.phase, self.progress, n)
        dim = 0.18
        opacity = dim + (1 - dim) * lit
        self.captions.set_light(opacity)
        for li, items in enumerate(self._items):
            for item in (items.dots, items.image):
                if item is not None:
                    item.setOpacity(float(opacity[li]))
            show_g = bool(items.has_grad and grad[li] > 0)
            for item in (items.halo, items.grad_image):
                if item is not None:
                    item.setVisible(show_g)
                    item.setOpacity(float(grad[li]))
        front = geo.sweep_front(self.phase, self.progress, n)
        if front is not None and n > 1:  # the wave front
            x0, _y0, x1, _y1 = self.geoms[int(round(front))].bounds
            c = QtGui.QColor(self.theme.forward if self.phase == "forward" else self.theme.backward)
            c.setAlpha(45)
            self._glow.setBrush(QtGui.QBrush(c))
            self._glow.setRect(QtCore.QRectF(x0 - 5, -4, x1 - x0 + 10, H + 8))
            self._glow.show()
        else:
            self._glow.hide()
        self._edges.set_segments(geo.edge_segments(self.geoms, self._edge_sel, lit))

    def _exists(self, layer: int, index: int) -> bool:
        return 0 <= layer < len(self.geoms) and 0 <= index < self.geoms[layer].width

    def _update_marker(self) -> None:
        target = self._selected or self._hover
        if target is None or not self._exists(*target):
            self._marker.setData([])
            return
        g = self.geoms[target[0]]
        (x, y), dots = g.pos[target[1]], g.kind == "dots"
        size = 2 * g.r * 1.9 if dots else g.cell * 1.8
        self._marker.setData([x], [y], size=[size], symbol="o" if dots else "s")

    # --- mouse ----------------------------------------------------------------------------------

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if not self.geoms or self.snapshot is None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        hit = self.neuron_at(p.x(), p.y())
        weight_edit_dialog.hover_edge(self, p, hit is not None)  # issue 11: names the edge
        if hit is None:
            if self._hover is not None:
                self._hover = None
                if not self.inspector.pinned:
                    self.inspector.hide()
                self._update_marker()
        elif hit != self._hover and not self.inspector.pinned:
            self.select_neuron(*hit, pinned=False)

    def _on_mouse_clicked(self, ev) -> None:
        if not self.geoms or self.snapshot is None:
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        if ev.button() == QtCore.Qt.MouseButton.RightButton:
            layer = self.layer_at(p.x(), p.y())
            if layer is not None and layer >= 1:
                ev.accept()
                self._context_menu(layer, ev.screenPos().toPoint())
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        hit = self.neuron_at(p.x(), p.y())
        if hit is None and weight_edit_dialog.click_edge(self, p, ev.double()):  # issue 11
            return  # an edge: its weight is being edited
        layer = hit[0] if hit else self.layer_at(p.x(), p.y())
        if ev.double() and layer is not None and layer >= 1:
            self.open_weight_matrix(layer)
            return
        if hit is not None:
            self.select_neuron(*hit, pinned=True)
            self.neuronSelected.emit(*hit)
        else:
            self.clear_selection()
        if layer is not None:
            self.layerSelected.emit(layer)

    def _context_menu(self, layer: int, screen_pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        act = menu.addAction(f"Show the weight matrix of layer {layer}")
        act.triggered.connect(lambda: self.open_weight_matrix(layer))
        menu.addAction("Reset zoom").triggered.connect(self._fit)
        weight_edit_dialog.add_menu_action(self, menu, layer)  # playground (issue 11)
        self.health_overlay.add_menu_action(menu)  # issue 12
        menu.popup(screen_pos)

    def edit_weight(self, layer: int, index: int):  # playground (issue 11): emits weightEdited
        return weight_edit_dialog.open_for(self, layer, index)
