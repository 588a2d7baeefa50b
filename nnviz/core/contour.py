"""Where a sampled field crosses a level: marching squares, vectorised.

The decision boundary of a 2-D scenario is the 0.5 level of the model's output
on a grid. pyqtgraph's ``isocurve`` joins the pieces into paths in Python, and
that took 23 ms a frame once the spiral's boundary got long; drawn as
independent segments (one ``drawLines`` call), the pieces need no joining.
"""

from __future__ import annotations

import numpy as np

# For each of the 16 corner cases (bit 0: top-left above the level, 1: top-right,
# 2: bottom-right, 3: bottom-left), the cell edges the line crosses, as pairs.
# Edges: 0 top, 1 right, 2 bottom, 3 left. Saddles (5, 10) take two segments.
_CASES: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((3, 0),),
    2: ((0, 1),),
    3: ((3, 1),),
    4: ((1, 2),),
    5: ((3, 0), (1, 2)),
    6: ((0, 2),),
    7: ((3, 2),),
    8: ((2, 3),),
    9: ((0, 2),),
    10: ((0, 1), (2, 3)),
    11: ((1, 2),),
    12: ((1, 3),),
    13: ((0, 1),),
    14: ((3, 0),),
}


def level_segments(field: np.ndarray, level: float) -> np.ndarray:
    """Segments of the ``level`` line of ``field`` (rows × columns), in grid
    coordinates (column, row): an (n, 2, 2) array of start and end points."""
    f = np.asarray(field, dtype=np.float64)
    if f.ndim != 2 or min(f.shape) < 2:
        return np.zeros((0, 2, 2))
    tl, tr, br, bl = f[:-1, :-1], f[:-1, 1:], f[1:, 1:], f[1:, :-1]
    case = (
        (tl > level).astype(np.int8)
        | (tr > level).astype(np.int8) << 1
        | (br > level).astype(np.int8) << 2
        | (bl > level).astype(np.int8) << 3
    )
    rows, cols = np.mgrid[0 : f.shape[0] - 1, 0 : f.shape[1] - 1]

    def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d != 0, (level - a) / np.where(d != 0, d, 1), 0.5)
        return np.clip(t, 0.0, 1.0)

    # the crossing point on each edge of every cell, as (x, y)
    edge_pts = (
        (cols + cross(tl, tr), rows.astype(np.float64)),  # top
        (cols + 1.0, rows + cross(tr, br)),  # right
        (cols + cross(bl, br), rows + 1.0),  # bottom
        (cols.astype(np.float64), rows + cross(tl, bl)),  # left
    )
    out = []
    for c, pairs in _CASES.items():
        sel = case == c
        if not sel.any():
            continue
        for e0, e1 in pairs:
            p0 = np.stack([edge_pts[e0][0][sel], edge_pts[e0][1][sel]], axis=1)
            p1 = np.stack([edge_pts[e1][0][sel], edge_pts[e1][1][sel]], axis=1)
            out.append(np.stack([p0, p1], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))
