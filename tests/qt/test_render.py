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
