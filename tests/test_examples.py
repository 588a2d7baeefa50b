"""Each example model file trains to the figure its docstring states.

Trained the way a user would: ``nnviz train examples/X.py --json --steps N``
(run in this process, so the test pays for no interpreter start), seed 0,
the file's own optimizer, loss and batch size; the figure is the
validation accuracy the command reports.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from nnviz.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# file -> (steps, the least held-out accuracy the docstring states)
FIGURES = {
    "cnn_digits": (100, 0.95),
    "gru_sequence": (200, 0.93),
    "transformer_reverse": (150, 0.97),
    "residual_mlp": (300, 0.95),
}


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"nnviz_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_trains_to_its_stated_figure(name, capsys):
    steps, least = FIGURES[name]
    ex = load_example(name)
    doc = " ".join(ex.__doc__.split())  # the docstring states the figure checked here
    assert f"{steps} steps" in doc and f"at least {round(least * 100)} %" in doc, doc
    assert ex.steps == steps and ex.batch_size == 64
    capsys.readouterr()
    rc = main(["train", str(EXAMPLES / f"{name}.py"), "--json", "--steps", str(steps)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and report["steps"] == steps
    assert report["metrics"]["val_accuracy"] >= least, report["metrics"]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_follows_the_model_file_format(name):
    ex = load_example(name)
    model = ex.model()
    assert isinstance(model, nn.Module)
    (x, y), (xv, yv) = ex.data()
    assert len(x) == len(y) and len(xv) == len(yv) and len(xv) >= 300
    assert ex.task == "classify" and len(ex.classes) == int(y.max()) + 1
    out = model(ex.example_input())
    assert out.shape[-1] == len(ex.classes)
    assert callable(ex.loss) and isinstance(ex.optimizer(model.parameters()), torch.optim.Optimizer)
    assert re.search(r"What to look at", ex.__doc__)


def test_examples_readme_lists_every_example():
    text = (EXAMPLES / "README.md").read_text()
    for name in FIGURES:
        assert f"`{name}.py`" in text
