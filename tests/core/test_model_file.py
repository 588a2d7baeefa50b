"""A user's own model file: every data() form, the engine on any module, and one
clear answer (file, line, their own frames) for each kind of bad file."""

from __future__ import annotations

import pickle
import textwrap

import numpy as np
import pytest
import torch

from nnviz.core import model_data
from nnviz.core import run as R
from nnviz.core.errors import NnvizError
from nnviz.core.model_file import FileScenario, is_model_file, load_model_file
from nnviz.core.run_process import _decode_command, _decode_event, _encode_command, _encode_event
from nnviz.core.scenarios import get_scenario
from nnviz.core.user_code import UserCodeError

HEAD = "import numpy as np\nimport torch\nfrom torch import nn\n"
XOR_DATA = """
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 2, generator=g) * 2 - 1
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
    return X, y
"""
MLP = """
def model():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
"""


def write(tmp_path, body: str, name: str = "my_model.py"):
    body = textwrap.dedent(body).lstrip("\n")
    doc = ""
    if body.startswith("'''"):  # the module docstring comes first
        end = body.index("'''", 3) + 3
        doc, body = body[:end] + "\n", body[end:]
    path = tmp_path / name
    path.write_text(doc + HEAD + body)
    return path


def line_of(path, text: str) -> int:
    """The 1-based line of the first line containing ``text``."""
    return next(i for i, s in enumerate(path.read_text().splitlines(), 1) if text in s)


def load_error(path) -> UserCodeError:
    with pytest.raises(UserCodeError) as info:
        load_model_file(str(path))
    return info.value


# --- recognising a model file ---------------------------------------------------------


def test_a_target_is_a_model_file_when_it_looks_like_one():
    assert is_model_file("my_model.py") and is_model_file("pkg.models:make_net")
    assert is_model_file("models/net") and not is_model_file("spiral")


# --- every data() form --------------------------------------------------------------------

FORMS = {
    "tensors": "return X, y",
    "numpy": "return X.numpy(), y.numpy()",
    "tensor dataset": "return torch.utils.data.TensorDataset(X, y)",
    "map-style dataset": "return Items(X, y)",
    "data loader": "return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), "
    "batch_size=7)",
    "iterable dataset": "return Stream(X, y)",
    "pair of pairs": "return (X[:150], y[:150]), (X[150:], y[150:])",
    "pair of datasets": "return Items(X[:150], y[:150]), Items(X[150:], y[150:])",
}
DATASETS = """
class Items(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = X, y
    def __len__(self):
        return len(self.X)
    def __getitem__(self, i):
        return self.X[i], int(self.y[i])

class Stream(torch.utils.data.IterableDataset):
    def __init__(self, X, y):
        self.X, self.y = X, y
    def __iter__(self):
        return iter(zip(self.X, self.y))
"""


@pytest.mark.parametrize("form", FORMS)
def test_every_data_form_gives_the_same_rows(tmp_path, form):
    body = MLP + DATASETS + XOR_DATA.replace("return X, y", FORMS[form])
    mf = load_model_file(str(write(tmp_path, body)))
    ds = mf.dataset
    g = torch.Generator().manual_seed(0)
    X = (torch.rand(200, 2, generator=g) * 2 - 1).numpy()
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert len(ds.x_train) + len(ds.x_val) == 200
    if "pair" in form:  # the validation part is the file's own
        np.testing.assert_array_equal(ds.x_val, X[150:])
        np.testing.assert_array_equal(ds.y_val, y[150:])
    # every row arrives once, with its own label
    got = np.concatenate([ds.x_train, ds.x_val])
    labels = np.concatenate([ds.y_train, ds.y_val])
    order = np.lexsort(got.T)
    np.testing.assert_array_equal(got[order], X[np.lexsort(X.T)])
    np.testing.assert_array_equal(labels[order], y[np.lexsort(X.T)])
    assert mf.scenario.loss == "cross_entropy" and mf.parts.task == "classify"


def test_without_a_validation_part_the_same_rows_are_held_out_every_time(tmp_path):
    path = write(tmp_path, MLP + XOR_DATA)
    a, b = load_model_file(str(path)).dataset, load_model_file(str(path)).dataset
    assert len(a.x_val) == 40  # 20 % of 200
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert "held out" in a.note


def test_data_over_the_memory_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(model_data, "MAX_DATA_BYTES", 1000)
    err = load_error(write(tmp_path, MLP + XOR_DATA))
    assert "GB" in str(err) and "subset" in str(err)


# --- the engine on any module ---------------------------------------------------------------

SEQUENCE = """
'''Reverse a digit string.

Token ids in, one class per position out.'''
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(10, 8), nn.Flatten(), nn.Linear(40, 50), nn.Unflatten(1, (5, 10)))

def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 10, (300, 5), generator=g)
    return X, X.flip(1)

def loss(out, y):
    return nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))

def optimizer(params):
    return torch.optim.Adam(params, lr=0.02)
"""


def test_token_ids_stay_integer_and_a_sequence_output_trains(tmp_path):
    mf = load_model_file(str(write(tmp_path, SEQUENCE, "reverse.py")))
    sc = mf.scenario
    assert (sc.id, sc.title) == ("reverse", "Reverse a digit string")
    assert sc.description == "Token ids in, one class per position out."
    assert (sc.loss, sc.optimizer, sc.lr) == ("custom", "custom", 0.02)
    t = mf.trainer()
    assert t.x_train.dtype == torch.long and t.layers == []  # not a Linear chain
    assert isinstance(t.optimizer, torch.optim.Adam)
    first = t.evaluate()
    for _ in range(150):
        t.step()
    ev = t.evaluate()
    # the oracle: argmax over the class dimension, position by position
    with torch.no_grad():
        out = t.model(t.x_val)
    acc = float((out.argmax(-1) == t.y_val).float().mean())
    assert ev.val_accuracy == pytest.approx(acc)
    assert ev.val_loss < first.val_loss / 2 and ev.val_accuracy > 0.9
    snap = t.step(snapshot=True).snapshot
    assert snap.input.dtype == np.int64 and snap.output.shape == (50,)


def test_a_regression_file_has_no_accuracy_and_a_linear_chain_keeps_its_neurons(tmp_path):
    body = """
    def model():
        return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))

    def data():
        g = torch.Generator().manual_seed(0)
        X = torch.randn(100, 3, generator=g)
        return X, X.sum(1, keepdim=True)
    """
    mf = load_model_file(str(write(tmp_path, body)))
    assert mf.parts.task == "regress" and mf.scenario.loss == "mse"
    t = mf.trainer()
    assert [layer.width for layer in t.layers] == [8, 1]
    t.step()
    ev = t.evaluate()
    assert ev.val_accuracy is None and ev.train_accuracy is None


def test_a_learning_rate_asked_for_replaces_the_files_optimizers(tmp_path):
    mf = load_model_file(str(write(tmp_path, SEQUENCE)))
    t = mf.trainer(mf.config(lr=0.5))
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.5]
    assert mf.trainer().optimizer.param_groups[0]["lr"] == 0.02


def test_the_same_seed_gives_the_same_start_and_reset_returns_to_it(tmp_path):
    mf = load_model_file(str(write(tmp_path, MLP + XOR_DATA)))
    a, b = mf.trainer(mf.config(seed=3)), mf.trainer(mf.config(seed=3))
    for (n, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=n)
    first = [a.step().loss for _ in range(5)]
    a.reset()
    assert [a.step().loss for _ in range(5)] == first


# --- bad files: one clear answer each ---------------------------------------------------------


def test_a_syntax_error_names_its_line(tmp_path):
    path = write(tmp_path, "def model()\n    return nn.Linear(2, 2)\n")
    err = load_error(path)
    assert str(err).startswith(f"{path}, line {line_of(path, 'def model()')}: SyntaxError")
    assert "def model()" in err.detail


def test_a_file_without_model_says_what_to_add(tmp_path):
    err = load_error(write(tmp_path, XOR_DATA))
    assert "defines no model()" in str(err) and "nn.Module" in str(err)


def test_model_raising_shows_only_the_users_frames(tmp_path):
    body = (
        textwrap.dedent("""
    def helper(n):
        return 1 / n

    def model():
        return helper(0)
    """)
        + XOR_DATA
    )
    path = write(tmp_path, body)
    err = load_error(path)
    assert str(err).startswith(f"{path}, line {line_of(path, 'return 1 / n')}: model() raised")
    assert "ZeroDivisionError" in str(err)
    frames = [ln for ln in err.detail.splitlines() if ln.lstrip().startswith("File")]
    assert len(frames) == 2 and all(str(path) in f for f in frames)
    assert "nnviz" not in err.detail.replace(str(tmp_path), "")


def test_model_returning_something_else_is_named(tmp_path):
    path = write(tmp_path, "def model():\n    return [nn.Linear(2, 2)]\n" + XOR_DATA)
    err = load_error(path)
    assert f"line {line_of(path, 'def model')}" in str(err) and "a list" in str(err)


def test_data_of_the_wrong_type_is_named(tmp_path):
    path = write(tmp_path, MLP + "def data():\n    return {'x': 1}\n")
    err = load_error(path)
    assert f"line {line_of(path, 'def data')}" in str(err)
    assert "data() returned a dict" in str(err) and "DataLoader" in str(err)


def test_a_shape_mismatch_points_at_the_users_forward(tmp_path):
    body = (
        textwrap.dedent("""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    def model():
        return Net()
    """)
        + XOR_DATA
    )
    path = write(tmp_path, body)
    err = load_error(path)
    assert str(err).startswith(f"{path}, line {line_of(path, 'return self.fc(x)')}:")
    assert "does not fit the data" in str(err) and "4×2" in str(err)
    assert "return self.fc(x)" in err.detail and "torch" not in err.detail.split("\n", 1)[1]


def test_a_shape_mismatch_in_a_sequential_points_at_model(tmp_path):
    path = write(tmp_path, "def model():\n    return nn.Sequential(nn.Linear(5, 2))\n" + XOR_DATA)
    err = load_error(path)
    assert f"line {line_of(path, 'def model')}" in str(err) and "mat1 and mat2" in str(err)


def test_a_loss_that_broadcasts_instead_of_fitting_is_refused(tmp_path):
    body = """
    def model():
        return nn.Linear(2, 1)

    def data():
        X = torch.randn(50, 2)
        return X, X.sum(1)

    loss = nn.MSELoss()
    """
    path = write(tmp_path, body)
    err = load_error(path)
    assert f"line {line_of(path, 'loss = ')}" in str(err)
    assert "does not fit the model's output (4, 1) and the targets (4,)" in str(err)


def test_a_loss_that_returns_no_single_number_is_refused(tmp_path):
    path = write(tmp_path, MLP + XOR_DATA + "\nloss = nn.CrossEntropyLoss(reduction='none')\n")
    err = load_error(path)
    assert "one number" in str(err) and f"line {line_of(path, 'loss =')}" in str(err)


@pytest.mark.parametrize("where", ["inputs", "targets"])
def test_nan_in_the_data_is_named_with_its_row(tmp_path, where):
    body = """
    def model():
        return nn.Linear(2, 1)

    def data():
        X = torch.randn(50, 2)
        y = X.sum(1, keepdim=True)
        {}[7, 0] = float("nan")
        return X, y
    """.format("X" if where == "inputs" else "y")
    path = write(tmp_path, body)
    err = load_error(path)
    assert f"line {line_of(path, 'def data')}" in str(err)
    assert "NaN or infinite" in str(err) and where in str(err) and "row" in str(err)


def test_an_optimizer_that_is_not_one_is_refused(tmp_path):
    path = write(tmp_path, MLP + XOR_DATA + "\ndef optimizer(params):\n    return 0.1\n")
    err = load_error(path)
    assert f"line {line_of(path, 'def optimizer')}" in str(err) and "torch optimizer" in str(err)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(NnvizError, match="does not exist"):
        load_model_file(str(tmp_path / "nope.py"))


# --- the run loop ---------------------------------------------------------------------------------


def drive(run) -> list:
    return list(run.run_until_idle())


def test_the_run_keeps_its_model_when_a_bad_file_is_configured(tmp_path):
    good = write(tmp_path, MLP + XOR_DATA, "good.py")
    bad = write(tmp_path, "def model():\n    raise ValueError('no')\n" + XOR_DATA, "bad.py")
    run = R.Run()
    run.submit(R.Configure(None, model_file=str(good), overrides=(("seed", 2),)))
    built = [e for e in drive(run) if isinstance(e, R.Built)]
    assert built[0].info.scenario.id == "good" and built[0].info.config.seed == 2
    kept = run.trainer
    run.submit(R.Step(3))
    drive(run)
    run.submit(R.Configure(None, model_file=str(bad)))
    events = drive(run)
    rejected = [e for e in events if isinstance(e, R.Rejected)]
    assert rejected and rejected[0].message.startswith(f"{bad}, line ")
    assert "ValueError: no" in rejected[0].message and 'File "' in rejected[0].message
    assert run.trainer is kept and kept.step_count == 3
    assert not any(isinstance(e, R.Built) for e in events)


def test_a_settings_change_keeps_the_loaded_file_and_its_data(tmp_path):
    path = write(tmp_path, MLP + XOR_DATA)
    run = R.Run()
    run.submit(R.Configure(None, model_file=str(path)))
    info = next(e for e in drive(run) if isinstance(e, R.Built)).info
    loaded, data = run._loaded, run.trainer.dataset
    run.submit(R.Configure(info.scenario, R.TrainConfig.for_scenario(info.scenario, lr=0.05)))
    assert any(isinstance(e, R.Built) for e in drive(run))
    assert run._loaded is loaded and run.trainer.dataset is data
    assert run.trainer.config.lr == 0.05


def test_a_configure_for_a_file_crosses_to_the_training_process_as_its_spec(tmp_path):
    mf = load_model_file(str(write(tmp_path, MLP + XOR_DATA)))
    msg = pickle.loads(pickle.dumps(_encode_command(R.Configure(None, model_file=mf))))
    assert _decode_command(msg).model_file == mf.spec
    cmd = _decode_command(pickle.loads(pickle.dumps(_encode_command(R.Configure(mf.scenario)))))
    assert isinstance(cmd.scenario, FileScenario) and cmd.scenario == mf.scenario
    spiral = _decode_command(
        pickle.loads(pickle.dumps(_encode_command(R.Configure(get_scenario("spiral")))))
    )
    assert spiral.scenario is get_scenario("spiral")
    info = R.model_info(mf.trainer())
    ev = _decode_event(pickle.loads(pickle.dumps(_encode_event(R.Built(info)))))
    assert ev.info.scenario == mf.scenario
