"""The decision boundary's line: marching squares against exact answers."""

from __future__ import annotations

import numpy as np

from nnviz.core.contour import level_segments


def test_a_linear_field_gives_its_straight_line_exactly():
    rows, cols = np.mgrid[0:20, 0:30].astype(float)
    field = 0.3 * cols - 0.2 * rows  # level 1: 0.3 x - 0.2 y = 1
    seg = level_segments(field, 1.0)
    pts = seg.reshape(-1, 2)
    assert len(seg) > 10
    np.testing.assert_allclose(0.3 * pts[:, 0] - 0.2 * pts[:, 1], 1.0, atol=1e-12)


def test_a_circle_is_found_all_the_way_round_with_its_length():
    n = 64
    ys, xs = np.mgrid[0:n, 0:n].astype(float)
    r = 20.0
    field = np.hypot(xs - 31.5, ys - 31.5)
    seg = level_segments(field, r)
    pts = seg.reshape(-1, 2)
    dist = np.hypot(pts[:, 0] - 31.5, pts[:, 1] - 31.5)
    assert np.abs(dist - r).max() < 0.05  # on the circle, up to interpolation
    length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).sum()
    assert abs(length - 2 * np.pi * r) < 0.01 * 2 * np.pi * r
    angles = np.arctan2(pts[:, 1] - 31.5, pts[:, 0] - 31.5)
    assert np.histogram(angles, bins=16, range=(-np.pi, np.pi))[0].min() > 0  # no gaps


def test_a_field_that_never_crosses_has_no_line():
    assert level_segments(np.zeros((8, 8)), 0.5).shape == (0, 2, 2)
    assert level_segments(np.ones((1, 8)), 0.5).shape == (0, 2, 2)
