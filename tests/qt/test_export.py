"""The one exporter: PNG and SVG written whole, or a clear error and no file."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from nnviz.core.errors import NnvizError
from nnviz.qt.export import PNG_SIGNATURE, save_widget
from nnviz.qt.loss_view import LossView


@pytest.fixture
def loss_view(shown):
    view = shown(LossView(), 640, 360)
    m = view.history.metrics
    m.append_train(np.arange(200), 1.0 / (1.0 + np.arange(200) / 20.0))
    m.append_eval(100, 0.3, 0.8, 0.85)
    view.refresh()
    return view


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "nnviz-tmp" in p.name)


def test_png_is_written_whole(loss_view, tmp_path):
    out = save_widget(loss_view, tmp_path / "loss.png")
    assert out == tmp_path / "loss.png"
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (640, 360)
    assert _leftovers(tmp_path) == []
    # the picture shows something: not one flat colour
    colours = {image.pixel(x, y) for x in range(0, 640, 16) for y in range(0, 360, 16)}
    assert len(colours) > 3


def test_svg_is_written_whole_and_parses(loss_view, tmp_path):
    out = save_widget(loss_view, tmp_path / "Loss.SVG", title="loss curves")
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert root.get("viewBox").split() == ["0", "0", "640", "360"]
    assert "loss curves" in out.read_text()
    assert len(list(root.iter())) > 20  # drawn items, not an empty page
    assert _leftovers(tmp_path) == []


def test_an_existing_file_is_replaced_in_one_step(loss_view, tmp_path):
    target = tmp_path / "pic.png"
    target.write_bytes(b"old")
    save_widget(loss_view, target)
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pic.png"]


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc (Linux)")
def test_proc_is_refused_with_a_clear_error(loss_view):
    for name in ("/proc/x.svg", "/proc/x.png"):
        with pytest.raises(NnvizError) as info:
            save_widget(loss_view, name)
        msg = str(info.value)
        assert name in msg and "\n" not in msg
        assert not Path(name).exists()


def test_too_long_a_name_is_refused(loss_view, tmp_path, monkeypatch):
    name = "x" * 300 + ".svg"
    with pytest.raises(NnvizError, match="too long"):
        save_widget(loss_view, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    # where the folder's limit is not known in advance, the rename reports it
    monkeypatch.setattr(os, "pathconf", lambda *a: 10_000)
    for suffix in (".svg", ".png"):
        with pytest.raises(NnvizError, match="too long") as info:
            save_widget(loss_view, tmp_path / ("y" * 300 + suffix))
        assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_a_file_as_folder_and_a_bad_suffix(loss_view, tmp_path):
    with pytest.raises(NnvizError, match="does not exist"):
        save_widget(loss_view, tmp_path / "nope" / "x.png")
    (tmp_path / "file").write_text("")
    with pytest.raises(NnvizError, match="is not a folder"):
        save_widget(loss_view, tmp_path / "file" / "x.png")
    with pytest.raises(NnvizError, match=r"\.png or \.svg"):
        save_widget(loss_view, tmp_path / "x.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_folder_is_refused(loss_view, tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root writes into any folder
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without /sys: no folder refuses writes")
        folder = Path("/sys")  # refuses new files even to root
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    try:
        for name in ("x.png", "x.svg"):
            with pytest.raises(NnvizError, match="folder you can write to"):
                save_widget(loss_view, folder / name)
            assert not (folder / name).exists()
        assert _leftovers(folder) == []
    finally:
        if folder != Path("/sys"):
            folder.chmod(0o755)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(loss_view, tmp_path, monkeypatch):
    """A write that fails half way (here: the SVG cut short, as on a full disk)."""
    target = tmp_path / "pic.svg"
    target.write_text("old")
    import nnviz.qt.export as export

    real = export._written
    monkeypatch.setattr(
        export, "_written", lambda tmp, path, n: b"<svg" if n < 0 else real(tmp, path, n)
    )
    with pytest.raises(NnvizError, match="cut short"):
        save_widget(loss_view, target)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []
