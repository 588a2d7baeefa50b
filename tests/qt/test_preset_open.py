"""`nnviz open ID --preset playground` (issue 11): the window starts on the same
run `nnviz train ID --preset playground` trains, and a bad preset or set fails
before any window opens, with the train command's one-line message."""

from __future__ import annotations

import numpy as np
import pytest

from nnviz.cli import build_parser, main
from nnviz.cli.train_cmd import config_from_args
from nnviz.core.checkpoint import CHECKPOINT_NAME
from nnviz.core.engine import Trainer
from nnviz.core.features import PLAYGROUND_PRESET
from nnviz.core.scenarios import get_scenario
from nnviz.qt import bootstrap
from nnviz.qt.bootstrap import open_window
from tests.qt.test_main_window import ready


def test_open_with_the_preset_starts_what_train_with_it_trains(qtbot, app):
    w = ready(
        qtbot, open_window(build_parser().parse_args(["open", "xor", "--preset", "playground"]))
    )
    try:
        # the oracle: the trainer `nnviz train xor --preset playground` builds
        sc = get_scenario("xor")
        cfg = config_from_args(
            sc, build_parser().parse_args(["train", "xor", "--preset", "playground"])
        )
        shown = w.session.config
        for field in PLAYGROUND_PRESET:
            assert getattr(shown, field) == getattr(cfg, field), field
        oracle = {k: v.detach().numpy() for k, v in Trainer(sc, cfg).model.state_dict().items()}
        params = w.network.snapshot.params
        assert sorted(params) == sorted(oracle)
        for k, v in oracle.items():  # the same start: Playground's init from seed 0
            np.testing.assert_array_equal(np.asarray(params[k]), v)
        # what the user sees: Playground's 2-4-2-1, its settings, its 250 training points
        assert w.network.snapshot.widths == (2, 4, 2, 1)
        assert w.controls.lr.value() == pytest.approx(0.03)
        assert w.controls.batch.value() == 10
        assert w.controls.loss.currentData() == "half_mse"
        box = w.controls.playground
        assert box.isVisibleTo(w) and (box.noise.value(), box.ratio.value()) == (0, 50)
        assert len(w.session.worker.trainer.dataset.x_train) == 250
    finally:
        w.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["open", "mnist-mlp", "--preset", "playground"],
            "the playground preset is for the 2-D sets (circle, xor, gauss, spiral), not mnist-mlp",
        ),
        (["open", "xor", "--preset", "tensorflow"], "unknown preset 'tensorflow'; choose one of"),
    ],
)
def test_a_bad_preset_fails_before_a_window_as_train_does(argv, message, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(bootstrap, "run_app", lambda args: opened.append(args) or 0)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nnviz: error: {message}") and err.count("\n") == 1
    assert opened == []  # no window
    # the train command says the same
    assert main(["train", *argv[1:]]) == 2
    assert capsys.readouterr().err == err


def test_the_preset_does_not_apply_to_a_recorded_run(tmp_path, capsys, monkeypatch):
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"")  # a session folder, as the app saves one
    opened = []
    monkeypatch.setattr(bootstrap, "run_app", lambda args: opened.append(args) or 0)
    assert main(["open", str(tmp_path), "--preset", "playground"]) == 2
    assert "--preset is for the 2-D sets" in capsys.readouterr().err and opened == []


def test_a_good_preset_reaches_the_app(monkeypatch):
    opened = []
    monkeypatch.setattr(bootstrap, "run_app", lambda args: opened.append(args) or 0)
    assert main(["open", "gauss", "--preset", "playground"]) == 0
    assert [a.preset for a in opened] == ["playground"]
