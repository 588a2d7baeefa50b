"""The Qt-free heart of nnviz.

Everything the app draws comes from here: scenarios, model building, data sets,
the training engine, snapshots, autograd-graph capture and a numpy reference
backprop. Nothing in this package imports PySide6, pyqtgraph or ``nnviz.qt``.
"""

from nnviz.core.errors import NnvizError

__all__ = ["NnvizError"]
