"""``nnviz render``: every view to PNG and SVG, offscreen."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QImage

from nnviz.cli import main
from nnviz.core.errors import NnvizError
from nnviz.qt.render import render_scenario

# `nnviz render` is a one-shot program: its offscreen widgets live until the
# process ends, and deleting pyqtgraph widgets mid-process crashed Qt here.
pytestmark = pytest.mark.allow_leaks("render's offscreen widgets end with the process")


def _png_pixels(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format_RGBA8888)
    assert not img.isNull(), f"{path} is not a readable PNG"
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : img.width() * 4].reshape(img.height(), img.width(), 4).copy()  # own the data


@pytest.mark.parametrize("view", ["network", "loss", "all", "graph"])
def test_every_view_of_a_2d_scenario_renders_to_png(tmp_path, view):
    out = render_scenario("xor", view, tmp_path / f"{view}.png", steps=20, size=(800, 450))
    px = _png_pixels(out)
    assert px.shape[:2] == (450, 800)
    # a picture, not a blank: many distinct colours
    assert len(np.unique(px[..., :3].reshape(-1, 3), axis=0)) > 50


@pytest.mark.parametrize(("scenario", "view"), [("xor", "all"), ("chain-rule", "graph")])
def test_svg_is_a_vector_drawing_with_the_numbers_as_text(tmp_path, scenario, view):
    out = render_scenario(scenario, view, tmp_path / "v.svg", steps=20, size=(800, 450))
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    if scenario == "chain-rule":  # the values a lecturer would point at
        assert "33" in texts and "grad" in texts
    else:
        assert "loss" in texts


def test_expression_has_only_the_graph_view(tmp_path):
    with pytest.raises(NnvizError, match="only --view graph"):
        render_scenario("chain-rule", "network", tmp_path / "x.png")


def test_cli_render_prints_the_file_and_refuses_other_extensions(tmp_path, capsys):
    out = tmp_path / "n.png"
    assert (
        main(
            [
                "render",
                "or-gate",
                "--view",
                "network",
                "--out",
                str(out),
                "--steps",
                "5",
                "--size",
                "640x360",
            ]
        )
        == 0
    )
    assert out.exists() and str(out) in capsys.readouterr().out
    assert main(["render", "or-gate", "--out", str(tmp_path / "n.jpg")]) == 2
    assert ".jpg" in capsys.readouterr().err


# --- issue 9: the autograd graph part-way through backward (--backward-step) -----------


def _svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [(t.text or "").strip() for t in root.iter() if t.tag.endswith("text")]


@pytest.mark.parametrize("k", [1, 3, 6])
def test_backward_step_picture_shows_the_gradients_of_the_first_k_steps(tmp_path, k):
    """L = 3(a + b·c): after k backward steps exactly the output and the first k
    nodes of autograd's order carry a gradient in the drawing; the rest only a value."""
    from nnviz.core.autograd_graph import capture_scenario_graph

    tr = capture_scenario_graph("chain-rule")
    out = render_scenario("chain-rule", "graph", tmp_path / "g.svg", backward_step=k)
    done = {tr.output, *(s.node for s in tr.steps[:k])}
    grads = [t for t in _svg_texts(out) if t.startswith("grad ") and t[5:6] in "-0123456789"]
    assert len(grads) == len(done)
    assert len(grads) < len(tr) or k == len(tr.steps)
    assert f"backward {k}/{len(tr.steps)}" in " ".join(_svg_texts(out))


def test_backward_step_unfolds_a_transformer_around_its_attention_op(tmp_path):
    """Mid-backward in a real transformer layer: the current op is drawn on its own,
    centred and highlighted; each single-node box shows its gradient exactly when
    the stepper has passed it; the counts agree with the stepper's."""
    import torch
    from torch import nn

    from nnviz.core.autograd_graph import capture_module_graph
    from nnviz.qt.bootstrap import make_app
    from nnviz.qt.graph_panel import GraphPanel
    from nnviz.qt.render_graph import boxes_showing_gradients, render_backward

    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    x, y = torch.randn(3, 5, 16), torch.randn(3, 5, 16)
    tr = capture_module_graph(layer, x, y, nn.MSELoss())
    k = next(
        i + 1 for i, s in enumerate(tr.steps) if "Attention" in tr.nodes[s.node].op
    )  # the fused attention op's step
    make_app()
    panel = GraphPanel()
    panel.set_trace(tr)
    pic = render_backward(panel, tmp_path / "t.png", k, (1600, 900))
    assert _png_pixels(pic.path).shape[:2] == (900, 1600)

    m = panel.stepper.model
    assert m.phase == "backward" and m.pos - m.n_forward == k
    assert m.current_node() == pic.node == tr.steps[k - 1].node
    done = {tr.output, *(s.node for s in tr.steps[:k])}
    assert pic.gradients_shown == len(done) and pic.steps == len(tr.steps)
    view = panel.view
    assert view.display_key(pic.node) == pic.node  # unfolded: the op has its own box
    shown = boxes_showing_gradients(view)
    assert shown == {key: key in done for key in shown}
    assert pic.boxes == len(view.items)
    assert pic.boxes_with_gradient >= sum(shown.values()) > 0
    assert 0 < pic.boxes_with_gradient < pic.boxes  # part-way: some have, some not yet
    item = view.items[pic.node]
    assert item.current == "backward"
    on_screen = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    assert view.viewport().rect().contains(on_screen)


def test_cli_backward_step_needs_the_graph_view_and_a_step_in_range(tmp_path, capsys):
    out = tmp_path / "g.png"
    argv = ["render", "chain-rule", "--view", "graph", "--out", str(out), "--size", "960x540"]
    assert main([*argv, "--backward-step", "2"]) == 0
    assert _png_pixels(out).shape[:2] == (540, 960)
    assert main([*argv, "--backward-step", "99"]) == 2
    assert "has 6 backward steps; choose 1 to 6" in capsys.readouterr().err
    bad = ["render", "xor", "--view", "network", "--out", str(out), "--backward-step", "2"]
    assert main(bad) == 2
    assert "--view graph" in capsys.readouterr().err
