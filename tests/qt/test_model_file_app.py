"""The app on a user's model file: opened from the command line or the File
actions (Ctrl+M), trained like a scenario; a bad file is one dialog naming its
file and line, and the model in use stays."""

from __future__ import annotations

import textwrap

import pytest
import torch
from PySide6 import QtWidgets

from nnviz.core.model_file import FileScenario
from nnviz.qt.main_window import MainWindow

WAIT_MS = 60_000  # the first optimizer of a process imports torch._dynamo: ~10 s on a busy machine
GOOD = '''
"""Quadrants: opposite corners share a class."""
import torch
from torch import nn


def model():
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


def data():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 2, generator=g) * 2 - 1
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
'''
BAD = """
import torch
from torch import nn


def model():
    return nn.Linear(5, 2)


def data():
    return torch.randn(20, 3), torch.randint(0, 2, (20,))
"""


@pytest.fixture
def files(tmp_path):
    good, bad = tmp_path / "quadrants.py", tmp_path / "bad_model.py"
    good.write_text(textwrap.dedent(GOOD).lstrip())
    bad.write_text(textwrap.dedent(BAD).lstrip())
    return good, bad


@pytest.fixture
def window(qtbot, app):
    """``window(target)``: the app as ``nnviz open TARGET`` opens it, built; the
    test closes it with ``done(w)``."""
    from nnviz.cli import build_parser
    from nnviz.qt.bootstrap import open_window

    def make(target: str) -> MainWindow:
        w = open_window(build_parser().parse_args(["open", target]))
        qtbot.addWidget(w)
        qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
        return w

    return make


def done(w) -> None:
    w.close()
    w.deleteLater()


def error_text(qtbot, w) -> str:
    qtbot.waitUntil(lambda: w._error_box is not None and w._error_box.isVisible(), timeout=WAIT_MS)
    return w._error_box.text()


def test_the_app_opens_a_model_file_and_trains_it(qtbot, window, files):
    good, _ = files
    w = window(str(good))  # as `nnviz open quadrants.py` does
    info = w.session.info
    assert isinstance(info.scenario, FileScenario) and info.scenario.id == "quadrants"
    assert "Quadrants" in w.windowTitle()
    w.session.step_once()
    qtbot.waitUntil(lambda: w.session.step == 1, timeout=WAIT_MS)
    # a settings change rebuilds from the same file, keeping its data
    trainer = w.session.worker.trainer
    data = trainer.dataset
    w.session.apply_config(w.session.config.__class__(**{**vars(w.session.config), "seed": 4}))
    qtbot.waitUntil(lambda: w.session.worker.trainer is not trainer, timeout=WAIT_MS)
    assert w.session.worker.trainer.dataset is data
    assert w.session.worker.trainer.config.seed == 4
    done(w)


def test_a_bad_model_file_is_one_dialog_and_the_model_in_use_stays(
    qtbot, window, files, monkeypatch
):
    good, bad = files
    w = window("xor")
    trainer = w.session.worker.trainer
    device = w.session.config.device
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    w.actions_.open_model_file.trigger()
    text = error_text(qtbot, w)
    assert text.startswith(f"{bad}, line 5: the model does not fit the data")
    assert "mat1 and mat2" in text
    assert w.session.worker.trainer is trainer and w.session.info.scenario.id == "xor"
    w.session.step_once()  # still usable
    qtbot.waitUntil(lambda: trainer.step_count == 1, timeout=WAIT_MS)
    # and a good file opened the same way replaces it
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), ""))
    w.actions_.open_model_file.trigger()
    qtbot.waitUntil(lambda: w.session.info.scenario.id == "quadrants", timeout=WAIT_MS)
    assert w.session.info.config.device == device  # the device in use carries over
    done(w)


def test_the_model_file_action_has_its_shortcut(qtbot, window, files):
    w = window(str(files[0]))
    assert w.actions_.open_model_file.shortcut().toString() == "Ctrl+M"
    assert w.actions_.open_model_file in w.toolbar.actions()
    done(w)


def test_a_files_own_loss_and_optimizer_survive_a_settings_change(qtbot, window, tmp_path):
    path = tmp_path / "own_parts.py"
    path.write_text(
        textwrap.dedent(GOOD).lstrip()
        + "\n\ndef loss(out, y):\n    return nn.functional.cross_entropy(out, y)\n"
        + "\n\ndef optimizer(params):\n    return torch.optim.SGD(params, lr=0.1)\n"
    )
    w = window(str(path))
    c = w.controls
    assert c.loss.currentData() == "custom" and c.optimizer.currentData() == "custom"
    assert c.loss.currentText() == "From the model file"
    trainer = w.session.worker.trainer
    c.batch.setValue(16)  # as a user edits it: the file's loss and optimizer stay
    qtbot.waitUntil(lambda: w.session.worker.trainer is not trainer, timeout=WAIT_MS)
    t = w.session.worker.trainer
    assert t.batch_size == 16 and isinstance(t.optimizer, torch.optim.SGD)
    assert t.config.loss == "custom"
    w.open_scenario("xor")  # a built-in scenario: the file's entries go
    qtbot.waitUntil(lambda: w.session.info.scenario.id == "xor", timeout=WAIT_MS)
    assert c.loss.findData("custom") < 0
    done(w)


def test_open_with_weights_starts_the_file_from_them(qtbot, app, files, tmp_path):
    from torch import nn

    from nnviz.cli import build_parser
    from nnviz.qt.bootstrap import open_window

    torch.manual_seed(7)
    saved = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).state_dict()
    torch.save(saved, tmp_path / "w.pt")
    args = build_parser().parse_args(["open", str(files[0]), "--weights", str(tmp_path / "w.pt")])
    w = open_window(args)
    qtbot.addWidget(w)
    try:
        qtbot.waitUntil(lambda: w.session.info is not None, timeout=WAIT_MS)
        got = w.session.worker.trainer.model.state_dict()
        for k, v in saved.items():
            torch.testing.assert_close(got[k], v, rtol=0, atol=0, msg=k)
    finally:
        w.close()
        w.deleteLater()
