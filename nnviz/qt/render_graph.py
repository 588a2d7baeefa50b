"""The autograd graph part-way through backward, drawn for a slide (issue 9).

``seek_backward(panel, k)`` puts a ``GraphPanel`` at backward step ``k`` (1 is
the loss's own step) as the stepper would after pressing Next that many times
past the forward pass: the first ``k`` nodes of autograd's order (and the
output) show their gradients, the rest only their values, the current node is
highlighted with its chain-rule numbers in the panel below. The modules around
the current node unfold (its module's ancestors open, everything else folded
into one box each) and the view centres on it at a legible zoom, so a 127-node
transformer reads as the attention block the gradient has reached.
``render_backward`` draws that to a file; ``nnviz render FILE --view graph
--backward-step K`` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6 import QtWidgets

from nnviz.core.errors import NnvizError
from nnviz.core.trace import AutogradTrace
from nnviz.qt.graph_items import MOD_PREFIX, op_symbol
from nnviz.qt.graph_view import GraphView


@dataclass(frozen=True)
class BackwardPicture:
    """What a mid-backward picture shows, counted from what is drawn."""

    step: int  # backward steps done (the current one included)
    steps: int  # backward steps in the trace
    node: str  # the current node's id
    label: str  # ... and how the boxes and the panel call it
    gradients_shown: int  # trace nodes whose gradient is revealed
    boxes: int  # boxes drawn
    boxes_with_gradient: int  # ... of them showing a gradient
    unfolded: tuple[str, ...]  # module paths opened around the current node
    path: Path | None = None  # the file written (render_backward)


def check_backward_step(trace: AutogradTrace, k: int) -> None:
    n = len(trace.steps)
    if not 1 <= k <= n:
        raise NnvizError(f"--backward-step {k}: this graph has {n} backward steps; choose 1 to {n}")


def unfold_around(view: GraphView, node_id: str) -> tuple[str, ...]:
    """Open the modules holding ``node_id`` and fold every other module into one
    box at the shallowest level that keeps the node's surroundings visible:
    the siblings of each opened module, and the current module's children."""
    tr = view.trace
    module = tr.nodes[node_id].module
    chain = module.split(".") if module else []
    opened = tuple(".".join(chain[:i]) for i in range(1, len(chain) + 1))
    paths: set[str] = set()
    for m in tr.modules():
        parts = m.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))

    def parent(p: str) -> str:
        return p.rsplit(".", 1)[0] if "." in p else ""

    folded = {p for p in paths if p not in opened and (parent(p) == "" or parent(p) in opened)}
    view.collapsed = folded
    view._rebuild()
    return opened


def seek_backward(panel, k: int, unfold: bool = True) -> BackwardPicture:
    """Put ``panel`` (a ``GraphPanel`` holding a trace) at backward step ``k``."""
    tr = panel.trace
    if tr is None:
        raise NnvizError("no autograd graph to step through")
    check_backward_step(tr, k)
    view: GraphView = panel.view
    node_id = tr.steps[k - 1].node
    opened = unfold_around(view, node_id) if unfold else ()
    m = panel.stepper.model
    m.seek(m.n_forward + k)
    key = view.display_key(node_id)
    view.fit()  # a small graph whole and enlarged; a big one at the app's legible zoom
    view._user_zoomed = True  # a resize keeps this zoom and centre
    if key in view.items:
        view.scene().clearSelection()
        view.centerOn(view.items[key])
    done = {tr.output, *tr.backward_order[:k]}
    return BackwardPicture(
        step=k,
        steps=len(tr.steps),
        node=node_id,
        label=op_symbol(tr.nodes[node_id], tr),
        gradients_shown=len(done),
        boxes=len(view.items),
        boxes_with_gradient=sum(bool(it.show_grad) for it in view.items.values()),
        unfolded=opened,
    )


def boxes_showing_gradients(view: GraphView) -> dict[str, bool]:
    """Each drawn box of a single node (not a folded module): is its gradient shown?"""
    return {k: bool(it.show_grad) for k, it in view.items.items() if not k.startswith(MOD_PREFIX)}


def render_backward(panel, out: Path, k: int, size: tuple[int, int]) -> BackwardPicture:
    """Draw ``panel`` at backward step ``k`` to ``out`` (PNG or SVG)."""
    from nnviz.qt.export import save_widget

    app = QtWidgets.QApplication.instance()
    panel.resize(*size)
    panel.show()
    app.processEvents()  # the view has its size before it centres
    pic = seek_backward(panel, k)
    for _ in range(3):
        app.processEvents()
    view = panel.view
    key = view.display_key(pic.node)
    if key in view.items:  # again: the first layout pass may have moved the scrollbars
        view.centerOn(view.items[key])
        app.processEvents()
    path = save_widget(panel, Path(out), title="nnviz autograd graph mid-backward")
    panel.close()
    return replace(pic, path=path)
