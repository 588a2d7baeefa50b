"""The block view draws every module call of a model that is not a Linear chain."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from nnviz.core.history import History
from nnviz.core.numfmt import fmt_signed
from nnviz.qt.block_view import BlockView
from nnviz.qt.network_view import NetworkView
from nnviz.qt.theme import DARK, diverging_lut, lut_indices
from nnviz.qt.view_protocol import View
from tests.qt import block_snapshots as B
from tests.qt import snapshots as S


@pytest.fixture(scope="module")
def cnn_snap():
    return B.snapshots(B.cnn(), steps=3, row=2)[0]


@pytest.fixture(scope="module")
def transformer_snap():
    return B.snapshots(B.transformer(), steps=2)[0]


@pytest.fixture
def view(shown):
    return shown(BlockView(history=History()), 1600, 900)


def _scene_point(view: BlockView, x: float, y: float) -> QtCore.QPointF:
    return view.vb.mapViewToScene(QtCore.QPointF(x, y))


def test_one_row_per_module_call_in_forward_order(view, cnn_snap):
    assert isinstance(view, View)
    view.set_snapshot(cnn_snap)
    names = [b.name for b in cnn_snap.blocks]
    assert names[:5] == ["0", "1", "1.0", "1.1", "1.2"]
    assert view.visible_names() == names
    rects = [view.block_rect(n) for n in names]
    for a, b in zip(rects, rects[1:]):  # down each column, then on to the next
        assert b.y() > a.bottom() or (b.x() > a.x() + 400 and b.y() < a.y())
    text = view.text_of("1.2")
    assert "ReLU" in text and "32×8×8×8" in text and "dead" in text


def test_the_network_view_switches_between_neurons_and_blocks(shown, cnn_snap):
    net = shown(NetworkView(history=History()), 1600, 900)
    net.set_snapshot(cnn_snap)
    assert net.blocks_shown and not net.graphics.isVisible()
    assert net.block_view.visible_names()[1] == "1"
    mlp, _ = S.snapshot_2d((2, 4, 1), "tanh", seed=0)
    net.set_snapshot(mlp)
    assert not net.blocks_shown and net.graphics.isVisible() and len(net.geoms) == 3
    net.set_snapshot(cnn_snap)
    net.set_phase("forward", 0.0)
    assert net.block_view.phase == "forward"


def test_conv_rows_show_one_tile_per_channel_coloured_by_the_feature_map(view, cnn_snap):
    view.set_snapshot(cnn_snap)
    conv1 = next(b for b in cnn_snap.blocks if b.name == "1.0")
    conv2 = next(b for b in cnn_snap.blocks if b.name == "2.0")
    assert view.mosaic("1.0").channels == conv1.maps.shape[0] == 8
    assert view.mosaic("2.0").channels == conv2.maps.shape[0] == 16
    assert view.mosaic("1.0", "map_grads").channels == 8
    # the pixel of channel 5 at (2, 3): its colour in the image and its inspector numbers
    m = view.mosaic("1.0")
    r, q = divmod(5, m.cols)
    x = m.rect[0] + (q * (m.w + 1) + 3 + 0.5) * m.cell
    y = m.rect[1] + (r * (m.h + 1) + 2 + 0.5) * m.cell
    name, part, where = view.hit(x, y)
    assert (name, part, where) == ("1.0", "maps", (5, 2, 3))
    img = view._row("1.0").images["maps"].image
    vmax = np.abs(conv1.maps).max()
    want = diverging_lut(DARK)[lut_indices(conv1.maps[5, 2, 3], vmax)]
    assert tuple(img[r * (m.h + 1) + 2, q * (m.w + 1) + 3]) == tuple(want)
    info = view.select(name, part, where)
    assert info.a == pytest.approx(float(conv1.maps[5, 2, 3]), abs=0)
    assert dict((k, v) for k, v, _ in info.rows)["dL/dz"] == float(conv1.map_grads[5, 2, 3])
    assert "sample #" in info.note


def test_kernels_on_demand(view, cnn_snap):
    view.set_snapshot(cnn_snap)
    assert view.mosaic("2.0", "kernels") is None
    view.show_kernels("2.0")
    k = view.mosaic("2.0", "kernels")
    assert (k.rows, k.cols, k.h, k.w) == (16, 8, 3, 3)  # 16 out × first 8 of 8 in
    view.show_kernels("2.0", False)
    assert view.mosaic("2.0", "kernels") is None


class _Click:
    def __init__(self, scene_pos, double=False, button=QtCore.Qt.MouseButton.LeftButton):
        self._pos, self._double, self._button = scene_pos, double, button

    def scenePos(self):
        return self._pos

    def double(self):
        return self._double

    def button(self):
        return self._button

    def accept(self):
        pass


def test_containers_fold_and_unfold(view, cnn_snap):
    view.set_snapshot(cnn_snap)
    view.toggle_fold("1")
    shown = view.visible_names()
    assert "1" in shown and not any(n.startswith("1.") for n in shown)
    assert view.text_of("1").startswith("1 · Sequential") or "Sequential" in view.text_of("1")
    # a double-click on the folded container's row unfolds it (QTest's synthetic
    # double clicks do not reach pyqtgraph's scene reliably: hand the scene's
    # click signal a double click as pyqtgraph makes it)
    rect = view.block_rect("1")
    view.graphics.scene().sigMouseClicked.emit(
        _Click(_scene_point(view, rect.x() + 40, rect.y() + 20), double=True)
    )
    assert view.visible_names() == [b.name for b in cnn_snap.blocks]
    view.set_folded("1.0", True)  # not a container: nothing happens
    assert "1.1" in view.visible_names()


def test_hover_shows_the_blocks_real_numbers(view, transformer_snap):
    view.set_snapshot(transformer_snap)
    b = next(b for b in transformer_snap.blocks if b.type == "MultiheadAttention")
    rect = view.block_rect(b.name)
    view.graphics.scene().sigMouseMoved.emit(_scene_point(view, rect.x() + 30, rect.y() + 10))
    assert view.inspector.isVisible()
    assert view.inspector.title.text() == "self_attn · MultiheadAttention"
    html = view.inspector.values.text()
    assert b.name in html
    for v in (b.act.mean, b.act.std, b.grad.mean, b.grad.norm):
        assert fmt_signed(v) in html
    assert "32×8×16" in view.inspector.values.text()


def test_sweeps_animate_across_the_rows(view, transformer_snap):
    view.set_snapshot(transformer_snap)
    names = view.visible_names()
    first, last = names[0], names[-1]
    view.set_phase("forward", 0.0)
    assert view.row_opacity(first) == 1.0 and view.row_opacity(last) < 0.3
    assert not view.gradient_shown(first) and not view.gradient_shown(last)
    view.set_phase("forward", 0.5)
    assert view.row_opacity(names[len(names) // 4]) == 1.0 > view.row_opacity(last)
    view.set_phase("backward", 0.0)
    assert view.gradient_shown(last) and not view.gradient_shown(first)
    assert view.row_opacity(first) == 1.0
    view.set_phase("backward", 1.0)
    assert view.gradient_shown(first)
    view.set_phase(None)
    assert all(view.gradient_shown(n) for n in names if "Flatten" not in view.text_of(n))


def test_text_is_at_least_12px_and_grows_in_presenter_mode(view, cnn_snap):
    import pyqtgraph as pg

    def sizes():
        return [it.textItem.font().pixelSize() for it in view.vb.addedItems
                if isinstance(it, pg.TextItem) and it.textItem.toPlainText()]  # fmt: skip

    view.set_snapshot(cnn_snap)
    assert min(sizes()) >= 12
    height = view.block_rect("6").height()
    view.set_theme(DARK.scaled(1.5))
    assert min(sizes()) >= 18
    assert view.block_rect("6").height() == pytest.approx(1.5 * height)


def test_a_small_view_folds_then_scrolls_instead_of_shrinking_text(shown, cnn_snap):
    view = shown(BlockView(history=History()), 700, 330)
    view.set_snapshot(cnn_snap)
    assert "1.0" not in view.visible_names()  # the Sequential containers start folded
    top, bottom = view.vb.viewRange()[1]
    assert bottom - top == pytest.approx(view.vb.height(), rel=0.02)  # one unit a pixel
    assert view.vb.content[3] > view.vb.height()  # taller than the widget: scrolls
    view.vb.scroll_to(1e9, (view.vb.width(), view.vb.height()))
    assert view.vb.viewRange()[1][1] == pytest.approx(view.vb.content[3], rel=0.02)
