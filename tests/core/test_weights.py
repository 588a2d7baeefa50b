"""Weights in (a state_dict only, never code) and out (atomic; TorchScript checked)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz.core.engine import TrainConfig
from nnviz.core.errors import NnvizError
from nnviz.core.scenarios import get_scenario
from nnviz.core.weights import (
    apply_weights,
    export_torchscript,
    load_weights,
    model_with_weights,
    save_state_dict,
)


class Pickled(nn.Module):  # a class of ours: a whole pickled model would name it
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x).tanh()


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_a_saved_state_dict_loads_back_exactly(tmp_path):
    a, b = net(), nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    a(torch.randn(8, 3))  # moves the BatchNorm statistics: buffers travel too
    path = save_state_dict(a, tmp_path / "w.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]  # no temporary left behind
    apply_weights(b, load_weights(path))
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)


def test_a_checkpoint_wrapping_a_state_dict_is_unwrapped(tmp_path):
    a = net()
    torch.save({"epoch": 3, "model_state_dict": a.state_dict()}, tmp_path / "ckpt.pt")
    assert load_weights(tmp_path / "ckpt.pt").keys() == a.state_dict().keys()


def test_a_whole_pickled_model_is_refused_with_what_to_do(tmp_path):
    torch.save(Pickled(), tmp_path / "model.pt")
    with pytest.raises(NnvizError) as info:
        load_weights(tmp_path / "model.pt")
    msg = str(info.value)
    assert "would run code" in msg and "torch.save(model.state_dict(), FILE)" in msg


def test_a_torchscript_archive_is_refused_as_weights(tmp_path):
    torch.jit.save(torch.jit.trace(Pickled(), torch.randn(2, 3)), str(tmp_path / "m.ts"))
    with pytest.raises(NnvizError, match="TorchScript archive.*state_dict"):
        load_weights(tmp_path / "m.ts")


@pytest.mark.parametrize(
    "content, expected",
    [(b"not a torch file at all", "not a torch weights file"), (None, "does not exist")],
)
def test_other_files_are_refused_in_one_line(tmp_path, content, expected):
    path = tmp_path / "w.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(NnvizError, match=expected):
        load_weights(path)


def test_a_tensor_or_list_is_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(NnvizError, match="not a state_dict"):
        load_weights(tmp_path / "list.pt")


def test_weights_of_another_model_say_what_differs(tmp_path):
    save_state_dict(nn.Linear(3, 5), tmp_path / "w.pt")
    with pytest.raises(NnvizError) as info:
        apply_weights(nn.Linear(3, 2), load_weights(tmp_path / "w.pt"), "w.pt")
    assert "weight (5, 3) (the model's is (2, 3))" in str(info.value)


def test_a_scenario_starts_from_weights_given_for_its_network(tmp_path):
    sc = get_scenario("xor")
    config = TrainConfig.for_scenario(sc, hidden=(3,))
    torch.manual_seed(5)
    other = sc.build_model(sc.spec.with_hidden((3,), None))
    save_state_dict(other, tmp_path / "w.pt")
    model = model_with_weights(sc, config, tmp_path / "w.pt")
    for (k, v), (_, w) in zip(other.state_dict().items(), model.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)


def test_a_torchscript_export_gives_the_models_outputs(tmp_path):
    model = net()
    model(torch.randn(8, 3))
    batch = torch.randn(6, 3)
    diff = export_torchscript(model, batch, tmp_path / "m.ts")
    assert model.training  # handed back as it was
    model.eval()
    loaded = torch.jit.load(str(tmp_path / "m.ts"))
    other = torch.randn(5, 3)  # the oracle: torch itself, on rows the trace never saw
    with torch.no_grad():
        torch.testing.assert_close(loaded(other), model(other))
    assert diff <= 1e-6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ts"]


def test_an_export_that_reloads_differently_is_not_written(tmp_path, monkeypatch):
    model = net()
    real_load = torch.jit.load

    def corrupted(path, **kw):  # as if the archive gave other numbers back
        loaded = real_load(path, **kw)
        return lambda x: loaded(x) + 1e-3

    monkeypatch.setattr(torch.jit, "load", corrupted)
    with pytest.raises(NnvizError, match="differs from the model by up to 0.001"):
        export_torchscript(model, torch.randn(4, 3), tmp_path / "m.ts")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left
