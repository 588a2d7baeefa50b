"""Model files on the command line: ``nnviz train|graph|render FILE.py`` with the
same flags as a scenario id, weights in and out, and bad files exiting 2 with
``nnviz: error: FILE.py, line N: …`` and the user's own frames."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nnviz.cli import main

GOOD = '''"""Quadrants: opposite corners share a class."""
import torch
from torch import nn


def model():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


def data():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(400, 2, generator=g) * 2 - 1
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
    return X, y


lr = 0.03
batch_size = 32
epochs = 30
'''
BAD = {
    "syntax": ("def model()\n    return 1\n", "def model()", "SyntaxError"),
    "no model": ("def data():\n    return 1\n", None, "defines no model()"),
    "model raises": (
        "from torch import nn\n\ndef model():\n    return nn.Linear(2, 'x')\n",
        "return nn.Linear(2, 'x')",
        "model() raised TypeError",
    ),
    "data type": (
        "from torch import nn\n\ndef model():\n    return nn.Linear(2, 2)\n\n"
        "def data():\n    return [1, 2, 3]\n",
        "def data",
        "data() returned a list of 3 items",
    ),
    "shape": (
        "import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(7, 2)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n\n"
        "def model():\n    return Net()\n\n"
        "def data():\n    return torch.randn(20, 3), torch.randint(0, 2, (20,))\n",
        "return self.fc(x)",
        "the model does not fit the data",
    ),
    "loss": (
        "import torch\nfrom torch import nn\n\ndef model():\n    return nn.Linear(3, 2)\n\n"
        "def data():\n    return torch.randn(20, 3), torch.randint(0, 2, (20,))\n\n"
        "def loss(out, y):\n    return (out - y).pow(2).mean()\n",
        "return (out - y).pow(2).mean()",
        "the loss does not fit the model's output (4, 2)",
    ),
    "nan": (
        "import torch\nfrom torch import nn\n\ndef model():\n    return nn.Linear(3, 1)\n\n"
        "def data():\n    X = torch.randn(20, 3)\n    X[4, 1] = float('inf')\n"
        "    return X, X.sum(1, keepdim=True)\n",
        "def data",
        "NaN or infinite value in the inputs (the first in row",
    ),
}


def write(folder: Path, text: str, name: str = "my_model.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The test's folder as the working directory: files are named as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def json_of(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def failure(capsys, *args: str) -> list[str]:
    assert main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("nnviz: error: ")
    return lines


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("command", ["train", "graph"])
def test_a_bad_model_file_exits_2_naming_the_file_and_line(here, capsys, case, command):
    text, marker, what = BAD[case]
    path = write(here, text, "bad_model.py")
    lines = failure(capsys, command, "bad_model.py")
    line = next((i for i, s in enumerate(text.splitlines(), 1) if marker and marker in s), None)
    head = "nnviz: error: bad_model.py" + (f", line {line}: " if line else ": ")
    assert lines[0].startswith(head), lines[0]
    assert what in lines[0]
    assert not any("nnviz/" in s or "site-packages" in s for s in lines)  # none of ours
    frames = [s for s in lines[1:] if s.lstrip().startswith("File ")]
    assert all(s.lstrip().startswith('File "bad_model.py"') for s in frames), lines
    if case in ("model raises", "shape", "loss"):  # their own line, under their frame
        assert lines[1] == "Traceback (your code, most recent call last):"
        assert lines[-1].strip() == marker
    assert path.exists()


def test_a_model_file_trains_to_a_figure(here, capsys):
    write(here, GOOD, "quadrants.py")
    result = json_of(capsys, "train", "quadrants.py", "--seed", "1")
    assert result["scenario"] == "quadrants" and result["model_file"].endswith("quadrants.py")
    assert result["epochs"] == 30 and result["steps"] == 30 * 10  # 320 training rows / 32
    assert result["metrics"]["val_accuracy"] >= 0.9
    assert result["final_loss"] < 0.3


def test_the_same_flags_as_a_scenario_apply(here, capsys):
    write(here, GOOD, "quadrants.py")
    result = json_of(
        capsys, "train", "quadrants.py", "--steps", "5", "--optimizer", "sgd", "--lr", "0.1",
        "--batch-size", "8", "--loss", "cross_entropy",
    )  # fmt: skip
    assert result["steps"] == 5 and result["epochs"] == 0
    lines = failure(capsys, "train", "quadrants.py", "--loss", "mse")
    assert "the loss 'mse' does not fit" in lines[0]
    lines = failure(capsys, "train", "quadrants.py", "--data", str(here))
    assert "--data is for the built-in scenarios" in lines[0]


def test_save_then_weights_starts_from_the_trained_model(here, capsys):
    write(here, GOOD, "quadrants.py")
    out = json_of(capsys, "train", "quadrants.py", "--steps", "20", "--save", "w.pt")
    assert out["saved"] == "w.pt"
    saved = torch.load("w.pt", weights_only=True)
    for name, value in out["params"].items():  # what was written is what was trained
        np.testing.assert_array_equal(saved[name].double().numpy(), np.asarray(value))
    graph = json_of(capsys, "graph", "quadrants.py", "--weights", "w.pt")
    leaves = {n["name"]: n["value"] for n in graph["nodes"] if n["kind"] == "leaf" and n["name"]}
    np.testing.assert_allclose(
        np.asarray(leaves["2.weight"]), saved["2.weight"].numpy(), rtol=0, atol=0
    )
    again = json_of(capsys, "train", "quadrants.py", "--steps", "1", "--weights", "w.pt")
    assert again["metrics"]["val_accuracy"] >= out["metrics"]["val_accuracy"] - 0.05


def test_torchscript_export_reloads_to_the_same_outputs(here, capsys):
    write(here, GOOD, "quadrants.py")
    out = json_of(
        capsys, "train", "quadrants.py", "--steps", "10", "--save", "w.pt",
        "--torchscript", "m.ts",
    )  # fmt: skip
    assert out["torchscript"] == "m.ts" and out["torchscript_max_diff"] <= 1e-6
    from torch import nn

    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    model.load_state_dict(torch.load("w.pt", weights_only=True))
    x = torch.randn(7, 2)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load("m.ts")(x), model(x))


def test_weights_that_would_run_code_or_are_torchscript_are_refused(here, capsys):
    write(here, GOOD, "quadrants.py")
    from torch import nn

    torch.save(nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)), "whole.pt")
    lines = failure(capsys, "train", "quadrants.py", "--weights", "whole.pt")
    assert "would run code" in lines[0] and "model.state_dict()" in lines[0]
    assert len(lines) == 1
    json_of(capsys, "train", "quadrants.py", "--steps", "1", "--torchscript", "m.ts")
    lines = failure(capsys, "graph", "quadrants.py", "--weights", "m.ts")
    assert "TorchScript" in lines[0] and "state_dict" in lines[0]


def test_example_input_alone_gives_a_graph_but_no_training(here, capsys):
    write(
        here,
        """
        import torch
        from torch import nn

        def model():
            return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten())

        def example_input():
            return torch.randn(2, 1, 5, 5)
        """,
        "conv.py",
    )
    graph = json_of(capsys, "graph", "conv.py")
    assert any(n["op"].startswith("Convolution") for n in graph["nodes"])
    lines = failure(capsys, "train", "conv.py")
    assert lines[0].startswith("nnviz: error: conv.py: defines no data()")


def test_a_module_spec_names_the_function(here, capsys, monkeypatch):
    pkg = here / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(GOOD.replace("def model():", "def make_net():"))
    monkeypatch.syspath_prepend(str(here))
    result = json_of(capsys, "train", "mypkg.nets:make_net", "--steps", "3")
    assert result["steps"] == 3 and result["scenario"] == "mypkg.nets.make_net"


def test_render_draws_a_model_file(here, capsys):
    write(here, GOOD, "quadrants.py")
    assert main(["render", "quadrants.py", "--view", "network", "--out", "n.png",
                 "--steps", "3", "--size", "400x300"]) == 0  # fmt: skip
    assert (here / "n.png").stat().st_size > 1000
