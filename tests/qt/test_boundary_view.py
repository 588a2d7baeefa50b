"""The decision-boundary view shows the model's output over the plane."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from nnviz.qt.boundary_view import BoundaryView
from nnviz.qt.theme import DARK
from nnviz.qt.view_protocol import View
from tests.qt import snapshots as S


@pytest.fixture(scope="module")
def snap_and_data():
    return S.snapshot_2d((2, 8, 8, 1), "tanh", seed=0, steps=60)


@pytest.fixture
def view(shown):
    return shown(BoundaryView(), 700, 800)


def _nearer_positive(rgb) -> bool:
    c = np.asarray(rgb[:3], float)
    pos = np.array(QtGui.QColor(DARK.positive).getRgb()[:3], float)
    neg = np.array(QtGui.QColor(DARK.negative).getRgb()[:3], float)
    return np.linalg.norm(c - pos) < np.linalg.norm(c - neg)


def test_heatmap_points_and_thumbnails(view, snap_and_data):
    snap, (x, y) = snap_and_data
    test = np.arange(len(x)) % 4 == 0
    view.set_points(x, y, test)
    view.set_snapshot(snap)
    out = snap.field.output
    img = view.image.image
    assert img.shape[:2] == out.shape
    # where the model says class 1 the map is on the positive side, and vice versa
    hi = np.unravel_index(np.argmax(out), out.shape)
    lo = np.unravel_index(np.argmin(out), out.shape)
    assert out[hi] > 0.5 > out[lo]
    assert _nearer_positive(img[hi]) and not _nearer_positive(img[lo])
    # the image covers the field's extent
    r = view.image.mapRectToParent(view.image.boundingRect())
    x0, x1, y0, y1 = snap.field.extent
    assert r.left() <= x0 and r.right() >= x1 and r.top() <= y0 and r.bottom() >= y1
    # the points: train and test apart, coloured by class
    assert len(view.train_points.data) == (~test).sum()
    assert len(view.test_points.data) == test.sum()
    brushes = view.train_points.data["brush"]
    cls = (y[~test] > 0.5).astype(int)
    for b, c in zip(brushes, cls):
        assert _nearer_positive(b.color().getRgb()) == bool(c)
    # one thumbnail per hidden neuron, drawn from that neuron's field
    assert [len(t["origin"]) for t in view._thumbs] == [8, 8]
    h = snap.field.hidden[0][3]
    r0, c0 = view._thumbs[0]["origin"][3]
    res = h.shape[0]
    tile = view._thumbs[0]["rgba"][r0 : r0 + res, c0 : c0 + res]
    # rows are flipped (the plane's y grows upwards): the top row is the field's last
    j = int(np.argmax(np.abs(h[-1])))
    assert _nearer_positive(tile[0, j]) == bool(h[-1, j] > 0)


def test_updates_and_snapshots_without_a_field(view, snap_and_data):
    snap, (x, y) = snap_and_data
    view.set_points(x, y)
    view.set_snapshot(snap)
    for _ in range(50):  # repeated frames reuse the items
        view.set_snapshot(snap)
    assert len(view._thumbs) == 2
    no_field, _ = S.snapshot_2d((2, 4, 1), "tanh", field=False)
    view.set_snapshot(no_field)  # nothing to draw, nothing breaks
    other, _ = S.snapshot_2d((2, 3, 5, 2, 1), "relu", seed=1)
    view.set_snapshot(other)
    assert [len(t["origin"]) for t in view._thumbs] == [3, 5, 2]
    view.grab()


def test_is_a_view_and_reset_forgets_the_models_field(view, snap_and_data):
    snap, (x, y) = snap_and_data
    assert isinstance(view, View)
    view.set_points(x, y)
    view.set_snapshot(snap)
    view.refresh()  # nothing to do: drawn with the snapshot
    assert view.field is snap.field and view.image.image.shape[:2] == snap.field.output.shape
    view.reset()  # a new model
    assert view.field is None and view._thumbs == []
    assert view.image.image.shape[:2] == (2, 2) and not view.image.image.any()
    assert view.contour.getData()[0] is None or len(view.contour.getData()[0]) == 0
    assert len(view.train_points.data) == len(x)  # the data points stay (same data set)
    view.set_snapshot(None)  # no snapshot yet: nothing breaks
    view.set_snapshot(snap)  # the next model's first snapshot draws as before
    assert [len(t["origin"]) for t in view._thumbs] == [8, 8]
    view.grab()


def test_takes_the_history_keyword(shown):
    from nnviz.core.history import History

    view = shown(BoundaryView(theme=DARK, history=History()), 300, 300)
    assert view.field is None
